"""Outbound hooks as deployed, on DynamoDB and SQS (moto): the /hooks routes through
create_session's lambda_handler; a new client's SMS through intercept; the outbox batch
through airtable_sync (with the Airtable stand-in, and with no Airtable at all); the hooks
queue through the hooks function, POSTing with ``responses`` (no network)."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import responses

from local.backends import SECRETS_PATH, EmbeddedAws
from local.make_events import _sqs_batch
from masking.handlers.hooks import dispatch_outbox
from masking.hooks.delivery import Delivery
from masking.store.dynamo import DynamoRoutingStore
from masking.store.hooks import DynamoHookStore
from tests.integration.conftest import embedded_aws
from tests.integration.test_admin_api import call
from tests.integration.test_airtable_sync import BASE, drain, standin  # noqa: F401  (the stand-in fixture)
from tests.support import ACCOUNT_SID, OLIVIA, POOL, PROVIDER, SMS_URL, FakeLambdaContext, load_handler, seed, signed_event

intercept = load_handler("intercept").lambda_handler
hooks_function = load_handler("hooks").lambda_handler
TARGET = "https://hooks.example.com/catch/1/abc/"
SIDS = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hooks function resolves its target before POSTing (masking.adapters.hook_http):
    answer a public address here, never real DNS."""
    import socket

    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, port, *_: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
    )


@pytest.fixture
def aws() -> Iterator[EmbeddedAws]:
    with embedded_aws(HOOK_RETRY_DELAYS="0,0") as embedded:  # no waiting in a test: 3 attempts in all
        seed(DynamoRoutingStore(embedded.env["TABLE_NAME"]))
        yield embedded


def subscribe(events: list[str], url: str = TARGET) -> dict[str, Any]:
    status, body = call("POST", "/hooks", {"target_url": url, "events": events})
    assert status == 201, body
    return body


def text(from_phone: str, to_number: str, body: str = "Hi") -> None:
    params = {
        "MessageSid": f"SM{next(SIDS):032d}",
        "AccountSid": ACCOUNT_SID,
        "From": from_phone,
        "To": to_number,
        "Body": body,
        "NumMedia": "0",
    }
    assert intercept(signed_event(SMS_URL, params), FakeLambdaContext())["statusCode"] == 200


def outbox_to_hooks(aws: EmbeddedAws) -> None:
    """The outbox consumer's first step, before it writes Airtable."""
    assert dispatch_outbox(_sqs_batch("OutboxQueue", aws.drain_outbox())) == {}


def run_hooks(aws: EmbeddedAws) -> list[str]:
    """One poll of the hooks queue into the hooks function (BatchSize 1); the bodies."""
    bodies = aws.drain("HOOKS_QUEUE_URL")
    for body in bodies:
        assert hooks_function(_sqs_batch("HooksQueue", [body]), FakeLambdaContext()) == {"batchItemFailures": []}
    return bodies


def consumer(*statuses: int) -> responses.RequestsMock:
    """The hook's URL, answering ``statuses`` in order (the last one from then on)."""
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    for status in statuses:
        mock.add(responses.POST, TARGET, status=status)
    return mock


def new_client(aws: EmbeddedAws, phone: str) -> None:
    """A new number texts Sam; the outbox consumer queues the event's deliveries."""
    text(phone, str(PROVIDER.reserved_number))
    outbox_to_hooks(aws)


def deliver(aws: EmbeddedAws, *statuses: int, rounds: int = 1) -> list[Any]:
    """``rounds`` polls of the hooks queue, the URL answering ``statuses``; the requests it got."""
    with consumer(*statuses) as mock:
        for _ in range(rounds):
            run_hooks(aws)
        return list(mock.calls)


# ---------------------------------------------------------------- the routes


def test_subscribe_list_and_unsubscribe_through_the_admin_api(aws: EmbeddedAws) -> None:
    created = subscribe(["client.created", "pool.low"])
    hook_id, secret = created["id"], created["secret"]

    assert hook_id.startswith("HK") and created["hook"]["events"] == ["client.created", "pool.low"]
    again = call("POST", "/hooks", {"targetUrl": TARGET, "event": "client.created, pool.low"})  # Zapier's names, a form field
    assert again == (200, {**created, "success": True})
    status, listed = call("GET", "/hooks")
    assert status == 200 and listed["hooks"] == [created["hook"]] and "client.created" in listed["events"]
    assert secret not in json.dumps(listed)
    assert [h.hook_id for h in DynamoHookStore(aws.env["TABLE_NAME"]).list_hooks()] == [hook_id]

    assert call("DELETE", f"/hooks/{hook_id}") == (200, {"success": True, "id": hook_id, "hook": created["hook"]})
    assert call("DELETE", f"/hooks/{hook_id}")[0] == 404
    assert call("GET", "/hooks")[1]["hooks"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_url": "https://192.168.1.10/hook", "events": ["pool.low"]}, "target_url"),
        ({"target_url": "ftp://hooks.example.com/", "events": ["pool.low"]}, "target_url"),
        ({"target_url": TARGET, "events": ["pool.low", "no.such.event"]}, "events"),
        ({"target_url": TARGET}, "events"),
        ({"events": ["pool.low"]}, "target_url"),
    ],
)
def test_an_invalid_subscription_is_a_422_naming_the_field(aws: EmbeddedAws, body: dict[str, Any], field: str) -> None:
    status, answer = call("POST", "/hooks", body)

    assert status == 422 and answer["success"] is False
    assert [d["field"] for d in answer["details"]] == [field]
    assert call("GET", "/hooks")[1]["hooks"] == []


