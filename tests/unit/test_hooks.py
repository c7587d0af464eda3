"""Outbound hooks (masking.hooks) with in-memory fakes: subscriptions and their validation,
events read from the outbox's records, the signed delivery and what each answer does,
the dispatch from an outbox batch, and the HTTP POST (``responses``, no network)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from masking.adapters.hook_http import NON_PUBLIC_ADDRESS, post_json, retry_after
from masking.adapters.memory import MemoryHookQueue
from masking.core.errors import Conflict, NotFound, Unprocessable
from masking.core.settings import SettingsError
from masking.handlers.sms import handle_sms_webhook
from masking.hooks import subscriptions
from masking.hooks.delivery import Deliverer, Delivery, HttpAnswer, Outcome
from masking.hooks.dispatch import dispatch, send_test
from masking.hooks.events import EVENTS, SOURCES, HookEvent, event_from_record, sample
from masking.hooks.settings import HookSettings
from masking.hooks.subscriptions import Subscription, check_target, subscribe, unsubscribe
from masking.mirror.outbox import MirrorRecord
from masking.mirror.rows import audit_record
from masking.store.hooks import MemoryHookStore
from masking.store.memory import MemoryRoutingStore
from tests.support import PROVIDER, ROOT, make_world

# tests/conftest.py's pytest_collection_modifyitems adds this marker too late for pytest to
# set the fixture up (the fixture closure is fixed at collection); named here, it applies.
pytestmark = pytest.mark.usefixtures("no_network")

NOW = "2026-11-01T12:00:00Z"
TARGET = "https://hooks.zapier.com/hooks/catch/123456/abcdef/"
NEW_PHONE = "+13035550299"


@pytest.fixture
def store() -> MemoryHookStore:
    return MemoryHookStore()


def hook(store: MemoryHookStore, events: list[str] | None = None, url: str = TARGET, at: str = NOW) -> Subscription:
    created, _ = subscribe(store, url, events or list(EVENTS), at)
    return created


# ---------------------------------------------------------------- subscriptions


def test_subscribe_gives_an_id_and_a_secret_and_lists_without_the_secret(store: MemoryHookStore) -> None:
    created, new = subscribe(store, TARGET, ["client.created", "pool.low", "client.created"], NOW)

    assert new and created.hook_id.startswith("HK") and len(created.secret) >= 40
    assert created.events == ["client.created", "pool.low"]  # each once, in order
    assert [h.view() for h in store.list_hooks()] == [
        {"id": created.hook_id, "target_url": TARGET, "events": ["client.created", "pool.low"], "created_at": NOW}
    ]
    assert created.secret not in json.dumps(created.view())


def test_subscribing_the_same_url_to_the_same_events_again_answers_the_existing_hook(store: MemoryHookStore) -> None:
    first, _ = subscribe(store, TARGET, ["pool.low", "client.created"], NOW)
    again, new = subscribe(store, TARGET, ["client.created", "pool.low"], "2026-11-02T12:00:00Z")
    other, other_new = subscribe(store, TARGET, ["pool.low"], NOW)

    assert (again, new) == (first, False)
    assert other_new and other.hook_id != first.hook_id
    assert len(store.list_hooks()) == 2


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://example.com/hook", "must be an https URL"),
        ("ftp://example.com/hook", "must be an https URL"),
        ("example.com/hook", "must be an https URL"),
        ("https:///path-only", "has no host"),
        ("https://user:pw@example.com/hook", "must not carry credentials or a fragment"),
        ("https://example.com/hook#part", "must not carry credentials or a fragment"),
        ("https://example.com:port/hook", "not a valid URL"),
        ("https://10.1.2.3/hook", "must be a public host"),
        ("https://169.254.169.254/latest", "must be a public host"),
        ("https://127.0.0.1/hook", "must be a public host"),
        ("https://localhost/hook", "must be a public host"),
        ("http://127.0.0.1:3000/_local/hooks/catch", "must be an https URL"),  # loopback: the local runner only
        ("https://example.com/" + "x" * 2048, "longer than 2048 characters"),
    ],
)
def test_a_target_that_is_not_a_public_https_url_is_422(store: MemoryHookStore, url: str, problem: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        subscribe(store, url, ["client.created"], NOW)

    assert refused.value.details == [{"field": "target_url", "problem": problem}]
    assert store.list_hooks() == []


@pytest.mark.parametrize(
    "url",
    [
        # every one reaches a loopback / private / link-local address (inet_aton forms, IPv6 wrappers)
        "https://2130706433/",
        "https://0x7f000001/",
        "https://127.1/",
        "https://0177.0.0.1/",
        "https://10.1/",
        "https://192.168.1/",
        "https://0xa9.254.169.254/",
        "https://localhost./",
        "https://LOCALHOST/",
        "https://api.localhost/",
        "https://ip6-localhost/",
        "https://metadata.google.internal/",
        "https://printer.local/",
        "https://intranet/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[64:ff9b::a00:1]/",
        "https://[2002:c0a8:101::]/",
        "https://[fe80::1%25eth0]/",
        "https://224.0.0.1/",
        "https://0.0.0.0/",
        "https://exa_mple.com/",
    ],
)
def test_a_non_public_host_in_any_spelling_is_422(url: str) -> None:
    """Review finding 1 (SSRF): the short, decimal, hex and octal IPv4 forms the resolver
    accepts, a trailing dot, private-use names, and IPv6 wrappers of a private IPv4."""
    with pytest.raises(Unprocessable) as refused:
        check_target(url)
    assert refused.value.details == [{"field": "target_url", "problem": "must be a public host"}]


@pytest.mark.parametrize(
    "url", ["https://hooks.zapier.com./x", "https://8.8.8.8/x", "https://134744072/x", "https://[2001:4860:4860::8888]/x"]
)
def test_a_public_host_in_any_spelling_is_accepted(url: str) -> None:
    assert check_target(url) == url


def test_loopback_targets_are_accepted_only_where_the_runner_allows_them() -> None:
    assert check_target("http://127.0.0.1:3000/_local/hooks/catch", allow_loopback=True) == "http://127.0.0.1:3000/_local/hooks/catch"
    assert check_target(" https://example.com/x ") == "https://example.com/x"
    with pytest.raises(Unprocessable):
        check_target("http://10.0.0.1/x", allow_loopback=True)


@pytest.mark.parametrize(("events", "problem"), [([], "at least one of"), ([" "], "at least one of"), (["client.created", "nope"], "nope")])
def test_unknown_or_missing_events_are_422(store: MemoryHookStore, events: list[str], problem: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        subscribe(store, TARGET, events, NOW)

    [detail] = refused.value.details
    assert detail["field"] == "events" and problem in detail["problem"]


def test_unsubscribe_removes_the_hook_and_an_unknown_id_is_404(store: MemoryHookStore) -> None:
    created = hook(store)

    assert unsubscribe(store, created.hook_id) == created
    assert store.list_hooks() == []
    with pytest.raises(NotFound):
        unsubscribe(store, created.hook_id)


def test_the_number_of_hooks_is_bounded(store: MemoryHookStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscriptions, "MAX_HOOKS", 2)
    hook(store, url="https://a.example.com/1")
    hook(store, url="https://a.example.com/2")

    with pytest.raises(Conflict):
        hook(store, url="https://a.example.com/3")


# ---------------------------------------------------------------- events


def test_a_new_client_texting_a_provider_is_a_client_created_event_without_their_phone() -> None:
    world = make_world(MemoryRoutingStore())
    handle_sms_webhook(world.sms_event(NEW_PHONE, str(PROVIDER.reserved_number), "Hi, is Friday free?"), world.services)

    events = [e for e in (event_from_record(r) for r in world.outbox.records) if e is not None]

    [created] = events
    client_id = created.data["client_id"]
    assert created.name == "client.created" and client_id.startswith("CL")
    assert created.data == {"provider_id": PROVIDER.provider_id, "client_id": client_id, "source": "sms"}
    assert NEW_PHONE not in created.body().decode() and "Friday" not in created.body().decode()


def test_a_second_message_of_the_same_client_is_no_event() -> None:
    world = make_world(MemoryRoutingStore())
    handle_sms_webhook(world.sms_event(NEW_PHONE, str(PROVIDER.reserved_number), "one"), world.services)
    world.outbox.records.clear()
    handle_sms_webhook(world.sms_event(NEW_PHONE, str(PROVIDER.reserved_number), "two"), world.services)

    assert [r for r in world.outbox.records if event_from_record(r)] == []


def test_every_audit_event_the_hooks_read_is_written_by_the_layer() -> None:
    """A renamed audit event would silently stop its hook event: the names must still be
    written somewhere in the layer (outside the hooks package)."""
    layer = ROOT / "layers" / "masking" / "masking"
    files = [p for p in layer.rglob("*.py") if "hooks" not in p.relative_to(layer).parts and p.name != "hooks.py"]
    sources = "\n".join(p.read_text() for p in files)
    for audit_event in SOURCES:
        assert re.search(rf'["\']{re.escape(audit_event)}["\']', sources), audit_event
    assert {name for name, _ in SOURCES.values()} == set(EVENTS)


def test_the_event_id_is_the_same_for_every_copy_of_the_record() -> None:
    record = audit_record("Pool exhausted", "No pool number", category="Pool", severity="Critical", at=NOW, key="SMx:Pool exhausted")
    copy = MirrorRecord.from_json(record.to_json())
    other = replace(record, key="SMy:Pool exhausted")

    first, again, different = event_from_record(record), event_from_record(copy), event_from_record(other)
    assert first is not None and again is not None and different is not None
    assert first.id == again.id != different.id
    assert first.body() == again.body()


def test_a_phone_in_a_summary_is_masked() -> None:
    record = audit_record(
        "Forwarding failed",
        "Twilio refused the message: The 'To' number +13035550299 is not a valid phone number",
        category="Error",
        severity="Error",
        at=NOW,
        key="SMz:Forwarding failed",
        details={"message_sid": "SMz", "twilio_error_code": 21211},
    )

    event = event_from_record(record)

    assert event is not None and event.name == "delivery.failed"
    assert event.data["stage"] == "refused" and event.data["twilio_error_code"] == "21211"
    assert "+13035550299" not in event.body().decode() and "+1303***0299" in event.data["summary"]


def test_records_that_are_not_events_are_ignored() -> None:
    assert event_from_record(MirrorRecord(kind="client", key="cl-1", fields={"Name": "x"})) is None
    assert event_from_record(audit_record("Lease opened", "x", category="Pool", severity="Info", at=NOW, key="k")) is None


@pytest.mark.parametrize("name", list(EVENTS))
def test_each_event_has_a_sample_of_the_delivered_shape(name: str) -> None:
    event = sample(name)

    assert event.name == name and event.id.startswith("evt_") and not event.test
    assert set(event.payload()) == {"id", "event", "occurred_at", "test", "data"}
    assert HookEvent.from_payload(json.loads(event.body())) == event


# ---------------------------------------------------------------- delivery


class Consumer:
    """The hook's URL: answers what it is told, in order, and keeps every request."""

    def __init__(self, *answers: HttpAnswer) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
        self.requests.append((url, body, headers))
        return self.answers.pop(0) if self.answers else HttpAnswer(200)


