"""The old service's endpoints (deprecated aliases) through create_session's lambda_handler,
on moto with the Twilio sandbox: the old Zaps' field names, lowercase lifecycles and
Airtable record ids as sitter ids reach the same domain functions as the admin API."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from local.apigw import api_gateway_event
from local.backends import DEMO_ADMIN_API_KEY, EmbeddedAws
from masking.admin.adoption import save_provider_alias
from masking.core.models import Lifecycle, NumberStatus, Provider
from masking.store.admin import DynamoAdminStore
from masking.wiring import sandbox_http_client
from tests.support import OLIVIA, PETE, POOL, PROVIDER, FakeLambdaContext, load_handler, seed

handler = load_handler("create_session").lambda_handler
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
NORA = Provider(provider_id="PRrecNora0000000001", name="Nora Nanny", phone="+13035550150", reserved_number=None)


@pytest.fixture
def store(aws: EmbeddedAws) -> DynamoAdminStore:
    admin_store = DynamoAdminStore(aws.env["TABLE_NAME"])
    seed(admin_store)
    admin_store.create_provider(NORA)  # imported from Airtable: PR<record id>, no number yet
    return admin_store


def call(
    method: str, path: str, form: dict[str, str] | None = None, key: str | None = DEMO_ADMIN_API_KEY
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A Zapier-style request: a form body, as the old Zaps send it."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
    if key:
        headers["x-api-key"] = key
    body = urlencode(form) if form is not None else None
    event = api_gateway_event(method, f"https://{HOST}{path}", body=body, headers=headers, stage="dev")
    response = handler(event, FakeLambdaContext(function_name="masking-create-session"))
    answer_headers = response.get("headers") or {name: values[-1] for name, values in response["multiValueHeaders"].items()}
    return response["statusCode"], json.loads(response["body"]), answer_headers


def test_attach_number_with_an_airtable_record_id_makes_a_standby_number_the_sitters_reserved_number(store: DynamoAdminStore) -> None:
    status, bought, _ = call("POST", "/numbers/purchase", {"lifecycle": "standby reserved"})  # the old spelling, lowercase
    assert status == 201 and bought["number"]["lifecycle"] == "Standby" and bought["number"]["status"] == "Ready"
    number = bought["number"]["number"]
    save_provider_alias(store, "recSitterNora", NORA.provider_id)  # what tools.airtable_import keeps

    status, body, headers = call(
        "POST", "/attach-number", {"sitter_id": "recSitterNora", "phone_number": f"({number[2:5]}) {number[5:8]}-{number[8:]}"}
    )

    assert status == 200, body
    assert body["deprecated"] is True and body["changed"] is True
    assert headers["Deprecation"] == "true" and "/providers" in headers["Link"]
    assert body["provider"]["reserved_number"] == number
    stored = store.get_number(number)
    assert stored and (stored.lifecycle, stored.provider_id, stored.status) == (Lifecycle.RESERVED, NORA.provider_id, NumberStatus.READY)
    resource = next(r for r in sandbox_http_client().numbers.values() if r["phone_number"] == number)
    assert resource["sms_url"] == f"https://{HOST}/dev/twilio/sms"

    again = call("POST", "/attach-number", {"sitter_id": "recSitterNora", "phone_number": number})
    assert again[0] == 200 and again[1]["changed"] is False


def test_attach_number_refuses_a_pool_number_and_an_unknown_sitter(store: DynamoAdminStore) -> None:
    assert call("POST", "/attach-number", {"sitter_id": NORA.provider_id, "phone_number": POOL[0]})[0] == 409
    status, body, _ = call("POST", "/attach-number", {"sitter_id": "recNobody", "phone_number": POOL[0]})
    assert status == 404 and body["details"] == {"provider": "recNobody"}
    status, body, _ = call("POST", "/attach-number", {"sitter_id": NORA.provider_id})
    assert status == 422 and body["details"][0]["field"] == "phone"


def test_purchase_with_sitter_id_buys_attaches_and_assigns_a_reserved_number(store: DynamoAdminStore) -> None:
    # the import's id for a Sitters row without "Provider ID" is PR<record id>: the rec id resolves to it
    status, body, _ = call("POST", "/numbers/purchase", {"lifecycle": "reserved", "sitter_id": "recNora0000000001", "area_code": "720"})

    assert status == 201, body
    number = body["number"]["number"]
    assert number.startswith("+1720") and body["provider"]["reserved_number"] == number
    nora = store.get_provider(NORA.provider_id)
    assert nora and nora.reserved_number == number
    assert call("POST", "/numbers/purchase", {"lifecycle": "pool", "sitter_id": NORA.provider_id})[0] == 422
    bought_before = len(sandbox_http_client().bought)
    assert call("POST", "/numbers/purchase", {"lifecycle": "reserved", "sitter_id": NORA.provider_id})[0] == 409  # has one now
    assert len(sandbox_http_client().bought) == bought_before  # refused before anything was bought


def test_check_and_replenish_runs_the_pool_monitor_with_the_given_threshold(store: DynamoAdminStore) -> None:
    status, body, _ = call("POST", "/inventory/check-and-replenish", {"threshold": "0.5", "cooldown_hours": "0"})
    assert status == 200 and body["decision"] == "below_threshold" and body["pool"]["ready_pool_numbers"] == 3

    for client in (OLIVIA, PETE):  # 2 of 3 pool numbers held by one provider: 0.67 >= 0.5
        open_body = {"provider": PROVIDER.provider_id, "client": client.client_id}
        event = api_gateway_event(
            "POST", f"https://{HOST}/sessions", body=json.dumps(open_body), headers={"x-api-key": DEMO_ADMIN_API_KEY}, stage="dev"
        )
        assert handler(event, FakeLambdaContext(function_name="masking-create-session"))["statusCode"] == 201

    status, body, _ = call("POST", "/inventory/check-and-replenish", {"threshold": "0.5", "cooldown_hours": "0"})

    assert status == 200 and body["decision"] == "purchased" and body["number"]
    assert call("POST", "/inventory/check-and-replenish", {"threshold": "2"})[0] == 422


def test_standby_replenish_buys_one_standby_number_once(store: DynamoAdminStore) -> None:
    status, body, _ = call("POST", "/numbers/standby-replenish", {"area_code": "720"})
    assert status == 201 and body["replenished"] is True and body["number"]["number"].startswith("+1720")

    status, body, _ = call("POST", "/numbers/standby-replenish", {"area_code": "720"})
    assert status == 200 and body["replenished"] is False
    assert len(store.list_numbers(Lifecycle.STANDBY)) == 1


def test_active_count_counts_active_sessions_overall_and_per_sitter(store: DynamoAdminStore) -> None:
    assert call("GET", "/sessions/active-count")[1]["active_count"] == 0
    event = api_gateway_event(
        "POST",
        f"https://{HOST}/sessions",
        body=json.dumps({"provider": PROVIDER.provider_id, "client": OLIVIA.client_id}),
        headers={"x-api-key": DEMO_ADMIN_API_KEY},
        stage="dev",
    )
    handler(event, FakeLambdaContext(function_name="masking-create-session"))

    status, body, headers = call("GET", "/sessions/active-count")
    assert status == 200 and body["active_count"] == 1 and headers["Deprecation"] == "true"
    assert call("GET", f"/sessions/active-count?sitter_id={PROVIDER.provider_id}")[1] == {
        "success": True,
        "deprecated": True,
        "active_count": 1,
        "provider": PROVIDER.provider_id,
    }
    assert call("GET", f"/sessions/active-count?Sitter%20ID={NORA.provider_id}")[1]["active_count"] == 0
    assert call("GET", "/sessions/active-count?sitter_id=recNobody")[0] == 404


@pytest.mark.parametrize("path", ["/attach-number", "/inventory/check-and-replenish", "/numbers/standby-replenish"])
def test_the_legacy_routes_need_the_api_key(store: DynamoAdminStore, path: str) -> None:
    assert call("POST", path, {}, key=None)[0] == 403
    assert call("GET", "/sessions/active-count", key="wrong")[0] == 403