def test_an_unreadable_body_is_a_400(aws: EmbeddedAws) -> None:
    assert call("POST", "/hooks", '{"target_url": ', content_type="application/json")[0] == 400


def test_samples_for_the_zap_editor_and_a_test_delivery(aws: EmbeddedAws) -> None:
    status, samples = call("GET", "/hooks/samples/provisioning.done")
    assert status == 200 and isinstance(samples, list)
    [sample] = samples
    assert sample["event"] == "provisioning.done" and sample["data"]["path"] == "A"
    assert call("GET", "/hooks/samples/no.such.event")[0] == 404

    hook = subscribe(["pool.low"])
    status, answer = call("POST", f"/hooks/{hook['id']}/test", {})

    assert status == 202 and answer["event"]["test"] is True and answer["event"]["event"] == "pool.low"
    [queued] = aws.drain("HOOKS_QUEUE_URL")
    assert Delivery.from_json(queued).event.id == answer["event"]["id"]
    assert call("POST", "/hooks/HKnone/test", {})[0] == 404


# ---------------------------------------------------------------- deliveries


def test_a_new_client_is_delivered_signed_after_a_500_is_retried(aws: EmbeddedAws) -> None:
    hook = subscribe(["client.created"])
    text("+13035550299", str(PROVIDER.reserved_number), "Hello, is Friday free?")
    outbox_to_hooks(aws)

    with consumer(500, 200) as mock:
        [first] = run_hooks(aws)
        [retried] = run_hooks(aws)
        assert run_hooks(aws) == []
        mock_calls = list(mock.calls)

    assert Delivery.from_json(retried).attempt == 2
    assert [c.response.status_code for c in mock_calls] == [500, 200]
    request = mock_calls[-1].request
    body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    timestamp = request.headers["X-Masking-Timestamp"]
    expected = hmac.new(hook["secret"].encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert request.headers["X-Masking-Signature"] == f"v1={expected}"
    payload = json.loads(body)
    assert payload["event"] == "client.created" and payload["id"] == request.headers["X-Masking-Event-Id"]
    assert payload["data"]["provider_id"] == PROVIDER.provider_id and payload["data"]["source"] == "sms"
    assert "+13035550299" not in body.decode() and "Friday" not in body.decode()
    assert mock_calls[0].request.body == request.body  # every attempt POSTs the same bytes

    with consumer(200) as again:  # SQS delivers the first message once more: acknowledged, not POSTed
        hooks_function(_sqs_batch("HooksQueue", [first]), FakeLambdaContext())
        again_calls = list(again.calls)
    assert again_calls == []


def test_a_429_is_retried(aws: EmbeddedAws) -> None:
    subscribe(["client.created"])
    new_client(aws, "+13035550298")

    calls = deliver(aws, 429, 204, rounds=3)

    assert [c.response.status_code for c in calls] == [429, 204]


def test_a_410_unsubscribes_the_hook(aws: EmbeddedAws) -> None:
    subscribe(["client.created"])
    new_client(aws, "+13035550297")

    calls = deliver(aws, 410, rounds=2)
    new_client(aws, "+13035550296")

    assert len(calls) == 1 and deliver(aws, 410) == []
    assert call("GET", "/hooks")[1]["hooks"] == []


def test_after_the_last_attempt_the_delivery_is_in_the_dlq(aws: EmbeddedAws) -> None:
    subscribe(["client.created"])
    new_client(aws, "+13035550295")

    assert len(deliver(aws, 503, rounds=4)) == 3  # HOOK_RETRY_DELAYS "0,0": three attempts

    [dead] = aws.drain("HOOKS_DLQ_URL")
    assert Delivery.from_json(dead).attempt == 3


def test_a_refusing_consumer_is_not_retried_and_the_delivery_is_set_aside(aws: EmbeddedAws) -> None:
    subscribe(["client.created"])
    new_client(aws, "+13035550294")

    assert len(deliver(aws, 404, rounds=2)) == 1

    assert len(aws.drain("HOOKS_DLQ_URL")) == 1
    assert len(call("GET", "/hooks")[1]["hooks"]) == 1  # kept: only a 410 unsubscribes


def test_provisioning_through_the_admin_api_is_delivered(aws: EmbeddedAws) -> None:
    subscribe(["provisioning.done", "client.created"])
    status, created = call("POST", "/providers", {"name": "Nick Nanny", "phone": "3035550151"})
    assert status == 201
    outbox_to_hooks(aws)

    [payload] = [json.loads(c.request.body) for c in deliver(aws, 200)]
    assert payload["event"] == "provisioning.done"
    assert payload["data"] == {"provider_id": created["provider"]["provider_id"], "path": "B", "reserved_number": "+13035555000"}


# ---------------------------------------------------------------- the outbox consumer, with and without Airtable


def test_the_outbox_consumer_queues_hook_events_and_mirrors_to_airtable(aws: EmbeddedAws, standin: Any) -> None:  # noqa: F811
    subscribe(["client.created"])
    text("+13035550293", str(PROVIDER.reserved_number))

    answers = drain(aws, standin)

    assert all(a == {"batchItemFailures": []} for a in answers)
    [delivery] = [Delivery.from_json(b) for b in aws.drain("HOOKS_QUEUE_URL")]
    assert delivery.event.name == "client.created"
    assert any(r["fields"].get("Event") == "Client created" for r in standin.rows("Audit Log", BASE))


def test_hooks_fire_without_airtable(aws: EmbeddedAws, caplog: pytest.LogCaptureFixture) -> None:
    """Review finding 4: without Airtable the batch is acknowledged once its hooks are
    queued (before, it raised and SQS redelivered it, queueing the deliveries again)."""
    ssm = boto3.client("ssm")
    ssm.delete_parameters(Names=[f"{SECRETS_PATH}/airtable/token", f"{SECRETS_PATH}/airtable/base_id"])
    subscribe(["client.created"])
    text("+13035550292", str(PROVIDER.reserved_number))
    sync = load_handler("airtable_sync")
    sys.modules["airtable_mirror.handler"].get_mirror.cache_clear()

    answer = sync.lambda_handler(_sqs_batch("OutboxQueue", aws.drain_outbox()), FakeLambdaContext(function_name="masking-airtable-sync"))

    assert answer == {"batchItemFailures": []}
    assert [r.getMessage() for r in caplog.records].count("airtable sync off: no Airtable configured") == 1
    [delivery] = [Delivery.from_json(b) for b in aws.drain("HOOKS_QUEUE_URL")]
    assert delivery.event.name == "client.created"


def test_an_unreadable_airtable_secret_still_fails_the_batch(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding 4: SSM refusing (access denied) is not "no Airtable": the batch fails
    loudly (Errors alarm) and is redelivered."""
    from botocore.exceptions import ClientError

    subscribe(["client.created"])
    text("+13035550293", str(PROVIDER.reserved_number))
    sync = load_handler("airtable_sync")
    handler = sys.modules["airtable_mirror.handler"]
    handler.get_mirror.cache_clear()

    def denied(*_: str) -> dict[str, str]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameters")

    monkeypatch.setattr(handler, "read_secure_parameters", denied)
    with pytest.raises(ClientError):
        sync.lambda_handler(_sqs_batch("OutboxQueue", aws.drain_outbox()), FakeLambdaContext(function_name="masking-airtable-sync"))
    handler.get_mirror.cache_clear()


# ---------------------------------------------------------------- the webhook path


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every AWS request moto answers, by service."""
    from moto.core.botocore_stubber import BotocoreStubber

    calls: Counter[str] = Counter()
    original = BotocoreStubber.__call__

    def counting(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        calls[event_name.split(".")[1]] += 1
        return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", counting)
    return calls


def test_hooks_add_no_call_to_the_sms_webhook(aws: EmbeddedAws, aws_calls: Counter[str]) -> None:
    text(OLIVIA.phone, str(PROVIDER.reserved_number))  # warm: credentials, the pair's lease
    text("+13035550291", str(PROVIDER.reserved_number))  # a new client, no hook yet
    aws_calls.clear()
    text("+13035550290", str(PROVIDER.reserved_number))
    without = dict(aws_calls)
    subscribe(["client.created", "delivery.failed", "pool.low", "provisioning.done", "provisioning.failed"])
    aws.drain_outbox()

    aws_calls.clear()
    text("+13035550289", str(PROVIDER.reserved_number))  # a new client, every event subscribed
    with_hooks = dict(aws_calls)
    aws_calls.clear()
    text(PROVIDER.phone, POOL[0], "steady state")  # Sam answers Olivia
    steady = dict(aws_calls)

    assert with_hooks == without and with_hooks["sqs"] == 1  # the outbox's one SendMessageBatch
    assert steady["sqs"] == 1 and steady["dynamodb"] <= 4
    assert aws.drain("HOOKS_QUEUE_URL") == []  # nothing reaches the hooks queue from the webhook
