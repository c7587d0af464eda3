"""The scheduled side of the mirror (``app.redrive_handler``, every minute): brings set-aside
records back once Airtable takes them again, so an outage or a schema fix needs no hand work.

Each run, unless Airtable asked for quiet (a 429's 30 s, or an outage's minute):

1. **Drifted tables.** For each, the oldest parked record (lowest version) is written
   as a probe: one request per table per run. Accepted: the drift mark goes and every
   parked record of the table is sent back to the outbox queue in version order. Refused
   again: it stays parked (``probed_at`` moves). Airtable down: the run stops.
2. **Held records** (an outage, a 429 storm, a busy key): one small read; if Airtable
   answers, they go back to the outbox queue in version order.
3. **The DLQ** (records that failed 5 receives: a DynamoDB failure, a wrong token): once
   Airtable answered in this run, they are moved back to the outbox queue. Unreadable
   bodies stay in the DLQ for a person (they would fail again forever).

The consumers (at most 2, 2.5 requests/s each) do the writing; this run spends at most
one request per drifted table plus one read. Watermarks make the order in which the queue
delivers the released records irrelevant: an older value never wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from masking.core.observability import count, logger
from masking.mirror.outbox import MirrorRecord

from .state import MirrorState, SetAside
from .writer import AirtableMirror, _Stop

SQS_BATCH = 10
MAX_DLQ_MESSAGES_PER_RUN = 2_000


@dataclass
class RedriveReport:
    quiet: bool = False
    probed: dict[str, str] = field(default_factory=dict)  # table kind -> fixed | drifted | down
    released_parked: int = 0
    released_held: int = 0
    dlq_moved: int = 0
    airtable_answered: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


Send = Callable[[list[str]], None]  # puts bodies on the outbox queue (raises on failure)


def run_redrive(
    mirror: AirtableMirror,
    state: MirrorState,
    send: Send,
    deadline: float,
    dlq: DeadLetters | None = None,
) -> RedriveReport:
    report = RedriveReport()
    control = state.control()
    now = mirror.clock.now()
    if control.quiet_until > now:
        report.quiet = True
        return report
    down = False
    for kind, drift in sorted((control.drifts or {}).items()):
        parked = state.parked(kind)
        if not parked:
            state.clear_drift(kind)
            continue
        result = _probe(mirror, state, kind, parked, deadline)
        report.probed[kind] = result
        if result == "down":
            down = True
            break
        report.airtable_answered = True
        if result == "fixed":
            state.clear_drift(kind)
            logger.info("Airtable table fixed: parked records go back to the queue", extra={"table": drift.table, "records": len(parked)})
            report.released_parked += _release(parked, send, partial(state.unpark, kind))
        else:
            state.touch_drift(kind, mirror.clock.now())
    held = state.held()
    if held and not down:
        try:
            mirror.ping(deadline)
            report.airtable_answered = True
        except _Stop as stop:
            logger.info("Airtable still not answering; held records stay", extra={"reason": stop.reason})
            down = True
        if not down:
            state.end_quiet()
            report.released_held += _release(held, send, state.unhold)
    if dlq is not None and not down:
        if not report.airtable_answered and dlq.waiting():
            try:
                mirror.ping(deadline)
                report.airtable_answered = True
            except _Stop:
                down = True
        if report.airtable_answered:
            report.dlq_moved = dlq.move_back(send, mirror.clock, deadline)
    count("AirtableRedriveParked", report.released_parked)
    count("AirtableRedriveHeld", report.released_held)
    count("AirtableRedriveDlq", report.dlq_moved)
    return report


def _probe(mirror: AirtableMirror, state: MirrorState, kind: str, parked: list[SetAside], deadline: float) -> str:
    """Writes parked records oldest first until one is actually sent (a record whose
    fields are all older than the watermarks is dropped: Airtable has newer values)."""
    for item in parked:
        message_id = item.sort_key.split("#", 1)[-1]
        outcome = mirror.write([(message_id, item.body)], deadline, probing=frozenset({kind}))
        if outcome.held or outcome.failures:
            return "down"
        if outcome.parked:
            return "drifted"
        if outcome.requests == 0:  # nothing newer in it: not a probe, and not needed
            state.unpark(kind, item.sort_key)
            parked.remove(item)
            continue
        state.unpark(kind, item.sort_key)
        parked.remove(item)
        return "fixed"
    return "fixed"


def _release(items: list[SetAside], send: Send, delete: Callable[[str], None]) -> int:
    """Sends set-aside bodies to the outbox queue in version order, deleting each item
    after its batch was accepted (a crash in between sends a duplicate, never loses)."""
    released = 0
    for start in range(0, len(items), SQS_BATCH):
        chunk = items[start : start + SQS_BATCH]
        send([item.body for item in chunk])
        for item in chunk:
            delete(item.sort_key)
        released += len(chunk)
    return released


class DeadLetters:
    """The outbox DLQ through the SQS API (ReceiveMessage, DeleteMessage)."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self.client = client

    def waiting(self) -> bool:
        attributes = self.client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes.get("Attributes", {}).get("ApproximateNumberOfMessages", "0")) > 0

    def move_back(self, send: Send, clock: Any, deadline: float) -> int:
        moved = 0
        while moved < MAX_DLQ_MESSAGES_PER_RUN and clock.now() < deadline:
            messages = self.client.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=SQS_BATCH, VisibilityTimeout=60).get(
                "Messages", []
            )
            if not messages:
                break
            readable = [m for m in messages if _readable(m.get("Body", ""))]
            if readable:
                send([m["Body"] for m in readable])
            for message in readable:
                self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            moved += len(readable)
            if len(readable) < len(messages):
                logger.error("unreadable mirror records stay in the DLQ", extra={"count": len(messages) - len(readable)})
        return moved


def _readable(body: str) -> bool:
    try:
        record = MirrorRecord.from_json(body)
    except (ValueError, TypeError):
        return False
    return isinstance(record.fields, dict) and bool(record.key)


def sqs_sender(queue_url: str, client: Any = None) -> Send:
    if client is None:
        import boto3

        client = boto3.client("sqs")

    def send(bodies: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        for _ in range(3):
            failed = client.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed") or []
            if not failed:
                return
            retry = {f["Id"] for f in failed}
            entries = [entry for entry in entries if entry["Id"] in retry]
        raise RuntimeError(f"outbox: {len(entries)} records could not be queued")

    return send
