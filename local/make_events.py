"""Writes events/*.json: API Gateway events for each route, signed with the demo token.

    python -m local.make_events

They are what `sam local invoke -e` takes and what the integration tests replay against
the handlers. The Twilio ones are signed for the API Gateway URL of a `dev` stage with
``DEMO_AUTH_TOKEN``; the admin ones (``admin_*.json``) carry ``DEMO_ADMIN_API_KEY`` in
``x-api-key``. A deployed stack checks both against its own secrets and answers 403, as
it should.
"""

from __future__ import annotations

import json
from pathlib import Path

from local.apigw import api_gateway_event, signed_twilio_event
from local.backends import DEMO_ACCOUNT_SID, DEMO_ADMIN_API_KEY, DEMO_AUTH_TOKEN

EVENTS = Path(__file__).resolve().parent.parent / "events"
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
STAGE = "dev"

OLIVIA = "+13035550201"
SAM_PHONE = "+13035550101"
SAM_RESERVED = "+17205550001"
POOL_FIRST = "+17205550100"


def _sms(sid: str, from_phone: str, to_number: str, body: str) -> dict[str, str]:
    return {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": to_number,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": DEMO_ACCOUNT_SID,
        "From": from_phone,
        "ApiVersion": "2010-04-01",
    }


def _event(path: str, params: dict[str, str], signature: str | None = None) -> dict[str, object]:
    event = signed_twilio_event(f"https://{HOST}{path}", params, DEMO_AUTH_TOKEN, stage=STAGE)
    if signature is None:
        from local.apigw import twilio_signature

        query = path.split("?", 1)[1] if "?" in path else ""
        url = f"https://{HOST}/{STAGE}{path.split('?', 1)[0]}" + (f"?{query}" if query else "")
        signature = twilio_signature(DEMO_AUTH_TOKEN, url, params)
    event["headers"]["X-Twilio-Signature"] = signature  # type: ignore[index]
    event["multiValueHeaders"]["X-Twilio-Signature"] = [signature]  # type: ignore[index]
    event["requestContext"]["requestId"] = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # type: ignore[index]
    return event


def _call_event(template: str, call: str, params: dict[str, str]) -> dict[str, object]:
    """A signed Twilio POST to a voice route with a ``{call}`` path parameter."""
    event = _event(template.replace("{call}", call), params)
    event["resource"] = template
    event["requestContext"]["resourcePath"] = template  # type: ignore[index]
    event["pathParameters"] = {"call": call}
    return event


def build_voice_events() -> dict[str, dict[str, object]]:
    """The call experience: whisper, the key pressed, the voicemail's <Record> action, and
    the signed voicemail link (valid for the demo token until 2099)."""
    import sys

    from local.apigw import api_gateway_event

    layer = str(Path(__file__).resolve().parent.parent / "layers" / "masking")
    if layer not in sys.path:  # what the Lambda layer provides in AWS
        sys.path.insert(0, layer)
    from masking.voice.recording_link import signature

    call = "CA" + "1" * 32
    leg = {"AccountSid": DEMO_ACCOUNT_SID, "CallSid": "CA" + "2" * 32, "ParentCallSid": call, "CallStatus": "in-progress"}
    recording = "RE" + "3" * 32
    voicemail = {
        "AccountSid": DEMO_ACCOUNT_SID,
        "CallSid": call,
        "RecordingSid": recording,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/Recordings/{recording}",
        "RecordingDuration": "42",
        "Digits": "hangup",
    }
    expires = 4_070_908_800  # 2099
    link = api_gateway_event(
        "GET",
        f"https://{HOST}/voicemail/{call}?expires={expires}&sig={signature(DEMO_AUTH_TOKEN, call, expires)}",
        stage=STAGE,
        resource="/voicemail/{call}",
        path_parameters={"call": call},
    )
    link["requestContext"]["requestId"] = "0b7e2c1a-5d3f-4e6a-8c9b-0000000000c1"
    return {
        "voice_whisper": _call_event("/twilio/voice/whisper/{call}", call, leg),
        "voice_whisper_accept": _call_event("/twilio/voice/whisper/{call}/answer", call, {**leg, "Digits": "1"}),
        "voice_whisper_decline": _call_event("/twilio/voice/whisper/{call}/answer", call, {**leg, "Digits": "2"}),
        "voice_voicemail_recorded": _call_event("/twilio/voice/voicemail/{call}", call, voicemail),
        "voicemail_link": link,
    }


