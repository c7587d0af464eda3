"""The voice tests of tests/unit/test_voice.py, run on DynamoDB (moto, table from
template.yaml), and call_connect's lambda_handler in its deployed shape (SSM secrets,
DynamoDB, the SQS outbox, the Twilio sandbox)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from local.backends import EmbeddedAws
from masking.core.ports import CallStore
from masking.core.settings import get_voice_settings
from masking.mirror.outbox import MirrorRecord
from masking.store.calls import DynamoCallStore
from masking.wiring import get_voice_services
from tests.support import ACCOUNT_SID, API_HOST, BASE, OLIVIA, POOL, PROVIDER, FakeLambdaContext, load_handler, signed_event
from tests.unit.test_voice import *  # noqa: F403 - the same tests, another store
from tests.voice_support import dialed, twiml_of, verbs


@pytest.fixture
def voice_store(aws: EmbeddedAws) -> CallStore:  # type: ignore[no-redef]
    return DynamoCallStore(aws.env["TABLE_NAME"])


# ---------------------------------------------------------------- the deployed handler

handler = load_handler("call_connect").lambda_handler
RESERVED = PROVIDER.reserved_number


@pytest.fixture
def deployed(aws: EmbeddedAws) -> EmbeddedAws:
    from tests.support import seed

    os.environ["PUBLIC_BASE_URL"] = BASE  # what signed_event signs for
    get_voice_services.cache_clear()
    get_voice_settings.cache_clear()
    seed(DynamoCallStore(aws.env["TABLE_NAME"]))
    yield aws
    get_voice_services.cache_clear()
    get_voice_settings.cache_clear()


def invoke(url: str, params: dict[str, str], signature: str | None = None) -> dict[str, Any]:
    event = signed_event(url, {"AccountSid": ACCOUNT_SID, **params}, signature)
    parts = event["path"].split("/")
    if len(parts) > 4 and parts[3] in ("whisper", "voicemail"):  # /twilio/voice/whisper/{call}[/answer]
        event["pathParameters"] = {"call": parts[4]}
        event["resource"] = "/".join(parts[:4]) + "/{call}" + ("/answer" if parts[-1] == "answer" else "")
    return handler(event, FakeLambdaContext())


def records(aws: EmbeddedAws) -> list[MirrorRecord]:
    return [MirrorRecord.from_json(body) for body in aws.drain_outbox()]


def test_handler_bridges_an_inbound_call_and_records_the_dial_outcome(deployed: EmbeddedAws) -> None:
    sid = "CA" + "ab" * 16
    root = twiml_of(invoke(f"https://{API_HOST}/twilio/voice", {"CallSid": sid, "From": OLIVIA.phone, "To": str(RESERVED)}))
    assert dialed(root) == (POOL[0], PROVIDER.phone)
    [dial] = root.iter("Dial")
    assert dial.get("action") == f"{BASE}/twilio/voice/status/{sid}/dial"
    answer = invoke(f"https://{API_HOST}/twilio/voice/whisper/{sid}/answer", {"CallSid": "CA" + "0f" * 16, "Digits": "1"})
    assert verbs(twiml_of(answer)) == []  # the provider took the call (tests/integration/test_call_experience_dynamo.py)

    action = twiml_of(
        invoke(
            f"https://{API_HOST}/twilio/voice/status?call={sid}&leg=dial",
            {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "9"},
        )
    )

    assert verbs(action) == ["Hangup"]
    mirrored = records(deployed)
    assert {r.kind for r in mirrored} == {"audit", "client", "call"}
    assert [r.fields.get("Status", r.fields.get("Whisper")) for r in mirrored if r.kind == "call"] == [
        "connecting",
        "accepted",
        "completed",
    ]


def test_handler_serves_the_bridge_and_the_status_callbacks(deployed: EmbeddedAws) -> None:
    from masking.core.call_records import CallSession

    store = DynamoCallStore(deployed.env["TABLE_NAME"])
    session = CallSession(
        call_id="CS" + "1" * 32,
        provider_id=PROVIDER.provider_id,
        client_id=OLIVIA.client_id,
        client_name=OLIVIA.name,
        client_phone=OLIVIA.phone,
        provider_phone=PROVIDER.phone,
        reserved_number=str(RESERVED),
        created_at="2099-01-01T00:00:00Z",
        expires_at=4_070_908_800,  # 2099
    )
    store.create_call_session(session)
    call_sid = "CA" + "cd" * 16

    invoke(f"https://{API_HOST}/twilio/voice/status?call={session.call_id}", {"CallSid": call_sid, "CallStatus": "ringing"})
    root = twiml_of(invoke(f"https://{API_HOST}/twilio/voice/bridge?call={session.call_id}", {"CallSid": call_sid}))

    assert dialed(root) == (RESERVED, OLIVIA.phone)
    stored = store.get_call_session(session.call_id)
    assert stored is not None and (stored.status, stored.call_sid) == ("answered", call_sid)


def test_handler_refuses_a_forged_signature_on_every_route(deployed: EmbeddedAws) -> None:
    for path in ("/twilio/voice", "/twilio/voice/bridge?call=CS" + "1" * 32, "/twilio/voice/status?call=CS" + "1" * 32):
        response = invoke(f"https://{API_HOST}{path}", {"CallSid": "CA" + "ef" * 16, "From": OLIVIA.phone, "To": str(RESERVED)}, "forged")
        assert response["statusCode"] == 403
        assert json.loads(response["body"]) == {"success": False, "error": "invalid Twilio signature", "details": None}
    assert records(deployed) == []
