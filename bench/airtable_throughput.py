"""(e) Airtable mirror throughput: 5,000 mixed outbox records through airtable_sync.

The real sync code (``airtable_mirror.handler.handle_sqs_batch``: BatchProcessor, merge,
link resolution, limiter, retries) writes to the in-memory Airtable stand-in, which
enforces Airtable's limits (5 requests per second per base, else 429 and a 30 s lockout;
10 records per request) and answers each request after a simulated 150 ms.

Time is simulated (``VirtualClock``): every wait (limiter, 30 s pause, backoff, latency,
SQS visibility timeout) moves the clock, nothing sleeps, so the figures are the seconds
the deployed function would take, not this machine's CPU time. The queue is simulated
as the event source mapping would drive it: batches of 100, one invocation at a time
(reserved concurrency 1), 120 s per invocation, failed records visible again after the
180 s visibility timeout, in the DLQ after 5 receives (redriven if any are there).

Phase 1 drains a backlog of 5,000 records. Phase 2 queues 1,000 more while the stand-in
answers 503 for 90 s then times out for 60 s, and drains until the queue is empty.
Lost = a key with no row; duplicated = a key with more than one row.

records_per_second counts outbox records; rows_per_second counts rows sent to Airtable,
which is what Airtable's ceiling (5 requests x 10 rows = 50 per second) bounds. Records
for one key in one batch (a message and its delivery callback, a client's Last Active)
become one row, so records per second can exceed 50 while rows per second cannot.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

from bench import Target, ensure_paths, print_figures, quiet_logs

RECORDS = 5_000
OUTAGE_RECORDS = 1_000
BATCH_SIZE = 100
LAMBDA_TIMEOUT = 120.0
VISIBILITY_TIMEOUT = 180.0
MAX_RECEIVE_COUNT = 5
LATENCY = 0.15
OUTAGE_5XX_SECONDS = 90.0
OUTAGE_TIMEOUT_SECONDS = 60.0
BASE = "appBENCHMARK00000"
TOKEN = "bench-token"
SEED = 20261121

TARGETS: dict[str, Target] = {
    "records": None,
    "rows": None,
    "simulated_seconds": None,
    "records_per_second": (">=", 45),
    "rows_per_second": ("<=", 50),
    "requests_per_second": ("<=", 5),
    "rows_per_request": None,
    "max_records_per_request": ("<=", 10),
    "responses_429": ("==", 0),
    "rows_lost": ("==", 0),
    "rows_duplicated": ("==", 0),
    "outage_records": None,
    "outage_failed_deliveries": None,
    "outage_recovery_seconds": None,
    "outage_dlq_redriven": None,
    "outage_rows_lost": ("==", 0),
    "outage_rows_duplicated": ("==", 0),
    "wall_seconds": None,
}
SUMMARY = ["records_per_second", "rows_per_second", "rows_lost", "rows_duplicated", "outage_rows_lost", "outage_rows_duplicated"]


@dataclass
class Message:
    message_id: str
    body: str
    visible_at: float = 0.0
    receives: int = 0


class SimulatedQueue:
    """SQS as seen by one event source mapping with ReportBatchItemFailures."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.messages: list[Message] = []
        self.dlq: list[Message] = []
        self.failed_deliveries = 0
        self.invocations = 0

    def send(self, bodies: list[str], prefix: str) -> None:
        now = self.clock.now()
        self.messages += [Message(f"{prefix}-{i}", body, visible_at=now) for i, body in enumerate(bodies)]

    def drain(self, invoke: Any) -> None:
        while self.messages:
            now = self.clock.now()
            visible = [m for m in self.messages if m.visible_at <= now][:BATCH_SIZE]
            if not visible:
                self.clock.sleep(min(m.visible_at for m in self.messages) - now)
                continue
            for message in visible:
                message.receives += 1
            self.invocations += 1
            failed = invoke([(m.message_id, m.body) for m in visible])
            done = {m.message_id for m in visible if m.message_id not in failed}
            self.failed_deliveries += len(failed)
            later = self.clock.now() + VISIBILITY_TIMEOUT
            kept = []
            for message in self.messages:
                if message.message_id in done:
                    continue
                if message.message_id in failed:
                    if message.receives >= MAX_RECEIVE_COUNT:
                        self.dlq.append(message)
                        continue
                    message.visible_at = later
                kept.append(message)
            self.messages = kept

    def redrive(self) -> int:
        """``aws sqs start-message-move-task``: the DLQ back onto the queue."""
        moved, self.dlq = self.dlq, []
        now = self.clock.now()
        for message in moved:
            message.receives, message.visible_at = 0, now
        self.messages += moved
        return len(moved)


