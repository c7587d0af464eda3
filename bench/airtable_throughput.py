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

Phase 3 (simulated, 10 minutes): Messages.Body renamed in the base while the outbox keeps
flowing and the scheduled redrive runs every minute: requests spent on the drifted table
per minute (target <= 2), then the fix and the replay (parked records lost: target 0).

Phase 4 runs over real HTTP with a real clock (about 40 s): the stand-in served on a
loopback port enforcing 5 requests/s in real time, two consumer threads at 2.5
requests/s each sharing the mirror state (the template's MaximumConcurrency 2):
records/s and requests per record; an older batch redelivered after a newer one (stale
fields in the base: target 0); and the healthy tables' records/s while Messages is
drifted, against the same workload with no drift (target >= 90 %).

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

# Nothing lost, duplicated, refused (429) or left stale: each of these must be 0.
NOTHING_LOST = (
    "responses_429",
    "rows_lost",
    "rows_duplicated",
    "outage_rows_lost",
    "outage_rows_duplicated",
    "outage_dlq_messages",
    "drift_parked_rows_lost",
    "http_stale_fields_after_redelivery",
)
TARGETS: dict[str, Target] = {
    "records": None,
    "rows": None,
    "simulated_seconds": None,
    "records_per_second": (">=", 45),
    "rows_per_second": ("<=", 50),
    "requests_per_second": ("<=", 5),
    "rows_per_request": None,
    "max_records_per_request": ("<=", 10),
    "outage_records": None,
    "outage_failed_deliveries": None,
    "outage_recovery_seconds": None,
    "outage_dlq_redriven": None,
    "drift_minutes": None,
    "drifted_table_requests_per_minute": ("<=", 2),
    "http_records": None,
    "http_records_per_second": None,
    "http_requests_per_record": None,
    "http_max_requests_in_a_second": ("<=", 5),
    "http_healthy_records_per_second_normal": None,
    "http_healthy_records_per_second_drift": None,
    "http_healthy_throughput_during_drift_pct": (">=", 90),
    "http_seconds": None,
    "wall_seconds": None,
    **dict.fromkeys(NOTHING_LOST, ("==", 0)),
}

SUMMARY = [
    "records_per_second",
    "rows_lost",
    "outage_rows_lost",
    "outage_dlq_messages",
    "drifted_table_requests_per_minute",
    "http_records_per_second",
    "http_stale_fields_after_redelivery",
    "http_healthy_throughput_during_drift_pct",
]
DRIFT_MINUTES = 10
HTTP_RECORDS = 600


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
        self.sent = 0

    def send(self, bodies: list[str], prefix: str) -> None:
        now = self.clock.now()
        start = self.sent
        self.sent += len(bodies)
        self.messages += [Message(f"{prefix}-{start + i}", body, visible_at=now) for i, body in enumerate(bodies)]

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
    logging.getLogger("masking").setLevel(logging.CRITICAL)  # the outage and drift phases warn on purpose
    from functions.airtable_sync.airtable_mirror import redrive as _redrive
    from functions.airtable_sync.airtable_mirror.client import build_api
    from functions.airtable_sync.airtable_mirror.handler import handle_sqs_batch
    from functions.airtable_sync.airtable_mirror.limiter import RateLimiter
    from functions.airtable_sync.airtable_mirror.state import MemoryMirrorState
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
    state = MemoryMirrorState()
    mirror = AirtableMirror(api, BASE, names=None, clock=clock, limiter=RateLimiter(clock=clock), state=state)

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

    def schedule_until_settled(queue: SimulatedQueue, prefix: str) -> int:
        """The event source mapping drains; the redrive runs every minute until nothing
        is queued, held or in the DLQ."""
        redriven = 0
        runs = 0
        while queue.messages or state.held() or queue.dlq or state.control().drifts:
            queue.drain(invoke)
            clock.sleep(60)
            runs += 1
            tag = f"{prefix}{runs}"
            _redrive.run_redrive(mirror, state, lambda bodies, tag=tag: queue.send(bodies, tag), clock.now() + 55)
            redriven += queue.redrive()  # the schedule also empties the DLQ (counted: target 0)
        return redriven

    # ---- phase 2: an outage (503 for 90 s, then timeouts for 60 s) and the recovery
    outage_records = workload(OUTAGE_RECORDS, rng, "b")
    queue = SimulatedQueue(clock)
    queue.send([r.to_json() for r in outage_records], "b")
    now = clock.now()
    standin.outage("5xx", OUTAGE_5XX_SECONDS, start=now)
    standin.outage("timeout", OUTAGE_TIMEOUT_SECONDS, start=now + OUTAGE_5XX_SECONDS)
    outage_ends = now + OUTAGE_5XX_SECONDS + OUTAGE_TIMEOUT_SECONDS
    redriven = schedule_until_settled(queue, "b-re")
    lost, duplicated = audit_rows(standin, expected_keys(outage_records) | expected_keys(records))
    figures.update(
        {
            "outage_records": len(outage_records),
            "outage_failed_deliveries": queue.failed_deliveries,
            "outage_recovery_seconds": max(0.0, clock.now() - outage_ends),
            "outage_dlq_redriven": redriven,
            "outage_rows_lost": lost,
            "outage_rows_duplicated": duplicated,
            "outage_dlq_messages": redriven,
        }
    )

    # ---- phase 3: Messages.Body renamed for 10 simulated minutes, then fixed
    drift_records = workload(1_000, rng, "c")
    standin.rename_field("Messages", "Body", "Message Body", BASE)
    queue = SimulatedQueue(clock)
    drift_start = clock.now()
    requests_before = len(standin.requests)
    per_minute = len(drift_records) // DRIFT_MINUTES
    for minute in range(DRIFT_MINUTES):
        queue.send([r.to_json() for r in drift_records[minute * per_minute : (minute + 1) * per_minute]], f"c{minute}")
        queue.drain(invoke)
        clock.sleep(max(0.0, drift_start + 60 * (minute + 1) - clock.now()))
        _redrive.run_redrive(mirror, state, lambda bodies: queue.send(bodies, "c-re"), clock.now() + 55)
    drift_minutes = (clock.now() - drift_start) / 60
    drifted_requests = sum(1 for r in standin.requests[requests_before:] if r.path.endswith("/Messages"))
    standin.rename_field("Messages", "Message Body", "Body", BASE)
    schedule_until_settled(queue, "c-fix")
    lost_after_fix, _ = audit_rows(standin, expected_keys(drift_records))
    figures.update(
        {
            "drift_minutes": drift_minutes,
            "drifted_table_requests_per_minute": drifted_requests / drift_minutes,
            "drift_parked_rows_lost": lost_after_fix,
        }
    )

    # ---- phase 4: over HTTP, real clock
    figures.update(http_phase(rng))
    figures["wall_seconds"] = time.perf_counter() - started
    print_figures("f airtable throughput (phases 1-3 simulated time, 150 ms per request; phase 4 real HTTP)", figures, TARGETS)
    return figures


def http_phase(rng: random.Random) -> dict[str, Any]:
    """The stand-in on a loopback port with a real clock; two consumers at 2.5/s each."""
    import threading
    import time

    from functions.airtable_sync.airtable_mirror import redrive as _redrive
    from functions.airtable_sync.airtable_mirror.client import build_api
    from functions.airtable_sync.airtable_mirror.limiter import RateLimiter
    from functions.airtable_sync.airtable_mirror.state import MemoryMirrorState
    from functions.airtable_sync.airtable_mirror.writer import AirtableMirror
    from local.airtable_standin import AirtableStandin, RealClock, apply_mirror_schema
    from masking.mirror.outbox import MirrorRecord

    standin = AirtableStandin(token=TOKEN, clock=RealClock())
    apply_mirror_schema(standin, BASE)
    server, _ = standin.serve("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    state = MemoryMirrorState()  # DynamoDB's items, shared by both consumers
    consumers = []
    for _ in range(2):
        api = build_api(TOKEN, url)
        consumers.append(AirtableMirror(api, BASE, limiter=RateLimiter(rate=2.5), state=state))
    time.sleep(1.1)  # the schema requests leave the rate window

    def run(batches: list[list[Any]], prefix: str) -> float:
        """Two consumers take batches of 100 off one queue until it is empty."""
        todo = list(enumerate(batches))
        lock = threading.Lock()
        begin = time.monotonic()

        def consume(mirror: AirtableMirror) -> None:
            while True:
                with lock:
                    if not todo:
                        return
                    number, batch = todo.pop(0)
                messages = [(f"{prefix}-{number}-{i}", r.to_json()) for i, r in enumerate(batch)]
                mirror.write(messages, deadline=time.time() + 115)

        threads = [threading.Thread(target=consume, args=(mirror,)) for mirror in consumers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if state.held():  # a key both consumers had at once: the schedule returns it
            sent: list[str] = []
            _redrive.run_redrive(consumers[0], state, sent.extend, time.time() + 30)
            run(batches_of([MirrorRecord.from_json(body) for body in sent]), f"{prefix}-re")
        return time.monotonic() - begin

    def batches_of(records: list[Any]) -> list[list[Any]]:
        return [records[i : i + 100] for i in range(0, len(records), 100)]

    figures: dict[str, Any] = {}
    http_started = time.monotonic()
    # normal path
    records = workload(HTTP_RECORDS, rng, "h")
    requests_before = len(standin.requests)
    seconds = run(batches_of(records), "h")
    requests = standin.requests[requests_before:]
    starts = sorted(r.at for r in requests)
    busiest = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
    figures.update(
        {
            "http_records": len(records),
            "http_records_per_second": len(records) / seconds,
            "http_requests_per_record": len(requests) / len(records),
            "http_max_requests_in_a_second": busiest,
        }
    )
    healthy_normal = _healthy(records) / seconds

    # an older batch redelivered after a newer one
    newest: dict[tuple[str, str, str], Any] = {}
    older = [r for r in records if r.kind in ("client", "message")][:120]
    newer: list[Any] = []
    for record in older:
        if record.kind == "client":
            fields = {"Linked Sitter": f"hprov-{rng.randint(0, 33)}"}
        else:
            fields = {"Status": "delivered", "Twilio Status": "delivered"}
        newer.append(MirrorRecord(record.kind, record.key, fields, record.at))
    for record in [*records, *newer]:  # the expected end state, per field: the highest version
        for name, value in record.fields.items():
            seen = newest.get((record.kind, record.key, name))
            if seen is None or record.version >= seen[0]:
                newest[(record.kind, record.key, name)] = (record.version, value)
    run(batches_of(newer), "hn")
    run(batches_of(older), "ho")  # the redelivery of the older records
    figures["http_stale_fields_after_redelivery"] = _stale(standin, newest)

    # the same workload shape with Messages drifted
    drift_records = workload(HTTP_RECORDS, rng, "d")
    standin.rename_field("Messages", "Body", "Message Body", BASE)
    seconds = run(batches_of(drift_records), "d")
    healthy_drift = _healthy(drift_records) / seconds
    standin.rename_field("Messages", "Message Body", "Body", BASE)
    server.shutdown()
    figures.update(
        {
            "http_healthy_records_per_second_normal": healthy_normal,
            "http_healthy_records_per_second_drift": healthy_drift,
            "http_healthy_throughput_during_drift_pct": 100 * healthy_drift / healthy_normal,
            "http_seconds": time.monotonic() - http_started,
        }
    )
    return figures


def _healthy(records: list[Any]) -> int:
    return sum(1 for record in records if record.kind != "message")


def _stale(standin: Any, newest: dict[tuple[str, str, str], Any]) -> int:
    """Fields of the base that hold an older value than the newest record's."""
    from functions.airtable_sync.airtable_mirror.tables import BY_KIND, table_names

    names = table_names({})
    sitters = {row["id"]: row["fields"].get("Provider ID") for row in standin.rows(names["provider"], BASE)}
    stale = 0
    for kind in ("client", "message"):
        spec = BY_KIND[kind]
        for row in standin.rows(names[kind], BASE):
            key = row["fields"].get(spec.key_field)
            for field_name in ("Linked Sitter", "Status", "Twilio Status"):
                expected = newest.get((kind, key, field_name))
                if expected is None:
                    continue
                value = row["fields"].get(field_name)
                if isinstance(value, list):
                    value = sitters.get(value[0]) if value else None
                if value != expected[1]:
                    stale += 1
    return stale


if __name__ == "__main__":
    main()
