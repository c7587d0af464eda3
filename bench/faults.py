"""(g) Nothing lost under faults: 1,000 inbound SMS through the webhook, in simulated time.

The real webhook handler (signature check included), ``SmsRouter``, the twilio library's
REST client on a ``SandboxHttpClient`` that fails 30 % of sends (two thirds HTTP 429 / 500
/ 503, one third a connection error, a read timeout, or accepted-then-timed-out), the
forward queue and its consumer (``masking.messaging.forwarding``) driven by a simulated
clock (15 s, 1 min, 5 min, 30 min, 2 h waits cost no wall time), and the outbox as
``SqsOutbox`` on a fake SQS whose SendMessageBatch fails 10 % of the time.

Traffic: 1,000 messages, one every 2 s, mixed directions (clients to reserved numbers,
providers to pool numbers of open leases), 10 % MMS, 5 % long bodies (2 or more parts).

Printed: delivered, given up (the sender told; only after 6 failed attempts), lost
(neither: target 0), duplicated parts (target 0), mirror rows lost (delivered messages
whose Messages row never reached the outbox queue: target 0), p50 / p99 time from
arrival to the last part reaching Twilio, in simulated seconds.

DynamoDB faults: ``main(dynamo_client_wrapper=...)`` with ``store="dynamo"`` runs on moto
and wraps the store's boto3 client (e.g. with a fault injector producing throttles,
TransactionConflict and applied-but-timed-out writes); without a wrapper no DynamoDB
fault is injected, and the figures say so.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench import Target, percentile, print_figures, quiet_logs

N_MESSAGES = 1_000
ARRIVAL_GAP_SECONDS = 2
TWILIO_FAULT_RATE = 0.30
# two thirds HTTP errors, one third a connection error, a read timeout or accepted-then-lost
TWILIO_FAULT_KINDS = ("429", "429", "500", "500", "503", "503", "connection", "read_timeout", "accepted_lost")
OUTBOX_FAULT_RATE = 0.10
MMS_SHARE = 0.10
LONG_SHARE = 0.05
FORWARD_VISIBILITY_SECONDS = 360  # template.yaml ForwardQueue VisibilityTimeout
TARGETS: dict[str, Target] = {"lost": ("==", 0), "duplicated_parts": ("==", 0), "mirror_rows_lost": ("==", 0)}
SUMMARY = ["delivered", "given_up", "lost", "duplicated_parts", "mirror_rows_lost", "delivery_p50_s", "delivery_p99_s"]
TARGETS.update({f"dynamo_{name}": target for name, target in list(TARGETS.items())})


class FlakySqs:
    """A fake SQS client for ``SqsOutbox``: SendMessageBatch fails ``rate`` of the time,
    half as an exception, half as every entry in ``Failed`` (SenderFault false)."""

    def __init__(self, rate: float, rng: random.Random) -> None:
        self.rate, self.rng = rate, rng
        self.bodies: list[str] = []
        self.calls = self.failures = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.rng.random() < self.rate:
            self.failures += 1
            if self.rng.random() < 0.5:
                from botocore.exceptions import ClientError

                raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "SendMessageBatch")
            failed = [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in Entries]
            return {"Successful": [], "Failed": failed}
        self.bodies.extend(e["MessageBody"] for e in Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def send_message(self, QueueUrl: str, MessageBody: str, **kwargs: Any) -> dict[str, Any]:
        self.bodies.append(MessageBody)
        return {"MessageId": "m"}


class SimForwardQueue:
    """The forward queue in simulated time: parked forwards come due ``delay`` later."""

    def __init__(self, schedule: Callable[[float, str, Any], None], now: Callable[[], float]) -> None:
        self.schedule, self.now = schedule, now
        self.dead: list[Any] = []

    def park(self, forward: Any, delay_seconds: int) -> None:
        self.schedule(self.now() + delay_seconds, "forward", forward.to_json())

    def dead_letter(self, forward: Any) -> None:
        self.dead.append(forward)


def _body(rng: random.Random, long: bool) -> str:
    """Long: 1,400-1,590 characters, below Twilio's inbound limit of 1,600; with the name
    prefix a client's first message is then 2 parts."""
    words = ["walk", "feed", "Rex", "park", "vet", "treats", "nap", "ball", "leash", "water", "home", "late"]
    tag = f" #{rng.randrange(10**6)}"
    if not long:
        return " ".join(rng.choice(words) for _ in range(rng.randrange(3, 25))) + tag
    size = rng.randrange(1400, 1590)
    text = ""
    while len(text) < size:
        text += rng.choice(words) + " "
    return text[:size].rstrip() + tag


