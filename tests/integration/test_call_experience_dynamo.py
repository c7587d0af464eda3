"""The call-experience tests of tests/unit/test_call_experience.py, run on DynamoDB (moto,
table from template.yaml), and the whole flow through call_connect's lambda_handler in its
deployed shape: SSM secrets, DynamoDB, the SQS outbox, the Twilio sandbox (calls, SMS and
the recording media endpoint)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.backends import EmbeddedAws
from masking.core.ports import CallStore
from masking.store.calls import DynamoCallStore
from masking.wiring import sandbox_http_client, sandbox_recordings
from tests.integration.test_voice_dynamo import deployed, invoke, records  # noqa: F401 - the fixture
from tests.support import API_HOST, BASE, OLIVIA, POOL, PROVIDER, FakeLambdaContext, load_handler
from tests.unit.test_call_experience import *  # noqa: F403 - the same tests, another store
from tests.voice_support import twiml_of, verbs

handler = load_handler("call_connect").lambda_handler


@pytest.fixture
def voice_store(aws: EmbeddedAws) -> CallStore:  # type: ignore[no-redef]
    return DynamoCallStore(aws.env["TABLE_NAME"])


def get(url: str) -> dict[str, Any]:
    from local.apigw import api_gateway_event

    path, _, query = url.removeprefix(BASE).partition("?")
    event = api_gateway_event(
        "GET",
        f"https://{API_HOST}{path}" + (f"?{query}" if query else ""),
        stage="dev",
        resource="/voicemail/{call}",
        path_parameters={"call": path.rsplit("/", 1)[1]},
    )
    return handler(event, FakeLambdaContext())


def test_handler_no_answer_voicemail_sms_and_link(deployed: EmbeddedAws) -> None:  # noqa: F811
    sid = "CA" + "5a" * 16
    sandbox_http_client().clear()
    root = twiml_of(invoke(f"https://{API_HOST}/twilio/voice", {"CallSid": sid, "From": OLIVIA.phone, "To": str(PROVIDER.reserved_number)}))
    [number] = root.iter("Number")
    whisper = twiml_of(invoke(str(number.get("url")).replace(BASE, f"https://{API_HOST}"), {"CallSid": "CA" + "6b" * 16}))
    assert verbs(whisper) == ["Gather", "Hangup"]

    greeting = twiml_of(
        invoke(f"https://{API_HOST}/twilio/voice/status?call={sid}&leg=dial", {"CallSid": sid, "DialCallStatus": "no-answer"}),
        hidden=(PROVIDER.phone,),
    )
    [record] = greeting.iter("Record")
    recording = "RE" + "7c" * 16
    thanks = invoke(
        str(record.get("action")).replace(BASE, f"https://{API_HOST}"),
        {"CallSid": sid, "RecordingSid": recording, "RecordingDuration": "65", "RecordingUrl": "https://api.twilio.com/x"},
    )

    assert verbs(twiml_of(thanks)) == ["Say", "Hangup"]
    [sms] = sandbox_http_client().sent
    assert (sms.from_number, sms.to_phone) == (POOL[0], PROVIDER.phone)
    assert sms.body.startswith("Voicemail from Olivia Owner, 1:05: ")
    link = sms.body.split(": ", 1)[1]
    page = get(link)
    assert page["statusCode"] == 200 and "data:audio/mpeg;base64," in page["body"]
    assert sandbox_recordings().fetches[-1] == (
        f"https://api.twilio.com/2010-04-01/Accounts/{sandbox_recordings().credentials().account_sid}/Recordings/{recording}.mp3",
        True,
    )
    forged = get(link[:-1] + ("0" if link[-1] != "0" else "1"))
    assert forged["statusCode"] == 403 and json.loads(forged["body"])["success"] is False
    fields = [r.fields for r in records(deployed) if r.kind == "call"]
    assert {"Call SID": sid, "Voicemail Duration": 65, "Voicemail Link": link} in fields
    history = DynamoCallStore(deployed.env["TABLE_NAME"]).list_calls(PROVIDER.provider_id, OLIVIA.client_id)
    assert [getattr(c, "voicemail_sid", None) for c in history] == [recording]


# ---------------------------------------------------------------- the events/ files


@pytest.fixture
def demo_aws():  # type: ignore[no-untyped-def]  # the events/ files are signed with the demo token
    from tests.integration.conftest import seeded_demo_aws

    with seeded_demo_aws() as embedded:
        yield embedded


def test_the_voice_events_replay_through_the_handler(demo_aws: EmbeddedAws) -> None:
    from masking.core.call_records import CallRecord
    from tests.support import load_event

    call = "CA" + "1" * 32
    store = DynamoCallStore(demo_aws.env["TABLE_NAME"])
    store.claim_call(
        CallRecord(call, "2026-11-01T12:00:00Z", "client_to_provider", "bridged", "<Response/>", PROVIDER.provider_id,
                   OLIVIA.client_id, caller_id=POOL[0]))  # fmt: skip
    sandbox_http_client().clear()

    whisper = twiml_of(handler(load_event("voice_whisper"), FakeLambdaContext()), hidden=(OLIVIA.phone,))
    accept = twiml_of(handler(load_event("voice_whisper_accept"), FakeLambdaContext()))
    decline = twiml_of(handler(load_event("voice_whisper_decline"), FakeLambdaContext()))  # the first answer stands
    thanks = twiml_of(handler(load_event("voice_voicemail_recorded"), FakeLambdaContext()))
    page = handler(load_event("voicemail_link"), FakeLambdaContext())

    assert verbs(whisper) == ["Gather", "Hangup"] and verbs(accept) == [] and verbs(decline) == []
    assert verbs(thanks) == ["Say", "Hangup"]
    [sms] = sandbox_http_client().sent
    assert (sms.from_number, sms.to_phone) == (POOL[0], PROVIDER.phone)
    assert sms.body.startswith("Voicemail from Olivia Owner, 0:42: https://abc123.execute-api.us-east-1.amazonaws.com/dev/voicemail/")
    assert page["statusCode"] == 200 and "data:audio/mpeg;base64," in page["body"]
