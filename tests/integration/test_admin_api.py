"""The admin API through create_session's lambda_handler, on DynamoDB/SQS/Secrets Manager
(moto) with the Twilio sandbox: API key, Zapier-style input, every route, error shapes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from local.apigw import api_gateway_event
from local.backends import DEMO_ADMIN_API_KEY, VERIFICATION_PHONE, EmbeddedAws
from masking.core.models import Lifecycle, NumberRecord, NumberStatus
from masking.mirror.outbox import MirrorRecord
from masking.store.admin import DynamoAdminStore
from masking.wiring import sandbox_http_client
from tests.support import EVENTS, OLIVIA, POOL, PROVIDER, ROOT, FakeLambdaContext, load_event, load_handler, seed

handler = load_handler("create_session").lambda_handler
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
BASE = f"https://{HOST}/dev"
STANDBY = "+17205550050"
ADMIN_EVENTS = sorted(path.stem for path in EVENTS.glob("admin_*.json"))


@pytest.fixture
def store(aws: EmbeddedAws) -> DynamoAdminStore:
    admin_store = DynamoAdminStore(aws.env["TABLE_NAME"])
    seed(admin_store)
    return admin_store


def call(
    method: str,
    path: str,
    body: dict[str, Any] | str | None = None,
    *,
    key: str | None = DEMO_ADMIN_API_KEY,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type} if body is not None else {}
    if key is not None:
        headers["X-Api-Key"] = key
    text = json.dumps(body) if isinstance(body, dict) else body
    event = api_gateway_event(method, f"https://{HOST}{path}", body=text, headers=headers, stage="dev")
    return invoke(event)


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler(event, FakeLambdaContext(function_name="masking-create-session"))
    headers = response.get("headers") or {name: values[-1] for name, values in response["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def records(aws: EmbeddedAws) -> list[MirrorRecord]:
    return [MirrorRecord.from_json(body) for body in aws.drain_outbox()]


def open_session(provider: str = PROVIDER.provider_id, client: str = OLIVIA.client_id) -> dict[str, Any]:
    status, body = call("POST", "/sessions", {"provider": provider, "client": client})
    assert status in (200, 201), body
    return dict(body["session"])


# ---------------------------------------------------------------- API key


@pytest.mark.parametrize("name", ADMIN_EVENTS)
@pytest.mark.parametrize("key", [None, DEMO_ADMIN_API_KEY + "x"])
def test_missing_or_wrong_api_key_is_403_and_nothing_happens(aws: EmbeddedAws, store: DynamoAdminStore, name: str, key: str | None) -> None:
    event = load_event(name)
    del event["headers"]["x-api-key"], event["multiValueHeaders"]["x-api-key"]
    if key is not None:
        event["headers"]["x-api-key"] = key
    numbers_before = store.list_numbers()

    status, body = invoke(event)

    assert status == 403
    assert body == {"success": False, "error": "missing or invalid API key", "details": None}
    assert sandbox_http_client().requests == []
    assert records(aws) == []
    assert store.list_numbers() == numbers_before


@pytest.mark.parametrize("name", ADMIN_EVENTS)
def test_every_admin_event_is_answered_without_a_server_error(store: DynamoAdminStore, name: str) -> None:
    status, body = invoke(load_event(name))

    assert status < 500, body
    if name == "admin_hook_samples":  # Zapier's perform list: a bare JSON array of samples
        assert status == 200 and isinstance(body, list) and body
        return
    assert body.get("success") is (status < 300) or name == "admin_openapi"


# ---------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/providers", {"name": "Nora", "phone": "555"}, "phone"),
        ("/clients", {"phone": "not a phone"}, "phone"),
        ("/sessions", {"provider": PROVIDER.provider_id, "client_phone": "+1 000 000 0000"}, "client_phone"),
    ],
)
def test_an_invalid_phone_is_422_naming_the_field(store: DynamoAdminStore, path: str, body: dict[str, Any], field: str) -> None:
    status, answer = call("PUT" if path == "/clients" else "POST", path, body)

    assert status == 422
    assert answer["success"] is False and answer["error"] == "invalid request"
    [problem] = [d["problem"] for d in answer["details"] if d["field"] == field]
    assert problem in ("not a valid phone number", "cannot parse phone number: (1) The string supplied did not seem to be a phone number.")
    assert sandbox_http_client().requests == []


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/sessions", {"Sitter ID": "prov-sam", "Client ID": "cl-olivia"}, "application/json"),
        ("/sessions", {"sitterId": "prov-sam", "clientId": "cl-olivia"}, "application/json"),
        ("/sessions", {"SitterId": "prov-sam", "TTP ID": "cl-olivia"}, "application/json"),
        ("/sessions", urlencode({"sitter_id": "prov-sam", "client": "cl-olivia"}), "application/x-www-form-urlencoded"),
        ("/sessions?Sitter%20ID=prov-sam&client_id=cl-olivia", None, "application/json"),
        ("/sessions?provider=prov-sam", urlencode({"client": "cl-olivia", "notify": "false"}), "application/x-www-form-urlencoded"),
    ],
)
def test_zapier_style_keys_forms_and_query_parameters_reach_the_same_fields(
    store: DynamoAdminStore, path: str, body: Any, content_type: str
) -> None:
    status, answer = call("POST", path, body, content_type=content_type)

    assert status == 201, answer
    assert (answer["session"]["provider_id"], answer["session"]["client_id"]) == (PROVIDER.provider_id, OLIVIA.client_id)


def test_zapier_names_for_a_client_and_typed_phone_numbers(store: DynamoAdminStore) -> None:
    status, answer = call(
        "PUT", "/clients", {"TTP Client ID": "ttp-77", "Full Name": "Fay Fern", "Phone Number": "(303) 555-0177", "Email": ""}
    )

    assert status == 201
    assert answer["client"]["external_id"] == "ttp-77"
    assert answer["client"]["phone"] == "+13035550177"
    assert answer["client"]["name"] == "Fay Fern"
    assert answer["client"]["email"] is None  # Zapier's "" for an unmapped field is absent


def test_an_empty_body_is_422_naming_the_required_fields(store: DynamoAdminStore) -> None:
    status, answer = call("POST", "/providers", "")

    assert status == 422
    assert answer["success"] is False
    assert {d["field"] for d in answer["details"]} == {"name", "phone"}


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"'])
def test_a_body_that_is_not_a_json_object_is_400(store: DynamoAdminStore, body: str) -> None:
    status, answer = call("POST", "/providers", body)

    assert status == 400
    assert answer["success"] is False and answer["details"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/sessions", {"provider": "prov-sam", "client": "cl-olivia", "ttl_days": 0}, "ttl_days"),
        ("POST", "/sessions", {"provider": "prov-sam", "client": "cl-olivia", "ttl_days": 366}, "ttl_days"),
        ("POST", "/sessions", {"provider": "prov-sam"}, "client"),
        ("POST", "/numbers/purchase", {"lifecycle": "Spare"}, "lifecycle"),
        ("POST", "/numbers/purchase", {"lifecycle": "Pool", "area_code": "30"}, "area_code"),
        ("GET", "/numbers?lifecycle=Spare", None, "lifecycle"),
        ("GET", "/sessions", None, "provider"),
        ("GET", "/sessions/not%20an%20id", None, "session_id"),
        ("POST", "/numbers/12/attach", None, "number"),
    ],
)
def test_invalid_input_is_422_naming_the_field(store: DynamoAdminStore, method: str, path: str, body: Any, field: str) -> None:
    status, answer = call(method, path, body)

    assert status == 422, answer
    assert field in [d["field"] for d in answer["details"]]


# ---------------------------------------------------------------- sessions


def test_open_read_list_and_close_a_session(aws: EmbeddedAws, store: DynamoAdminStore) -> None:
    status, opened = call("POST", "/sessions", {"provider": "prov-sam", "client": "cl-olivia", "ttl_days": 2, "notify": True})
    assert status == 201
    session = opened["session"]
    assert session["pool_number"] == POOL[0] and session["active"] and session["notified"]
    [notice] = sandbox_http_client().sent
    assert (notice.from_number, notice.to_phone) == (POOL[0], PROVIDER.phone)
    assert "Session opened" in [r.fields.get("Event") for r in records(aws)]

    again_status, again = call("POST", "/sessions", {"provider": "prov-sam", "client": "cl-olivia"})
    assert again_status == 200 and again["session"]["id"] == session["id"]

    assert call("GET", f"/sessions/{session['id']}") == (200, {"success": True, "session": {**session, "notified": None, "created": False}})
    status, listed = call("GET", "/sessions?provider=prov-sam")
    assert status == 200 and [s["id"] for s in listed["sessions"]] == [session["id"]]

    status, closed = call("DELETE", f"/sessions/{session['id']}")
    assert status == 200 and closed["session"]["active"] is False
    assert call("GET", "/sessions?provider=prov-sam")[1]["sessions"] == []
    assert [s["id"] for s in call("GET", "/sessions?provider=prov-sam&include_expired=true")[1]["sessions"]] == [session["id"]]


def test_a_session_with_a_new_client_phone_creates_the_client(store: DynamoAdminStore) -> None:
    status, answer = call("POST", "/sessions", {"provider": "prov-sam", "client_phone": "720 555 0188"})

    assert status == 201
    client = store.find_client(phone="+17205550188")
    assert client is not None and answer["session"]["client_id"] == client.client_id


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/sessions/LS" + "0" * 32, None),
        ("DELETE", "/sessions/LS" + "0" * 32, None),
        ("GET", "/sessions?provider=prov-nobody", None),
        ("POST", "/sessions", {"provider": "prov-nobody", "client": "cl-olivia"}),
        ("POST", "/sessions", {"provider": "prov-sam", "client": "cl-nobody"}),
        ("GET", "/providers/prov-nobody", None),
        ("DELETE", "/providers/prov-nobody", None),
        ("POST", "/providers/prov-nobody/rotate-number", None),
        ("PUT", "/clients", {"phone": "+13035550177", "provider": "prov-nobody"}),
        ("POST", "/numbers/%2B13035559999/attach", None),
        ("GET", "/no/such/route", None),
    ],
)
def test_unknown_things_are_404(store: DynamoAdminStore, method: str, path: str, body: Any) -> None:
    status, answer = call(method, path, body)

    assert status == 404, answer
    assert answer["success"] is False and answer["error"]


# ---------------------------------------------------------------- providers


def test_create_provider_path_a_then_the_same_phone_again(aws: EmbeddedAws, store: DynamoAdminStore) -> None:
    store.put_number(NumberRecord(number=STANDBY, lifecycle=Lifecycle.STANDBY, twilio_sid="PN" + "5" * 32))

    status, created = call("POST", "/providers", {"name": "Nora Nanny", "phone": "303-555-0150", "email": "nora@example.com"})

    assert status == 201
    assert created["path"] == "A" and created["created"] is True
    assert created["provider"]["reserved_number"] == STANDBY and created["provider"]["phone"] == "+13035550150"
    assert {r.kind for r in records(aws)} >= {"provider", "number", "audit"}

    status, again = call("POST", "/providers", {"name": "Nora Nanny", "phone": "+13035550150"})
    assert status == 200
    assert again["path"] == "existing" and again["provider"]["provider_id"] == created["provider"]["provider_id"]


def test_create_provider_path_b_buys_attaches_and_verifies(store: DynamoAdminStore) -> None:
    status, created = call("POST", "/providers", {"name": "Nick Nanny", "phone": "3035550151"})

    assert status == 201 and created["path"] == "B"
    number = store.get_number(created["provider"]["reserved_number"])
    assert number is not None and number.status == NumberStatus.READY and number.lifecycle == Lifecycle.RESERVED
    assert number.number in sandbox_http_client().bought
    assert [sms.to_phone for sms in sandbox_http_client().sent] == [VERIFICATION_PHONE]


def test_get_rotate_and_remove_a_provider(store: DynamoAdminStore) -> None:
    assert call("GET", "/providers/prov-sam")[1]["provider"]["reserved_number"] == PROVIDER.reserved_number

    status, rotated = call("POST", "/providers/prov-sam/rotate-number")
    assert status == 200
    new_number = rotated["provider"]["reserved_number"]
    assert new_number and new_number != PROVIDER.reserved_number
    old = store.get_number(PROVIDER.reserved_number or "")
    assert old is not None and old.lifecycle == Lifecycle.STANDBY

    session = open_session()
    status, removed = call("DELETE", "/providers/prov-sam")
    assert status == 200
    assert removed["provider"]["status"] == "Inactive" and removed["provider"]["reserved_number"] is None
    assert call("GET", f"/sessions/{session['id']}")[1]["session"]["active"] is False
    assert call("POST", "/providers/prov-sam/rotate-number")[0] == 409


# ---------------------------------------------------------------- clients


def test_upsert_a_client_by_external_id(aws: EmbeddedAws, store: DynamoAdminStore) -> None:
    status, created = call("PUT", "/clients", {"phone": "+13035550177", "name": "Fay", "external_id": "ttp-1", "provider": "prov-sam"})
    assert status == 201 and created["created"] is True
    [mirror] = [r for r in records(aws) if r.kind == "client"]
    assert mirror.fields["Linked Sitter"] == "prov-sam"

    status, updated = call("PUT", "/clients", {"phone": "+13035550178", "external_id": "ttp-1", "email": "fay@example.com"})

    assert status == 200 and updated["created"] is False
    assert updated["client"]["client_id"] == created["client"]["client_id"]
    assert (updated["client"]["phone"], updated["client"]["name"], updated["client"]["email"]) == ("+13035550178", "Fay", "fay@example.com")


def test_a_phone_of_another_client_is_409(store: DynamoAdminStore) -> None:
    call("PUT", "/clients", {"phone": "+13035550177", "external_id": "ttp-1"})

    status, answer = call("PUT", "/clients", {"phone": OLIVIA.phone, "external_id": "ttp-1"})

    assert status == 409 and answer["success"] is False and answer["details"]


# ---------------------------------------------------------------- numbers and pool


def test_purchase_attach_and_list_numbers(store: DynamoAdminStore) -> None:
    status, bought = call("POST", "/numbers/purchase", {"lifecycle": "standby", "attach": False})
    assert status == 201
    number = bought["number"]
    assert (number["lifecycle"], number["status"], number["number"][:5]) == ("Standby", "Pending", "+1303")
    sandbox = sandbox_http_client()
    assert sandbox.numbers[number["twilio_sid"]]["sms_url"] == f"{BASE}/twilio/sms"

    status, attached = call("POST", f"/numbers/{number['number'].replace('+', '%2B')}/attach")
    assert status == 200 and attached["number"]["status"] == "Ready"
    assert [sms.to_phone for sms in sandbox.sent] == [VERIFICATION_PHONE]

    status, listed = call("GET", "/numbers?lifecycle=Standby&status=Ready")
    assert status == 200 and [n["number"] for n in listed["numbers"]] == [number["number"]]
    assert len(call("GET", "/numbers")[1]["numbers"]) == len(store.list_numbers())


def test_purchase_in_an_area_code_attaches_by_default(store: DynamoAdminStore) -> None:
    sandbox_http_client().set_available("212", 1)

    status, bought = call("POST", "/numbers/purchase", "lifecycle=Pool&area_code=212", content_type="application/x-www-form-urlencoded")

    assert status == 201
    assert bought["number"]["number"] == "+12125555000" and bought["number"]["status"] == "Ready"
    assert "+12125555000" in [n.number for n in store.list_numbers(Lifecycle.POOL, NumberStatus.READY)]


def test_no_number_to_buy_is_409(store: DynamoAdminStore) -> None:
    sandbox = sandbox_http_client()
    for area_code in ("303", "720"):
        sandbox.set_available(area_code, 0)

    status, answer = call("POST", "/numbers/purchase", {"lifecycle": "Pool"})

    assert status == 409 and answer["details"] == {"area_codes_tried": ["303", "720"]}


def test_an_attach_that_twilio_refuses_is_502_and_the_number_failed(store: DynamoAdminStore) -> None:
    number = call("POST", "/numbers/purchase", {"lifecycle": "Pool", "attach": False})[1]["number"]["number"]
    sandbox_http_client().fail_next_matching("/IncomingPhoneNumbers/", code=20500)

    status, answer = call("POST", f"/numbers/{number}/attach")

    assert status == 502 and answer["success"] is False
    assert answer["details"]["number"]["status"] == "Failed"


def test_pool_stats(store: DynamoAdminStore) -> None:
    open_session()

    status, answer = call("GET", "/pool/stats")

    assert status == 200
    assert answer["pool"]["ready_pool_numbers"] == len(POOL)
    assert answer["pool"]["busiest_provider_id"] == PROVIDER.provider_id
    assert answer["pool"]["utilization"] == round(1 / len(POOL), 4)


# ---------------------------------------------------------------- errors, OpenAPI, logs


def test_an_unexpected_error_is_500_with_the_error_shape(store: DynamoAdminStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import masking.handlers.admin_api

    def broken(ctx: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(masking.handlers.admin_api, "pool_stats", broken)

    assert call("GET", "/pool/stats") == (500, {"success": False, "error": "internal error", "details": None})


def test_the_openapi_document_is_served_and_docs_openapi_json_is_current(store: DynamoAdminStore) -> None:
    status, document = call("GET", "/openapi.json")

    assert status == 200
    committed = json.loads(Path(ROOT / "docs" / "openapi.json").read_text())
    assert document == committed, "run python -m local.make_openapi"
    assert document["info"]["title"] == "Masking admin API"
    assert document["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}


def test_the_template_declares_every_route_of_the_api_with_the_api_key() -> None:
    from local.template import api_routes

    paths = json.loads(Path(ROOT / "docs" / "openapi.json").read_text())["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    admin_routes = {(r.method, r.path) for r in api_routes() if r.function == "CreateSessionFunction"}
    assert admin_routes == documented | {("GET", "/openapi.json")}
    assert all(r.api_key_required for r in api_routes() if r.function == "CreateSessionFunction")
    assert not any(r.api_key_required for r in api_routes() if r.function == "InterceptFunction")


@pytest.mark.parametrize("key", ["", "Bearer " + DEMO_ADMIN_API_KEY, DEMO_ADMIN_API_KEY.upper()])
def test_a_near_miss_key_is_403(store: DynamoAdminStore, key: str) -> None:
    assert call("GET", "/pool/stats", key=key)[0] == 403


def test_logs_hold_no_phone_number_in_clear(store: DynamoAdminStore, capsys: pytest.CaptureFixture[str]) -> None:
    call("POST", "/providers", {"name": "Nick Nanny", "phone": "3035550151"})
    call("PUT", "/clients", {"phone": "+13035550177"})

    logs = capsys.readouterr().out
    assert logs
    assert "+13035555000" in sandbox_http_client().bought  # bought while provisioning
    for number in ("+13035550151", "+13035550177", "+13035555000"):
        assert number not in logs


def test_the_readme_examples_use_the_demo_key_and_documented_routes() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Admin API") : readme.index("## Zapier")]
    assert f"KEY={DEMO_ADMIN_API_KEY}" in section
    paths = json.loads(Path(ROOT / "docs" / "openapi.json").read_text())["paths"]
    templates = [re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$") for path in [*paths, "/openapi.json"]]
    used = re.findall(r"\$API(/[^\s\"?]*)", section)
    assert len(used) >= 8
    for path in used:
        assert any(template.match(path) for template in templates), path


def test_numbers_point_at_the_stage_url_whether_the_path_carries_plus_or_percent_2b(store: DynamoAdminStore) -> None:
    number = call("POST", "/numbers/purchase", {"lifecycle": "Pool", "attach": False})[1]["number"]
    url = f"https://{HOST}/numbers/{number['number']}/attach"
    event = api_gateway_event("POST", url, headers={"x-api-key": DEMO_ADMIN_API_KEY}, stage="dev")
    event["requestContext"]["path"] = event["requestContext"]["path"].replace("+", "%2B")

    status, _ = invoke(event)

    assert status == 200
    assert sandbox_http_client().numbers[number["twilio_sid"]]["sms_url"] == f"{BASE}/twilio/sms"


def test_during_a_rotation_both_the_new_and_the_old_key_are_accepted_and_then_only_the_new(
    aws: EmbeddedAws, store: DynamoAdminStore
) -> None:
    """A warm container caches the key for 5 minutes; rotation must not 403 either key."""
    import boto3

    assert call("GET", "/pool/stats")[0] == 200  # the cache now holds the demo key
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId=aws.env["ADMIN_API_KEY_SECRET"], SecretString="rotated-key-0123456789")

    assert call("GET", "/pool/stats", key="rotated-key-0123456789")[0] == 200  # new key, stale cache
    assert call("GET", "/pool/stats")[0] == 200  # old key: AWSPREVIOUS

    secrets.put_secret_value(SecretId=aws.env["ADMIN_API_KEY_SECRET"], SecretString="rotated-again-0123456789")
    assert call("GET", "/pool/stats")[0] == 403  # two rotations ago: refused