class MemorySpill:
    """The outbox's durable spill (``masking.store.spill`` in AWS), in memory."""

    def __init__(self) -> None:
        self.items: dict[str, list[Any]] = {}

    def spill(self, records: list[Any]) -> None:
        self.items[f"{len(self.items):08d}"] = list(records)

    def pending(self, limit: int = 100) -> list[tuple[str, list[Any]]]:
        return list(self.items.items())[:limit]

    def replace(self, sort_key: str, records: list[Any]) -> None:
        if records:
            self.items[sort_key] = list(records)
        else:
            self.items.pop(sort_key, None)


def _outcome(record: Any, sends: Counter[tuple[str, str]]) -> str:
    """A message's outcome; one the webhook forwarded as planned on its claim (nothing is
    written after that send: ``masking.messaging.parts``) is "forwarded" only when Twilio
    got every planned part, else "planned, not sent" (lost)."""
    from masking.core.models import FORWARDING

    if record is None:
        return "missing"
    if record.outcome != FORWARDING:
        return str(record.outcome)
    sent = all(sends[(record.message_sid, part["body"])] for part in record.planned)
    return "forwarded" if sent else "planned, not sent"


def run(
    n_messages: int = N_MESSAGES,
    seed: int = 13,
    twilio_fault_rate: float = TWILIO_FAULT_RATE,
    outbox_fault_rate: float = OUTBOX_FAULT_RATE,
    store: str = "memory",
    dynamo_client_wrapper: Callable[[Any], Any] | None = None,
    faults_off: Callable[[], None] | None = None,
) -> dict[str, Any]:
    quiet_logs()
    from masking.adapters.aws_queues import SqsOutbox
    from masking.adapters.memory import MemoryOwnerAlerts
    from masking.core.models import Client
    from masking.core.settings import ForwardSettings
    from masking.handlers.sms import handle_sms_webhook
    from masking.messaging.forwarding import ForwardWorker, ParkedForward
    from masking.messaging.parts import parse_ref
    from masking.mirror.outbox import MirrorRecord, publish_records
    from tests.support import SMS_URL, make_world, signed_event

    rng = random.Random(seed)
    aws = None
    if store == "dynamo":
        import boto3

        from local.backends import EmbeddedAws
        from masking.store.dynamo import DynamoRoutingStore

        aws = EmbeddedAws()
        aws.start()
        client = boto3.client("dynamodb", region_name="us-east-1")
        if dynamo_client_wrapper is not None:
            client = dynamo_client_wrapper(client)
        routing_store: Any = DynamoRoutingStore(aws.env["TABLE_NAME"], client=client)
    else:
        from masking.store.memory import MemoryRoutingStore

        routing_store = MemoryRoutingStore()
    pool = [f"+1720555{line:04d}" for line in range(200, 260)]
    world = make_world(routing_store, pool=pool)
    clients = [Client(client_id=f"cl-fault-{i}", name=f"Fault Client {i}", phone=f"+1303556{i:04d}") for i in range(40)]
    for client in clients:
        routing_store.put_client(client)
    from tests.support import OTHER_PROVIDER, PROVIDER

    providers = [PROVIDER, OTHER_PROVIDER]

    # simulated time: one heap of (due, seq, kind, payload)
    events: list[tuple[float, int, str, Any]] = []
    sequence = itertools.count()
    start = world.clock().timestamp()

    def now() -> float:
        return world.clock().timestamp()

    def schedule(due: float, kind: str, payload: Any) -> None:
        heapq.heappush(events, (due, next(sequence), kind, payload))

    sqs = FlakySqs(outbox_fault_rate, random.Random(seed + 1))
    spill = MemorySpill()
    world.outbox = SqsOutbox("https://sqs.local/outbox", client=sqs, spill=spill)  # type: ignore[assignment]
    world.services.outbox = world.outbox  # type: ignore[assignment]
    queue = SimForwardQueue(schedule, now)
    forwarding = ForwardWorker(routing_store, world.router.gateway, queue, MemoryOwnerAlerts(), ForwardSettings(), clock=world.clock)
    world.router.forwarding = forwarding

    arrived: dict[str, float] = {}
    last_send: dict[str, float] = {}

    def on_send(sms: Any) -> None:
        if sms.status_callback:
            ref = parse_ref(sms.status_callback.rsplit("/", 1)[1])
            last_send[ref[0] if ref else sms.status_callback] = now()

    world.sandbox._on_send = on_send
    world.sandbox.set_send_faults(twilio_fault_rate, TWILIO_FAULT_KINDS, seed=seed + 2)

    redelivered = 0
    for index in range(n_messages):
        schedule(start + index * ARRIVAL_GAP_SECONDS, "inbound", index)
    while events:
        due, _, kind, payload = heapq.heappop(events)
        if due > now():
            world.clock.advance(seconds=due - now())
        if kind == "forward":
            try:
                publish_records(world.outbox, forwarding.process(ParkedForward.from_json(payload)))
            except Exception:  # the forward function reports the record failed: SQS delivers it again
                redelivered += 1
                schedule(now() + FORWARD_VISIBILITY_SECONDS, "forward", payload)
            continue
        provider = rng.choice(providers)
        client = rng.choice(clients)
        _, pair = routing_store.get_provider_and_pair(provider.provider_id, client.client_id)
        body = _body(rng, long=rng.random() < LONG_SHARE)
        media = ["https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"] if rng.random() < MMS_SHARE else None
        if pair is not None and pair.is_active(world.clock()) and rng.random() < 0.5:
            params = world.sms_params(provider.phone, pair.pool_number, body, media=media)
        else:
            params = world.sms_params(client.phone, provider.reserved_number or "", body, media=media)
        arrived[params["MessageSid"]] = now()
        response = handle_sms_webhook(signed_event(SMS_URL, params), world.services)
        if response["statusCode"] != 200:
            raise RuntimeError(f"webhook answered {response['statusCode']}")

    if faults_off is not None:  # what happened is read without faults
        faults_off()
    sqs.rate = 0.0  # the outbox_republisher's run after the faults: the spill goes back on the queue
    while spill.items and world.outbox.republish_spilled():  # type: ignore[attr-defined]
        pass
    sends = Counter((parse_ref(s.status_callback.rsplit("/", 1)[1])[0], s.body) for s in world.sandbox.sent if s.status_callback)
    outcome_of = {sid: _outcome(routing_store.get_message(sid), sends) for sid in arrived}
    outcomes = Counter(outcome_of.values())
    delivered = [sid for sid, outcome in outcome_of.items() if outcome == "forwarded"]
    rows = [MirrorRecord.from_json(body) for body in sqs.bodies]
    mirrored = {r.key for r in rows if r.kind == "message" and "Forwarded SIDs" in r.fields}
    delays = [last_send[sid] - arrived[sid] for sid in delivered if sid in last_send]
    figures: dict[str, Any] = {
        "messages": len(arrived),
        "twilio_faults_injected": sum(world.sandbox.faults_injected.values()),
        "outbox_batches_failed": sqs.failures,
        "forward_redeliveries": redelivered,
        "dynamodb_faults": "injected" if dynamo_client_wrapper else "none (no injector)",
        "delivered": len(delivered),
        "given_up": outcomes["undeliverable"],
        "lost": len(arrived) - len(delivered) - outcomes["undeliverable"],
        "duplicated_parts": sum(count - 1 for count in sends.values() if count > 1),
        "mirror_rows_lost": len([sid for sid in delivered if sid not in mirrored]),
        "delivered_after_a_wait": sum(1 for sid in delivered if last_send.get(sid, 0) > arrived[sid]),
        "delivery_p50_s": percentile(delays, 50),
        "delivery_p99_s": percentile(delays, 99),
        "delivery_max_s": max(delays) if delays else 0.0,
    }
    if aws is not None:
        aws.stop()
    title = (
        f"faults: {len(arrived):,} messages, {twilio_fault_rate:.0%} Twilio send faults, "
        f"{outbox_fault_rate:.0%} outbox batch faults, {store} store (simulated time)"
    )
    print_figures(title, figures, TARGETS)
    return figures


