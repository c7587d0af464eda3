"""Writes events/*.json: API Gateway events for each route, signed with the demo token.

    python -m local.make_events

They are what `sam local invoke -e` takes and what tests/integration/test_events.py
replays against the handlers. Signed for the API Gateway URL of a `dev` stage with
``DEMO_AUTH_TOKEN`` (a deployed stack checks them against its own token and answers 403,
as it should).
"""

from __future__ import annotations

import json
from pathlib import Path

from local.apigw import signed_twilio_event
from local.backends import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

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


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for name, event in build_events().items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote events/{name}.json")


if __name__ == "__main__":
    main()