def deliverer(store: MemoryHookStore, consumer: Consumer, queue: MemoryHookQueue | None = None, **settings: Any) -> Deliverer:
    return Deliverer(store, consumer, queue or MemoryHookQueue(), HookSettings(**settings), clock=lambda: 1_795_000_000)


def test_a_delivery_is_signed_over_the_timestamp_and_the_body(store: MemoryHookStore) -> None:
    target = hook(store)
    consumer = Consumer(HttpAnswer(204))
    event = sample("client.created")

    assert deliverer(store, consumer).deliver(Delivery(target.hook_id, event)) == Outcome.DELIVERED

    [(url, body, headers)] = consumer.requests
    assert url == TARGET and json.loads(body) == event.payload()
    assert headers["Content-Type"] == "application/json" and headers["X-Masking-Event-Id"] == event.id
    assert headers["X-Masking-Timestamp"] == "1795000000"
    expected = hmac.new(target.secret.encode(), b"1795000000." + body, hashlib.sha256).hexdigest()
    assert headers["X-Masking-Signature"] == f"v1={expected}"


def test_a_500_is_retried_after_the_first_delay_then_delivered(store: MemoryHookStore) -> None:
    target = hook(store)
    consumer, queue = Consumer(HttpAnswer(500), HttpAnswer(200)), MemoryHookQueue()
    worker = deliverer(store, consumer, queue)
    delivery = Delivery(target.hook_id, sample("pool.low"))

    assert worker.deliver(delivery) == Outcome.RETRYING
    [(retry, delay)] = queue.retried
    assert (retry.attempt, delay, retry.event) == (2, 30, delivery.event)
    assert worker.deliver(retry) == Outcome.DELIVERED
    assert len(consumer.requests) == 2 and consumer.requests[0][1] == consumer.requests[1][1]  # the same body
    assert store.delivered(target.hook_id, delivery.event.id) and queue.dead == []


