"""Admin references resolve in one place, bad admin input is a 4xx, and failure paths keep
phones and bodies out of the logs (issue 12). DynamoDB, SQS, SSM through moto."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.apigw import api_gateway_event
from local.backends import DEMO_ADMIN_API_KEY, EmbeddedAws
from masking.core.models import Client
from masking.store.admin import DynamoAdminStore
from masking.store.dynamo import DynamoRoutingStore
from tests.support import OLIVIA, PROVIDER, FakeLambdaContext, load_handler, seed

handler = load_handler("create_session").lambda_handler
HOST = "abc123.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def store(aws: EmbeddedAws) -> DynamoAdminStore:
    admin_store = DynamoAdminStore(aws.env["TABLE_NAME"])
    seed(admin_store)
    assert admin_store.save_client(Client(client_id="cl-ext", name="Ext Owner", phone="+13035550203", external_id="ttp-77"), None)
    return admin_store


def call(method: str, path: str, body: dict[str, Any] | str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"X-Api-Key": DEMO_ADMIN_API_KEY, "Content-Type": "application/json"}
    text = json.dumps(body) if isinstance(body, dict) else body
    response = handler(api_gateway_event(method, f"https://{HOST}{path}", body=text, headers=headers, stage="dev"), FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("reference", "client_id"),
    [
        (OLIVIA.client_id, OLIVIA.client_id),
        ("ttp-77", "cl-ext"),
        (OLIVIA.phone, OLIVIA.client_id),
        ("(303) 555-0201", OLIVIA.client_id),
        ("303.555.0201", OLIVIA.client_id),
        ("+1 303 555 0201", OLIVIA.client_id),
    ],
)
def test_sessions_and_calls_resolve_every_kind_of_client_reference(store: DynamoAdminStore, reference: str, client_id: str) -> None:
    """Measured: POST /sessions with client = a phone answered 404; POST /calls with
    "(303) 555-0201" answered 404 (only exact E.164 matched)."""
    status, opened = call("POST", "/sessions", {"provider": PROVIDER.provider_id, "client": reference})
    assert status in (200, 201), opened
    assert opened["session"]["client_id"] == client_id

    status, started = call("POST", "/calls", {"provider": PROVIDER.provider_id, "client": reference})
    assert status == 201, started
    assert started["call"]["client_id"] == client_id


def test_calls_accept_client_phone_like_sessions(store: DynamoAdminStore) -> None:
    """Measured: POST /calls had no client_phone field."""
    status, started = call("POST", "/calls", {"provider": PROVIDER.provider_id, "client_phone": "(303) 555-0201"})
    assert status == 201 and started["call"]["client_id"] == OLIVIA.client_id

    status, answer = call("POST", "/calls", {"provider": PROVIDER.provider_id})
    assert status == 422 and answer["details"][0]["field"] == "client"

    status, _ = call("POST", "/calls", {"provider": PROVIDER.provider_id, "client": "(303) 555-0999"})
    assert status == 404


@pytest.mark.parametrize(
    "body",
    [
        "[" * 50_000 + "]" * 50_000,  # measured: an uncaught RecursionError (500)
        '{"provider": ' + "[" * 500 + "]" * 500 + "}",
        json.dumps({"provider": PROVIDER.provider_id, "client": OLIVIA.client_id, "pad": "x" * 70_000}),
    ],
)
def test_deep_or_huge_json_is_a_400(store: DynamoAdminStore, body: str) -> None:
    status, answer = call("POST", "/sessions", body)
    assert status == 400 and answer["success"] is False


PHONE = re.compile(r"\+?1?\s*\(?303\)?[\s.-]*555[\s.-]*0[0-9]{3}")


def test_failure_paths_log_no_phone_and_no_body(
    store: DynamoAdminStore, aws: EmbeddedAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured: a KeyError in the DynamoDB store put a client's phone in the error log.
    Every failure path below is run and its log lines and exception texts grepped."""
    routing = DynamoRoutingStore(aws.env["TABLE_NAME"])
    secret_body = "my door code is 4321"
    texts: list[str] = []

    # the store: a cancelled client creation whose phone item cannot be read back
    routing._batch_get = lambda keys: {}  # type: ignore[method-assign]
    routing._transact = lambda items: ["TransactionConflict", "None"]  # type: ignore[method-assign]
    with pytest.raises(Exception) as raised:
        routing.create_client(Client(client_id="cl-x", name="X", phone="+13035550444", created_at="2026-01-01T00:00:00Z"))
    texts.append(str(raised.value))

    # admin: unreadable and invalid bodies that carry a phone and a message
    for body in (f"phone=+13035550444&note={secret_body}&&=bad", '{"phone": "+13035550444", "name": ' + "[" * 100 + "]" * 100 + "}"):
        texts.append(json.dumps(call("POST", "/clients", body)))

    # an unexpected error inside a route (the store fails)
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "GetItem")

    monkeypatch.setattr(DynamoAdminStore, "get_provider", broken)
    texts.append(json.dumps(call("POST", "/sessions", {"provider": PROVIDER.provider_id, "client_phone": "+13035550444"})))
    monkeypatch.undo()
    texts.append(capsys.readouterr().out)

    joined = "\n".join(texts)
    assert "internal error" in joined  # the failure paths did run
    assert not PHONE.search(joined.replace("+13035550101", "")), PHONE.search(joined)
    assert secret_body not in joined and "4321" not in joined