def workload(count: int, rng: random.Random, prefix: str) -> list[Any]:
    """Mixed records in the proportions the webhooks produce them."""
    from masking.core.models import Lifecycle, NumberRecord, Provider
    from masking.mirror import rows
    from masking.mirror.outbox import MirrorRecord
    from masking.mirror.rows import audit_record

    providers = [f"{prefix}prov-{p}" for p in range(34)]
    clients = [f"{prefix}cl-{c}" for c in range(400)]
    records: list[Any] = []
    second = 0

    def stamp() -> str:
        return f"2026-11-{1 + second // 86_400:02d}T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"

    for p, provider_id in enumerate(providers):
        provider = Provider(provider_id, f"Provider {p}", f"+1303555{1000 + p}", reserved_number=f"+1720556{1000 + p}")
        records.append(rows.provider_row(provider, stamp()))
        number = NumberRecord(f"+1720556{1000 + p}", Lifecycle.RESERVED, provider_id=provider_id, purpose="Sitter Assignment")
        records.append(rows.number_row(number, stamp()))
    sid = 0
    pending_status: list[tuple[int, str]] = []
    while len(records) < count:
        second += rng.randint(1, 20)
        sid += 1
        message_sid = f"SM{prefix}{sid:030d}"
        provider_id, client_id = rng.choice(providers), rng.choice(clients)
        fields = {
            "From": f"+1303{rng.randint(2_000_000, 9_999_999)}",
            "To": f"+1303{rng.randint(2_000_000, 9_999_999)}",
            "Body": "benchmark text " * rng.randint(1, 8),
            "Sender Type": rng.choice(["client", "sitter"]),
            "Proxy Number": "+17205550100",
            "Timestamp": stamp(),
            "Sitter": provider_id,
            "Client": client_id,
            "Session SID": f"LS{client_id}",
            "Status": "sent",
            "Twilio Status": "queued",
            "Message SID": message_sid,
            "Forwarded SIDs": [f"SMout{sid}"],
            "Media URLs": [],
        }
        records.append(MirrorRecord("message", message_sid, fields, stamp()))
        records.append(MirrorRecord("client", client_id, {"Last Active": stamp(), "Linked Sitter": provider_id}, stamp()))
        if rng.random() < 0.6:  # the delivery callback, a little later in the queue
            pending_status.append((len(records) + rng.randint(2, 40), message_sid))
        if rng.random() < 0.08:
            records.append(
                audit_record("Message forwarded", "bench", category="Messaging", severity="Info", at=stamp(), key=f"{message_sid}:audit")
            )
        if rng.random() < 0.03:
            call = {"Call SID": f"CA{prefix}{sid}", "Sitter": provider_id, "Client": client_id, "Status": "completed", "Duration": 30}
            records.append(MirrorRecord(cast(Any, "call"), f"CA{prefix}{sid}", call, stamp()))  # outbox.RecordKind lacks "call" yet
        while pending_status and pending_status[0][0] <= len(records) and len(records) < count:
            _, status_sid = pending_status.pop(0)
            second += 1
            records.append(MirrorRecord("message", status_sid, {"Twilio Status": "delivered", "Status": "delivered"}, stamp()))
    return records[:count]


def expected_keys(records: list[Any]) -> set[tuple[str, str]]:
    return {(record.kind, record.key) for record in records}


def audit_rows(standin: Any, keys: set[tuple[str, str]]) -> tuple[int, int]:
    """(lost, duplicated) for the keys, from the stand-in's rows."""
    from functions.airtable_sync.airtable_mirror.tables import BY_KIND, table_names

    names = table_names({})
    found: Counter[tuple[str, str]] = Counter()
    for kind, spec in BY_KIND.items():
        for row in standin.rows(names[kind], BASE):
            key = row["fields"].get(spec.key_field)
            if key is not None:
                found[(kind, str(key))] += 1
    lost = sum(1 for key in keys if found[key] == 0)
    duplicated = sum(1 for key in keys if found[key] > 1)
    return lost, duplicated