@pytest.mark.parametrize(
    ("answer", "delay"),
    [
        (HttpAnswer(429), 30),
        (HttpAnswer(429, retry_after=120), 120),  # the consumer's Retry-After when longer
        (HttpAnswer(429, retry_after=5000), 900),  # at most SQS's 900 s
        (HttpAnswer(503, retry_after=1), 30),
        (HttpAnswer(None, error="ReadTimeout"), 30),
        (HttpAnswer(None, error="ConnectionError"), 30),
    ],
)
def test_429_5xx_and_no_answer_are_retried(store: MemoryHookStore, answer: HttpAnswer, delay: int) -> None:
    target, queue = hook(store), MemoryHookQueue()

    assert deliverer(store, Consumer(answer), queue).deliver(Delivery(target.hook_id, sample("pool.low"))) == Outcome.RETRYING

    assert [(d.attempt, seconds) for d, seconds in queue.retried] == [(2, delay)]


def test_the_last_attempt_failing_sets_the_delivery_aside(store: MemoryHookStore) -> None:
    target, queue = hook(store), MemoryHookQueue()
    worker = deliverer(store, Consumer(*[HttpAnswer(500)] * 3), queue, retry_delays="0,0")
    delivery = Delivery(target.hook_id, sample("pool.low"))

    outcomes = [worker.deliver(delivery)]
    while queue.retried:
        delivery, _ = queue.retried.pop()
        outcomes.append(worker.deliver(delivery))

    assert outcomes == [Outcome.RETRYING, Outcome.RETRYING, Outcome.GAVE_UP]
    assert [d.attempt for d in queue.dead] == [3]


