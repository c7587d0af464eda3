"""Writes events/*.json: one event for every route and trigger of template.yaml.

    python -m local.make_events

They are what `sam local invoke -e` takes and what the integration tests replay against
the handlers. The Twilio ones (``sms_*``, ``voice_*``) are signed for the API Gateway URL
of a `dev` stage with ``DEMO_AUTH_TOKEN``; the admin ones (``admin_*.json``) carry
``DEMO_ADMIN_API_KEY`` in ``x-api-key``. A deployed stack checks both against its own
secrets and answers 403, as it should. ``schedule_*`` are the scheduler's payloads (each
ScheduleV2 event's ``Input``), ``sqs_*`` the SQS batches of the outbox and retry queues.
tests/unit/test_events.py fails when a route or trigger has no event here.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from local.apigw import api_gateway_event, signed_twilio_event, twilio_signature
from local.backends import DEMO_ACCOUNT_SID, DEMO_ADMIN_API_KEY, DEMO_AUTH_TOKEN
from local.template import load_template

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
if str(ROOT / "layers" / "masking") not in sys.path:  # masking.* (the layer) for the SQS bodies
    sys.path.insert(0, str(ROOT / "layers" / "masking"))
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


def _voice(sid: str, from_phone: str, to_number: str, status: str, direction: str = "inbound") -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": DEMO_ACCOUNT_SID,
        "From": from_phone,
        "To": to_number,
        "CallStatus": status,
        "Direction": direction,
        "ApiVersion": "2010-04-01",
    }


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
    call = "CA" + "1" * 32
    session = "CS" + "2" * 32  # a click-to-call session id (not in the demo data: answered with the expired message)
    inbound_call = _voice(call, OLIVIA, SAM_RESERVED, "ringing")
    bridge = _voice("CA" + "3" * 32, SAM_RESERVED, SAM_PHONE, "in-progress", direction="outbound-api")
    completed = dict(_voice(call, OLIVIA, SAM_RESERVED, "completed"), CallDuration="42", DialCallStatus="completed")
    return {
        "voice_inbound_from_client": _event("/twilio/voice", inbound_call),
        "voice_bridge": _event(f"/twilio/voice/bridge?call={session}", bridge),
        "voice_status_completed": _event(f"/twilio/voice/status?call={call}", completed),
        "sms_inbound_from_client": _event("/twilio/sms", inbound),
        "sms_reply_from_provider": _event("/twilio/sms", reply),
        "sms_stop_from_client": _event("/twilio/sms", stop),
        "sms_bad_signature": _event("/twilio/sms", forged, signature="dGhpcyBpcyBub3QgYSBzaWduYXR1cmU="),
        "sms_status_delivered": _event(f"/twilio/sms/status?ref={ref}", status),
        "sms_status_undelivered": _event(f"/twilio/sms/status?ref={ref}", failed),
        # the callback state in the path, as the service hands it to Twilio now (the query forms above stay accepted)
        "sms_status_delivered_by_path": _event(f"/twilio/sms/status/{ref}", status),
        "voice_bridge_by_path": _event(f"/twilio/voice/bridge/{session}", bridge),
        "voice_status_by_path": _event(f"/twilio/voice/status/{call}", completed),
        "voice_dial_action": _event(f"/twilio/voice/status/{call}/dial", dict(completed, DialCallDuration="40")),
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
    hook = "HK" + "0" * 32
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
        "admin_erase_client": _admin_event("DELETE", "/clients/cl-pete", "/clients/{client_id}", params={"client_id": "cl-pete"}),
        "admin_erase_provider_data": _admin_event(
            "DELETE", "/providers/prov-kim/data", "/providers/{provider_id}/data", params={"provider_id": "prov-kim"}
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
        "admin_start_call": _admin_event(
            "POST", "/calls", "/calls", {"provider": "prov-sam", "client": "cl-olivia", "reference": "visit-2026-11-27"}
        ),
        # outbound hooks (masking.handlers.admin_hooks); the hook id is not in the demo data: 404
        "admin_subscribe_hook": _admin_event(
            "POST", "/hooks", "/hooks", {"target_url": "https://hooks.zapier.com/hooks/standard/123456/abcdef/", "event": "client.created"}
        ),
        "admin_list_hooks": _admin_event("GET", "/hooks", "/hooks"),
        "admin_unsubscribe_hook": _admin_event("DELETE", f"/hooks/{hook}", "/hooks/{hook_id}", params={"hook_id": hook}),
        "admin_hook_samples": _admin_event(
            "GET", "/hooks/samples/client.created", "/hooks/samples/{event}", params={"event": "client.created"}
        ),
        "admin_test_hook": _admin_event(
            "POST", f"/hooks/{hook}/test", "/hooks/{hook_id}/test", {"event": "client.created"}, {"hook_id": hook}
        ),
        # the old service's deprecated routes (masking.handlers.admin_legacy)
        "admin_legacy_attach_number": _admin_event(
            "POST", "/attach-number", "/attach-number", {"sitter_id": "prov-sam", "phone_number": "+17205550050"}
        ),
        "admin_legacy_check_and_replenish": _admin_event(
            "POST", "/inventory/check-and-replenish", "/inventory/check-and-replenish", {"threshold": 0.87, "cooldown_hours": 72}
        ),
        "admin_legacy_standby_replenish": _admin_event(
            "POST", "/numbers/standby-replenish", "/numbers/standby-replenish", {"area_code": "303"}
        ),
        "admin_legacy_active_count": _admin_event("GET", "/sessions/active-count?sitter_id=prov-sam", "/sessions/active-count"),
    }


def schedule_events() -> dict[str, dict[str, Any]]:
    """What the scheduler passes each schedule: the ScheduleV2 event's Input in template.yaml."""
    events = {}
    for spec in load_template()["Resources"].values():
        for event in (spec.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "ScheduleV2":
                payload = json.loads(event["Properties"]["Input"])
                events[f"schedule_{payload['schedule']}"] = payload
    return events


def _sqs_batch(queue: str, bodies: list[str]) -> dict[str, Any]:
    """An SQS batch as Lambda's event source mapping delivers it."""
    records = []
    for n, body in enumerate(bodies, start=1):
        records.append(
            {
                "messageId": f"0b7c6f5e-1c1e-4f0a-9d3b-{n:012d}",
                "receiptHandle": f"AQEB-{queue}-{n}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795780800000",
                    "SenderId": "AROAEXAMPLE:masking",
                    "ApproximateFirstReceiveTimestamp": "1795780800100",
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:masking-dev-{queue}-1AbCdEfGhIjK",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def sqs_events() -> dict[str, dict[str, Any]]:
    from masking.core.models import OutboundSms
    from masking.hooks.delivery import Delivery
    from masking.hooks.events import sample
    from masking.messaging.failures import Resend
    from masking.messaging.forwarding import ParkedForward
    from masking.mirror.outbox import MirrorRecord
    from masking.mirror.rows import audit_record

    at = "2026-11-27T14:00:00Z"
    ref = "SM" + "a" * 32
    delivered = {"Twilio Status": "delivered", "Twilio Error Code": None, "Status": "Delivered"}
    outbox = [
        MirrorRecord(kind="message", key=ref, at=at, fields=delivered),
        MirrorRecord(kind="client", key="cl-olivia", at=at, fields={"Twilio Error Count": 1}),
        audit_record(
            "Delivery failed",
            "Twilio error 30003",
            category="Delivery Error",
            severity="Warning",
            at=at,
            key=f"{ref}:delivery-failed",
            provider_id="prov-sam",
            client_id="cl-olivia",
            details={"twilio_error_code": "30003"},
        ),
    ]
    for version, record in enumerate(outbox, start=1_795_780_800_000_000_000):  # fixed: the file must not change
        record.version = version
    resend = Resend(message_sid=ref, outbound_sid="SM" + "e" * 32, status_callback=f"https://{HOST}/{STAGE}/twilio/sms/status?ref={ref}")
    forward = ParkedForward(
        message_sid="SM" + "f" * 32,
        from_phone="+13035550201",
        to_number="+17205550001",
        body="Hi Sam, how is Rex?",
        media_urls=[],
        direction="client_to_provider",
        provider_id="prov-sam",
        client_id="cl-olivia",
        lease_id="LS" + "1" * 32,
        received_at=at,
        status_callback=f"https://{HOST}/{STAGE}/twilio/sms/status?ref={'SM' + 'f' * 32}",
        parts=[OutboundSms(from_number="+17205550100", to_phone="+13035550101", body="From Olivia Owner: Hi Sam, how is Rex?")],
        attempt=2,
    )
    hook = Delivery("HK" + "0" * 32, sample("client.created"))
    return {
        "sqs_outbox_batch": _sqs_batch("OutboxQueue", [record.to_json() for record in outbox]),
        "sqs_hooks_batch": _sqs_batch("HooksQueue", [hook.to_json()]),
        "sqs_retry_batch": _sqs_batch("RetryQueue", [resend.to_json()]),
        "sqs_forward_batch": _sqs_batch("ForwardQueue", [forward.to_json()]),
        "sqs_fallback_batch": fallback_batch(),
    }


def fallback_batch() -> dict[str, Any]:
    """What API Gateway's SQS integration puts on the fallback queue for a Twilio request to
    /twilio/sms/fallback: the raw form body; signature, host and paths as attributes."""
    params = {
        "MessageSid": "SM" + "9" * 32,
        "AccountSid": DEMO_ACCOUNT_SID,
        "From": "+13035550201",
        "To": "+17205550001",
        "Body": "Hi Sam, are you free Friday?",
        "NumMedia": "0",
        "ErrorCode": "11200",
        "ErrorUrl": f"https://{HOST}/{STAGE}/twilio/sms",
    }
    signature = twilio_signature(DEMO_AUTH_TOKEN, f"https://{HOST}/{STAGE}/twilio/sms/fallback", params)
    batch = _sqs_batch("FallbackQueue", [urlencode(params)])
    attributes = {
        "TwilioSignature": signature,
        "Host": HOST,
        "Path": f"/{STAGE}/twilio/sms/fallback",
        "ResourcePath": "/twilio/sms/fallback",
    }
    batch["Records"][0]["messageAttributes"] = {name: {"stringValue": value, "dataType": "String"} for name, value in attributes.items()}
    return batch


def all_events() -> dict[str, dict[str, Any]]:
    return {**build_events(), **build_voice_events(), **build_admin_events(), **schedule_events(), **sqs_events()}


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for name, event in all_events().items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote events/{name}.json")


if __name__ == "__main__":
    main()