DYNAMO_MESSAGES = 300
DYNAMO_FAULTS = {"dynamodb_throttle": 0.05, "dynamodb_conflict": 0.02}  # on each DynamoDB call


def main() -> dict[str, Any]:
    """1,000 messages on the memory store, then 300 on DynamoDB (moto) with throttles and
    transaction conflicts injected on every call (``local.faults``, as moto never throttles)."""
    from local.faults import FaultPlan, FaultyDynamoClient

    figures = run()
    plan = FaultPlan(seed=29)
    plan.set(DYNAMO_FAULTS)
    dynamo = run(
        DYNAMO_MESSAGES,
        seed=17,
        store="dynamo",
        dynamo_client_wrapper=lambda client: FaultyDynamoClient(client, plan),
        faults_off=lambda: plan.set({}),
    )
    print(f"  DynamoDB faults injected: {dict(plan.injected)}")
    figures.update({f"dynamo_{name}": value for name, value in dynamo.items() if name in SUMMARY})
    return figures


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=N_MESSAGES)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--twilio-fault-rate", type=float, default=TWILIO_FAULT_RATE)
    parser.add_argument("--outbox-fault-rate", type=float, default=OUTBOX_FAULT_RATE)
    parser.add_argument("--store", choices=["memory", "dynamo"], default="memory")
    args = parser.parse_args()
    run(args.messages, args.seed, args.twilio_fault_rate, args.outbox_fault_rate, args.store)