def test_410_unsubscribes_and_nothing_more_is_sent(store: MemoryHookStore) -> None:
    target = hook(store)
    consumer, queue = Consumer(HttpAnswer(410)), MemoryHookQueue()
    worker = deliverer(store, consumer, queue)

    assert worker.deliver(Delivery(target.hook_id, sample("pool.low"))) == Outcome.UNSUBSCRIBED
    assert store.list_hooks() == []
    assert worker.deliver(Delivery(target.hook_id, sample("client.created"))) == Outcome.NO_HOOK
    assert len(consumer.requests) == 1 and queue.retried == [] and queue.dead == []


@pytest.mark.parametrize("status", [301, 400, 401, 404, 413, 422])
def test_other_answers_are_not_retried_and_go_to_the_dlq(store: MemoryHookStore, status: int) -> None:
    target, queue = hook(store), MemoryHookQueue()

    assert deliverer(store, Consumer(HttpAnswer(status)), queue).deliver(Delivery(target.hook_id, sample("pool.low"))) == Outcome.REJECTED

    assert queue.retried == [] and [d.hook_id for d in queue.dead] == [target.hook_id]
    assert store.list_hooks() == [target]


def test_a_delivery_acknowledged_already_is_not_sent_again(store: MemoryHookStore) -> None:
    target = hook(store)
    consumer = Consumer()
    worker = deliverer(store, consumer)
    delivery = Delivery(target.hook_id, sample("client.created"))

    first = worker.deliver(delivery)
    redelivered = worker.deliver(Delivery.from_json(delivery.to_json()))  # SQS delivers the message again

    assert (first, redelivered) == (Outcome.DELIVERED, Outcome.ALREADY_DELIVERED)
    assert len(consumer.requests) == 1


def test_logs_name_the_host_only(store: MemoryHookStore, caplog: pytest.LogCaptureFixture) -> None:
    target = hook(store)
    deliverer(store, Consumer(HttpAnswer(404))).deliver(Delivery(target.hook_id, sample("delivery.failed")))

    logs = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "hooks.zapier.com" in logs and "/hooks/catch/123456" not in logs and target.secret not in logs


def test_retry_delays_longer_than_sqs_allows_are_refused() -> None:
    assert HookSettings(retry_delays="1,2").attempts == 3
    with pytest.raises(SettingsError):
        HookSettings(retry_delays="30,901")
    with pytest.raises(SettingsError):
        HookSettings(retry_delays="")


# ---------------------------------------------------------------- dispatch


def outbox_message(record: MirrorRecord, message_id: str) -> tuple[str, str]:
    return message_id, record.to_json()


def client_created(key: str = "SM1:Client created", at: str = "2026-11-01T12:05:00Z") -> MirrorRecord:
    return audit_record(
        "Client created", "A new number texted a provider", category="Client Sync", severity="Info", at=at, key=key, details={}
    )