def build_events() -> dict[str, dict[str, object]]:
    inbound = _sms("SM" + "a" * 32, OLIVIA, SAM_RESERVED, "Hi Sam, is Rex eating OK?")
    reply = _sms("SM" + "b" * 32, SAM_PHONE, POOL_FIRST, "Rex ate everything and napped in the sun.")
    stop = _sms("SM" + "c" * 32, OLIVIA, SAM_RESERVED, "STOP")
    forged = _sms("SM" + "d" * 32, OLIVIA, SAM_RESERVED, "This request was not signed by Twilio")
    status = {
        "MessageSid": "SM" + "e" * 32,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "AccountSid": DEMO_ACCOUNT_SID,
        "From": POOL_FIRST,
        "To": SAM_PHONE,
        "ApiVersion": "2010-04-01",
    }
    failed = dict(status, MessageStatus="undelivered", SmsStatus="undelivered", ErrorCode="30003")
    ref = "SM" + "a" * 32
    return {
        "sms_inbound_from_client": _event("/twilio/sms", inbound),
        "sms_reply_from_provider": _event("/twilio/sms", reply),
        "sms_stop_from_client": _event("/twilio/sms", stop),
        "sms_bad_signature": _event("/twilio/sms", forged, signature="dGhpcyBpcyBub3QgYSBzaWduYXR1cmU="),
        "sms_status_delivered": _event(f"/twilio/sms/status?ref={ref}", status),
        "sms_status_undelivered": _event(f"/twilio/sms/status?ref={ref}", failed),
    }


def _admin_event(
    method: str, path: str, resource: str, body: dict[str, object] | None = None, params: dict[str, str] | None = None
) -> dict[str, object]:
    """A request of Zapier or an operator to the admin API, with the demo admin key."""
    headers = {"x-api-key": DEMO_ADMIN_API_KEY, "User-Agent": "Zapier"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    event = api_gateway_event(
        method,
        f"https://{HOST}{path}",
        body=json.dumps(body) if body is not None else None,
        headers=headers,
        stage=STAGE,
        resource=resource,
        path_parameters=params,
    )
    event["requestContext"]["requestId"] = "5b9d4a3e-2f0c-4d1e-9a7b-0000000000a1"
    return event


def build_admin_events() -> dict[str, dict[str, object]]:
    session = "LS" + "0" * 32  # not in the demo data: replaying the read and close events answers 404
    return {
        "admin_open_session": _admin_event(
            "POST", "/sessions", "/sessions", {"Sitter ID": "prov-sam", "client": "cl-olivia", "notify": True}
        ),
        "admin_get_session": _admin_event("GET", f"/sessions/{session}", "/sessions/{session_id}", params={"session_id": session}),
        "admin_list_sessions": _admin_event("GET", "/sessions?provider=prov-sam&include_expired=false", "/sessions"),
        "admin_close_session": _admin_event("DELETE", f"/sessions/{session}", "/sessions/{session_id}", params={"session_id": session}),
        "admin_create_provider": _admin_event(
            "POST", "/providers", "/providers", {"Full Name": "Nora Nanny", "Phone Number": "(303) 555-0150", "email": "nora@example.com"}
        ),
        "admin_get_provider": _admin_event("GET", "/providers/prov-sam", "/providers/{provider_id}", params={"provider_id": "prov-sam"}),
        "admin_remove_provider": _admin_event(
            "DELETE", "/providers/prov-kim", "/providers/{provider_id}", params={"provider_id": "prov-kim"}
        ),
        "admin_rotate_number": _admin_event(
            "POST", "/providers/prov-sam/rotate-number", "/providers/{provider_id}/rotate-number", params={"provider_id": "prov-sam"}
        ),
        "admin_upsert_client": _admin_event(
            "PUT", "/clients", "/clients", {"TTP Client ID": "ttp-1001", "Full Name": "Olivia Owner", "phone": "303-555-0201"}
        ),
        "admin_purchase_number": _admin_event("POST", "/numbers/purchase", "/numbers/purchase", {"lifecycle": "Pool", "area_code": "303"}),
        "admin_attach_number": _admin_event(
            "POST", "/numbers/%2B13035555000/attach", "/numbers/{number}/attach", params={"number": "%2B13035555000"}
        ),
        "admin_list_numbers": _admin_event("GET", "/numbers?lifecycle=Pool&status=Ready", "/numbers"),
        "admin_pool_stats": _admin_event("GET", "/pool/stats", "/pool/stats"),
        "admin_list_calls": _admin_event("GET", "/calls?provider=prov-sam&client=cl-olivia", "/calls"),
        "admin_openapi": _admin_event("GET", "/openapi.json", "/openapi.json"),
    }


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for name, event in {**build_events(), **build_voice_events(), **build_admin_events()}.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote events/{name}.json")


if __name__ == "__main__":
    main()