def main() -> dict[str, Any]:
    ensure_paths()
    import time

    quiet_logs()
    logging.getLogger("masking").setLevel(logging.ERROR)  # the outage phase warns on every retry
    from functions.airtable_sync.airtable_mirror.client import build_api
    from functions.airtable_sync.airtable_mirror.handler import handle_sqs_batch
    from functions.airtable_sync.airtable_mirror.limiter import RateLimiter
    from functions.airtable_sync.airtable_mirror.writer import AirtableMirror
    from local.airtable_standin import DEFAULT_URL, AirtableStandin, VirtualClock, apply_mirror_schema
    from masking.core.observability import metrics

    started = time.perf_counter()
    rng = random.Random(SEED)
    clock = VirtualClock()
    standin = AirtableStandin(token=TOKEN, clock=clock, latency=LATENCY)
    apply_mirror_schema(standin, BASE)
    api = build_api(TOKEN, DEFAULT_URL)
    standin.mount(api.session)
    mirror = AirtableMirror(api, BASE, names=None, clock=clock, limiter=RateLimiter(clock=clock))

    class Context:
        def __init__(self) -> None:
            self.ends = clock.now() + LAMBDA_TIMEOUT

        def get_remaining_time_in_millis(self) -> int:
            return int(max(0.0, self.ends - clock.now()) * 1000)

    def invoke(messages: list[tuple[str, str]]) -> set[str]:
        event = {"Records": [{"messageId": mid, "body": body, "receiptHandle": mid, "eventSource": "aws:sqs"} for mid, body in messages]}
        response = handle_sqs_batch(event, Context(), mirror=mirror)
        metrics.clear_metrics()  # what @metrics.log_metrics flushes after each invocation in Lambda
        return {item["itemIdentifier"] for item in response["batchItemFailures"]}

    # ---- phase 1: a backlog of 5,000 records
    records = workload(RECORDS, rng, "a")
    queue = SimulatedQueue(clock)
    queue.send([r.to_json() for r in records], "a")
    clock.sleep(60)  # let the schema set-up requests leave the rate window
    standin.requests.clear()
    t0 = clock.now()
    queue.drain(invoke)
    elapsed = clock.now() - t0
    writes = [r for r in standin.requests if r.method in ("PATCH", "POST", "PUT")]
    rows_written = sum(r.records for r in writes if r.status == 200)
    lost, duplicated = audit_rows(standin, expected_keys(records))
    figures: dict[str, Any] = {
        "records": len(records),
        "rows": len(expected_keys(records)),
        "simulated_seconds": elapsed,
        "records_per_second": len(records) / elapsed,
        "rows_per_second": rows_written / elapsed,
        "requests_per_second": len(standin.requests) / elapsed,
        "rows_per_request": rows_written / len(writes),
        "max_records_per_request": max(r.records for r in writes),
        "responses_429": sum(1 for r in standin.requests if r.status == 429),
        "rows_lost": lost,
        "rows_duplicated": duplicated,
    }

    # ---- phase 2: an outage (503 for 90 s, then timeouts for 60 s) and the recovery
    outage_records = workload(OUTAGE_RECORDS, rng, "b")
    queue = SimulatedQueue(clock)
    queue.send([r.to_json() for r in outage_records], "b")
    now = clock.now()
    standin.outage("5xx", OUTAGE_5XX_SECONDS, start=now)
    standin.outage("timeout", OUTAGE_TIMEOUT_SECONDS, start=now + OUTAGE_5XX_SECONDS)
    outage_ends = now + OUTAGE_5XX_SECONDS + OUTAGE_TIMEOUT_SECONDS
    queue.drain(invoke)
    redriven = 0
    while queue.dlq:
        redriven += queue.redrive()
        queue.drain(invoke)
    lost, duplicated = audit_rows(standin, expected_keys(outage_records) | expected_keys(records))
    figures.update(
        {
            "outage_records": len(outage_records),
            "outage_failed_deliveries": queue.failed_deliveries,
            "outage_recovery_seconds": max(0.0, clock.now() - outage_ends),
            "outage_dlq_redriven": redriven,
            "outage_rows_lost": lost,
            "outage_rows_duplicated": duplicated,
            "wall_seconds": time.perf_counter() - started,
        }
    )
    print_figures("e airtable throughput (simulated time, 150 ms per request)", figures, TARGETS)
    return figures


if __name__ == "__main__":
    main()