def test_dispatch_queues_one_delivery_per_hook_that_wants_the_event(store: MemoryHookStore) -> None:
    wants, both = hook(store, ["client.created"], url="https://a.example.com/1"), hook(store, url="https://a.example.com/2")
    hook(store, ["pool.low"], url="https://a.example.com/3")
    hook(store, ["client.created"], url="https://a.example.com/late", at="2026-11-01T13:00:00Z")  # subscribed after it happened
    queue = MemoryHookQueue()
    messages = [
        outbox_message(MirrorRecord(kind="client", key="cl-1", fields={}), "m1"),
        outbox_message(client_created(), "m2"),
        ("m3", "not json"),
    ]

    assert dispatch(messages, store, queue) == {}

    assert sorted(d.hook_id for d in queue.queued) == sorted([wants.hook_id, both.hook_id])
    assert {d.event.name for d in queue.queued} == {"client.created"}


def test_deliveries_that_could_not_be_queued_fail_their_outbox_message(store: MemoryHookStore) -> None:
    hook(store)

    class Refusing(MemoryHookQueue):
        def send(self, deliveries: list[Delivery]) -> list[Delivery]:
            return [d for d in deliveries if d.event.id == first.id]

    first = event_from_record(client_created("SM1:Client created"))
    assert first is not None
    messages = [outbox_message(client_created("SM1:Client created"), "m1"), outbox_message(client_created("SM2:Client created"), "m2")]

    assert dispatch(messages, store, Refusing()) == {"m1": "hook delivery not queued"}


def test_no_hook_no_delivery_and_no_event_no_read(store: MemoryHookStore) -> None:
    queue = MemoryHookQueue()
    assert dispatch([outbox_message(client_created(), "m1")], store, queue) == {} and queue.queued == []

    class Unreadable(MemoryHookStore):
        def list_hooks(self) -> list[Subscription]:
            raise AssertionError("read without an event")

    assert dispatch([outbox_message(MirrorRecord(kind="client", key="c", fields={}), "m1")], Unreadable(), queue) == {}


def test_a_test_delivery_is_a_fresh_sample_marked_test(store: MemoryHookStore) -> None:
    target, queue = hook(store, ["pool.low", "client.created"]), MemoryHookQueue()

    first = send_test(store, queue, target.hook_id, None, NOW)
    second = send_test(store, queue, target.hook_id, "client.created", NOW)

    assert (first.name, second.name) == ("pool.low", "client.created")
    assert first.test and first.id != second.id and first.occurred_at == NOW
    assert [d.hook_id for d in queue.queued] == [target.hook_id] * 2
    with pytest.raises(NotFound):
        send_test(store, queue, "HKnope", None, NOW)
    with pytest.raises(Unprocessable):
        send_test(store, queue, target.hook_id, "nope", NOW)


# ---------------------------------------------------------------- the HTTP POST


@responses.activate
def test_the_post_follows_no_redirect_and_reads_retry_after() -> None:
    responses.add(responses.POST, "https://a.example.com/moved", status=302, headers={"Location": "https://evil.example.com/"})
    responses.add(responses.POST, "https://a.example.com/busy", status=429, headers={"Retry-After": "120"})
    responses.add(responses.POST, "https://a.example.com/ok", status=200, body="ok")

    assert post_json("https://a.example.com/moved", b"{}", {}, 5, PUBLIC_DNS).status == 302
    assert post_json("https://a.example.com/busy", b"{}", {}, 5, PUBLIC_DNS) == HttpAnswer(429, 120)
    assert post_json("https://a.example.com/ok", b'{"a":1}', {"X-Masking-Signature": "v1=x"}, 5, PUBLIC_DNS) == HttpAnswer(200)
    sent = responses.calls[-1].request
    assert sent.body == b'{"a":1}' and sent.headers["X-Masking-Signature"] == "v1=x"
    assert len(responses.calls) == 3  # nothing went to the Location


@responses.activate
@pytest.mark.parametrize("error", [requests.ConnectionError("refused"), requests.ReadTimeout("slow")])
def test_no_answer_is_an_answer_without_status(error: Exception) -> None:
    responses.add(responses.POST, "https://a.example.com/down", body=error)

    answer = post_json("https://a.example.com/down", b"{}", {}, 5, PUBLIC_DNS)

    assert answer.status is None and answer.retryable and answer.error == type(error).__name__


