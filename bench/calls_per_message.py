"""(b) External calls per forwarded message, through the real handler on moto.

EmbeddedAws (moto in-process: the template's table, the outbox queue, SSM secrets) and
``functions/intercept/app.py:lambda_handler`` wired by ``masking.wiring`` exactly as in
Lambda (TWILIO_TRANSPORT=sandbox, PUBLIC_BASE_URL = the URL the events are signed for).

Counting, per webhook:
- AWS: a ``before-call`` handler added to botocore's BUILTIN_HANDLERS before any session
  exists, so every session gets it, including the one Powertools' SSMProvider creates for
  itself (a hook on boto3's default session would miss SSM). Cross-checked against the
  requests moto's stubber answers.
- Twilio: requests recorded by ``masking.wiring.sandbox_http_client()``.
- Airtable: attempts to import ``pyairtable`` (a meta-path finder) and socket connections
  to ``*airtable*`` hosts. Every socket connection is refused and recorded: moto and the
  sandbox need none.

Warm-up: each (provider, client) pair's client texts the provider's reserved number,
which opens the lease (reported as "first message of a new lease"; the very first one
also loads the credentials). Then N steady-state webhooks on those leases, both ways.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from importlib.abc import MetaPathFinder
from typing import Any, TextIO

from bench import FakeLambdaContext, Target, describe, judge, load_handler, ops_summary, print_figures, quiet_logs, stats

N_MESSAGES = 200
CLIENT_SHARE = 0.55  # client -> provider; the rest provider -> client
SERVICES = ("dynamodb", "sqs", "ssm", "twilio", "airtable")
TARGETS: dict[str, Target] = {
    "steady_twilio_avg": ("==", 1.0),
    "steady_twilio_max": ("==", 1),
    "steady_dynamodb_max": ("<=", 3),
    "steady_sqs_max": ("<=", 1),
    "steady_airtable_max": ("==", 0),
    "pyairtable_in_sys_modules": ("==", False),
    "hook_saw_all_aws_requests": ("==", True),
}
SUMMARY = [
    *(f"steady_{service}_{stat}" for service in SERVICES for stat in ("avg", "max")),
    *(f"new_lease_{service}_max" for service in SERVICES),
    "first_invocation_ssm",
    "hook_saw_all_aws_requests",
    "pyairtable_in_sys_modules",
    "messages_not_forwarded",
]
STEADY_TARGETS: dict[str, Target] = {"dynamodb": ("<=", 3), "sqs": ("<=", 1), "twilio": ("==", 1), "airtable": ("==", 0)}

BODIES = [
    "Hi! Is Tuesday still good for the walk?",
    "Running 10 min late, sorry",
    "Yes, the key is under the mat 🐾",
    "Can you send a photo of Biscuit after dinner?",
    "Thanks so much!! 😊",
    "She ate everything, long walk around the park, all good. " * 4,
    "ok",
    "Could you also water the plants on the balcony? The watering can is next to the door. " * 3,
]


# ---------------------------------------------------------------- counters
class AwsCounter:
    """Counts AWS API calls by (service, operation) from botocore's ``before-call`` event."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.stubbed = 0  # requests moto answered: the cross-check

    def __call__(self, event_name: str = "", **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        self.calls[(service, operation)] += 1

    def by_service(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (service, _), number in self.calls.items():
            totals[service] += number
        return totals

    def reset(self) -> None:
        self.calls.clear()
        self.stubbed = 0


class AirtableGuard(MetaPathFinder):
    """Records imports of pyairtable and refuses (and records) every socket connection."""

    def __init__(self) -> None:
        self.imports = 0
        self.connections: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".")[0] == "pyairtable":
            self.imports += 1
        return None

    def airtable_hits(self) -> int:
        return self.imports + sum("airtable" in host for host in self.connections)

    def reset(self) -> None:
        self.imports = 0
        self.connections.clear()


@contextmanager
def instrumented(counter: AwsCounter, guard: AirtableGuard) -> Iterator[None]:
    import botocore.handlers
    from moto.core.botocore_stubber import BotocoreStubber

    original_stub = BotocoreStubber.__call__
    original_connect = socket.socket.connect
    original_create = socket.create_connection

    def counting_stub(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if self.enabled:
            counter.stubbed += 1
        return original_stub(self, event_name, request, **kwargs)

    def refuse_connect(sock: socket.socket, address: Any) -> None:
        guard.connections.append(str(address[0] if isinstance(address, tuple) else address))
        raise ConnectionRefusedError(f"bench: no network ({address!r})")

    def refuse_create(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        guard.connections.append(str(address[0]))
        raise ConnectionRefusedError(f"bench: no network ({address!r})")

    handler_entry = ("before-call", counter)
    botocore.handlers.BUILTIN_HANDLERS.append(handler_entry)
    BotocoreStubber.__call__ = counting_stub  # type: ignore[method-assign]
    socket.socket.connect = refuse_connect  # type: ignore[method-assign,assignment]
    socket.create_connection = refuse_create  # type: ignore[assignment]
    sys.meta_path.insert(0, guard)
    try:
        yield
    finally:
        sys.meta_path.remove(guard)
        socket.create_connection = original_create
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        BotocoreStubber.__call__ = original_stub  # type: ignore[method-assign]
        botocore.handlers.BUILTIN_HANDLERS.remove(handler_entry)


def clear_caches() -> None:
    """What tests/integration/conftest.py clears between setups (``tests.support.reset_caches``):
    an SQS client built in an earlier benchmark would miss this one's counter."""
    from tests.support import reset_caches

    reset_caches()


# ---------------------------------------------------------------- the world
def bench_people() -> tuple[list[Any], list[str], list[tuple[Any, Any]]]:
    """Providers, pool and (provider, client) pairs: tests/support's, plus a few clients."""
    from masking.core.models import Client
    from tests.support import OLIVIA, OTHER_PROVIDER, PETE, POOL, PROVIDER

    extra = [Client(client_id=f"cl-bench-{i}", name=f"Bench Client {i}", phone=f"+1303555030{i}") for i in range(4)]
    pool = [*POOL, "+17205550103"]
    pairs = [
        (PROVIDER, OLIVIA),
        (PROVIDER, PETE),
        (PROVIDER, extra[0]),
        (OTHER_PROVIDER, extra[1]),
        (OTHER_PROVIDER, extra[2]),
        (OTHER_PROVIDER, extra[3]),
    ]
    return extra, pool, pairs


def seed_world(store: Any) -> list[tuple[Any, Any]]:
    from tests.support import seed

    extra, pool, pairs = bench_people()
    seed(store, pool)
    for client in extra:
        store.put_client(client)
    return pairs


def sms_params(from_phone: str, to_number: str, body: str) -> dict[str, str]:
    from tests.support import ACCOUNT_SID

    return {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": ACCOUNT_SID,
        "From": from_phone,
        "To": to_number,
        "Body": body,
        "NumMedia": "0",
    }


def steady_messages(rng: random.Random, pairs: list[tuple[Any, Any]], pool_of: dict[str, str], count: int) -> list[dict[str, str]]:
    """``count`` webhooks on open leases: clients to reserved numbers, providers to pool numbers."""
    messages = []
    for _ in range(count):
        provider, client = rng.choice(pairs)
        body = rng.choice(BODIES)
        if rng.random() < CLIENT_SHARE:
            messages.append(sms_params(client.phone, provider.reserved_number, body))
        else:
            messages.append(sms_params(provider.phone, pool_of[client.client_id], body))
    return messages


# ---------------------------------------------------------------- the run
def forwarded(record: Any, sent: list[Any]) -> bool:
    """Whether the message went out: recorded as forwarded, or claimed with its planned parts
    (``masking.messaging.parts``: nothing is written after the send) and exactly those parts
    are what this invocation sent to Twilio."""
    from masking.core.models import FORWARDING

    if record is None:
        return False
    planned = record.outcome == FORWARDING and [part["body"] for part in record.planned] == [sms.body for sms in sent]
    return planned or record.outcome == "forwarded"


@contextmanager
def bench_aws(counter: AwsCounter, guard: AirtableGuard, *cache_clears: Callable[[], None]) -> Iterator[tuple[Any, TextIO]]:
    """Embedded AWS (moto) under the counters, ``PUBLIC_BASE_URL`` set for ``signed_event``, and
    /dev/null for Powertools' metrics lines; the environment and every cache are restored after."""
    from local.backends import EmbeddedAws
    from tests.support import API_HOST, AUTH_TOKEN, STAGE

    saved_env = dict(os.environ)
    embedded = EmbeddedAws(auth_token=AUTH_TOKEN)
    with instrumented(counter, guard), open(os.devnull, "w") as devnull:
        try:
            embedded.start()
            os.environ["PUBLIC_BASE_URL"] = f"https://{API_HOST}/{STAGE}"  # what signed_event signs for
            clear_caches()
            for clear in cache_clears:
                clear()
            yield embedded, devnull
        finally:
            embedded.stop()
            os.environ.clear()
            os.environ.update(saved_env)
            clear_caches()
            for clear in cache_clears:
                clear()


def measured_row(counter: AwsCounter, guard: AirtableGuard, twilio_requests: int) -> dict[str, Any]:
    """One invocation's external calls by service (``ops``: AWS calls by operation)."""
    row: dict[str, Any] = {service: 0 for service in SERVICES} | dict(counter.by_service())
    row["twilio"] = twilio_requests
    row["airtable"] = guard.airtable_hits()
    row["unseen_aws"] = counter.stubbed - sum(counter.calls.values())
    row["ops"] = dict(counter.calls)
    return row


def main(n_messages: int = N_MESSAGES, seed: int = 7) -> dict[str, Any]:
    from tests.support import API_HOST, signed_event

    quiet_logs()
    counter = AwsCounter()
    guard = AirtableGuard()
    all_connections: list[str] = []
    with bench_aws(counter, guard) as (embedded, devnull):
        from masking.store.dynamo import DynamoRoutingStore
        from masking.wiring import sandbox_http_client

        store = DynamoRoutingStore(embedded.env["TABLE_NAME"])
        pairs = seed_world(store)
        handler = load_handler("bench_intercept_app_calls").lambda_handler
        sandbox = sandbox_http_client()
        unexpected: Counter[str] = Counter()

        def invoke(params: dict[str, str]) -> dict[str, Any]:
            counter.reset()
            guard.reset()
            before, sent_before = len(sandbox.requests), len(sandbox.sent)
            with redirect_stdout(devnull):  # the EMF metrics line Powertools prints per invocation
                response = handler(signed_event("https://" + API_HOST + "/twilio/sms", params), FakeLambdaContext())
            row = measured_row(counter, guard, len(sandbox.requests) - before)
            all_connections.extend(guard.connections)
            record = store.get_message(params["MessageSid"])
            if response["statusCode"] != 200 or not forwarded(record, sandbox.sent[sent_before:]):
                unexpected[f"{response['statusCode']}:{record.outcome if record else 'no record'}"] += 1
            return row

        rng = random.Random(seed)
        new_lease_rows = []
        for provider, client in pairs:  # warm-up: opens one lease per pair
            new_lease_rows.append(invoke(sms_params(client.phone, provider.reserved_number, rng.choice(BODIES))))
        pool_of = {
            client.client_id: store.get_provider_and_pair(provider.provider_id, client.client_id)[1].pool_number  # type: ignore[union-attr]
            for provider, client in pairs
        }
        for params in steady_messages(rng, pairs, pool_of, len(pairs) * 2):  # warm-up: both directions once or so
            invoke(params)
        steady_rows = [invoke(params) for params in steady_messages(rng, pairs, pool_of, n_messages)]
    pyairtable_loaded = "pyairtable" in sys.modules

    figures: dict[str, Any] = {}
    for service in SERVICES:
        figures[f"steady_{service}_avg"], figures[f"steady_{service}_max"] = stats(steady_rows, service)
    for service in SERVICES:
        figures[f"new_lease_{service}_avg"], figures[f"new_lease_{service}_max"] = stats(new_lease_rows[1:], service)
    first = new_lease_rows[0]
    figures["first_invocation_ssm"] = first["ssm"]
    figures["hook_saw_all_aws_requests"] = all(row["unseen_aws"] == 0 for row in [*new_lease_rows, *steady_rows])
    figures["pyairtable_in_sys_modules"] = pyairtable_loaded
    figures["messages_not_forwarded"] = sum(unexpected.values())

    headline = {name: figures[name] for name in TARGETS}
    headline.update({name: figures[name] for name in ("first_invocation_ssm", "messages_not_forwarded")})
    title = f"(b) external calls per forwarded message ({n_messages} steady-state webhooks on {len(pairs)} leases, moto)"
    print_figures(title, headline, TARGETS)
    print("  per forwarded message   steady avg  steady max  new-lease avg* new-lease max* steady target")
    for service in SERVICES:
        target = STEADY_TARGETS.get(service)
        verdict = f"max {describe(target)}: {judge(figures[f'steady_{service}_max'], target)}" if target else ""
        print(
            f"  {service:<22} {figures[f'steady_{service}_avg']:>11.2f} {figures[f'steady_{service}_max']:>11}"
            f" {figures[f'new_lease_{service}_avg']:>14.2f} {figures[f'new_lease_{service}_max']:>14}  {verdict}"
        )
    print("  * new lease: the first message of each pair but the container's first (that one adds the credentials load)")
    print(f"  steady DynamoDB/SQS ops per message: {ops_summary(steady_rows)}")
    print(f"  new-lease DynamoDB/SQS ops per message: {ops_summary(new_lease_rows[1:])}")
    print(f"  first invocation of the container (new lease + credentials): {ops_summary([first])}")
    if unexpected:
        print(f"  not forwarded: {dict(unexpected)}")
    print(f"  socket connections attempted: {len(all_connections)}; pyairtable in sys.modules: {pyairtable_loaded}")
    return figures


if __name__ == "__main__":
    main()