def dns(*addresses: str) -> Any:
    """A fake ``socket.getaddrinfo`` answering these addresses for any name (no real DNS)."""

    def resolve(host: str, port: int, *_: Any) -> list[tuple[Any, ...]]:
        return [(0, 0, 0, "", (address, port)) for address in addresses]

    return resolve


PUBLIC_DNS = dns("93.184.215.14")


@responses.activate
@pytest.mark.parametrize("addresses", [("10.0.0.7",), ("93.184.215.14", "127.0.0.1"), ("169.254.169.254",), ("::ffff:192.168.0.1",)])
def test_a_name_resolving_to_a_non_public_address_is_not_posted(addresses: tuple[str, ...]) -> None:
    """Review finding 1 (SSRF at send time): a public-looking name whose DNS answers a
    private address (any of them) gets nothing, and the answer is not retried."""
    responses.add(responses.POST, "https://a.example.com/hook", status=200)

    answer = post_json("https://a.example.com/hook", b"{}", {}, 5, dns(*addresses))

    assert answer == HttpAnswer(None, error=NON_PUBLIC_ADDRESS, refused=True) and not answer.retryable
    assert len(responses.calls) == 0


@responses.activate
def test_loopback_is_posted_to_only_where_the_runner_allows_it() -> None:
    responses.add(responses.POST, "http://127.0.0.1:3000/_local/hooks/catch", status=200)

    assert post_json("http://127.0.0.1:3000/_local/hooks/catch", b"{}", {}, 5, dns("127.0.0.1"), allow_loopback=True) == HttpAnswer(200)
    assert post_json("http://127.0.0.1:3000/_local/hooks/catch", b"{}", {}, 5, dns("127.0.0.1")).refused
    assert post_json("http://127.0.0.1:3000/_local/hooks/catch", b"{}", {}, 5, dns("10.0.0.1"), allow_loopback=True).refused
    assert len(responses.calls) == 1


@pytest.mark.filterwarnings("ignore:A test tried to use socket.getaddrinfo")
def test_a_name_that_does_not_resolve_is_retried_and_tests_cannot_resolve() -> None:
    def nxdomain(*_: Any) -> list[tuple[Any, ...]]:
        raise OSError(-2, "Name or service not known")

    answer = post_json("https://gone.example.com/hook", b"{}", {}, 5, nxdomain)

    assert answer.status is None and answer.retryable and answer.error == "OSError"
    with pytest.raises(RuntimeError):  # pytest-socket: the default resolver is blocked in unit tests
        post_json("https://a.example.com/hook", b"{}", {}, 5)


def test_a_refused_target_goes_to_the_dlq_with_its_host_only(store: MemoryHookStore, caplog: pytest.LogCaptureFixture) -> None:
    target, queue = hook(store, ["client.created"]), MemoryHookQueue()
    refused = HttpAnswer(None, error=NON_PUBLIC_ADDRESS, refused=True)
    deliverer = Deliverer(store, lambda *_: refused, queue, HookSettings(), lambda: 1_700_000_000.0)
    delivery = Delivery(target.hook_id, sample("client.created"))

    assert deliverer.deliver(delivery) == Outcome.REJECTED
    assert queue.dead == [delivery] and queue.retried == []
    logs = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "non-public address" in logs and "hooks.zapier.com" in logs and "/hooks/catch/123456" not in logs


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("30") == 30
    assert retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == 10
    assert retry_after("soon") is None and retry_after(None) is None


def test_the_readme_snippet_verifies_a_real_delivery(store: MemoryHookStore) -> None:
    """The README's verification snippet, run as written, accepts a delivery and refuses a
    tampered body."""
    readme = (ROOT / "README.md").read_text()
    snippet = re.search(r"```python\n([^`]*?def verify\([^`]*?)```", readme)
    assert snippet, "README: the hook signature snippet"
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)  # our own README
    target = hook(store)
    consumer = Consumer()
    deliverer(store, consumer).deliver(Delivery(target.hook_id, sample("client.created")))
    [(_, body, headers)] = consumer.requests

    assert namespace["verify"](target.secret, headers, body, now=1_795_000_100)
    assert not namespace["verify"](target.secret, headers, body + b" ", now=1_795_000_100)
    assert not namespace["verify"](target.secret, headers, body, now=1_795_001_000)  # older than 5 minutes


def test_the_readme_lists_every_event() -> None:
    readme = Path(ROOT / "README.md").read_text()
    section = readme[readme.index("## Zapier") : readme.index("## The base drives the service")]
    for name in EVENTS:
        assert f"`{name}`" in section, name
