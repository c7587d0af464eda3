"""The call experience on the local runner, over HTTP with real Twilio signatures: a client
calls Sam, Sam's phone gets the whisper, nobody takes the call, the client leaves a
voicemail, Sam gets an SMS from Olivia's pool number with a link that plays it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from local.apigw import twilio_signature
from local.backends import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN
from local.demo import http
from local.demo_data import OLIVIA, POOL_NUMBERS, SAM


def twilio_post(url: str, params: dict[str, str]) -> ET.Element:
    params = {"AccountSid": DEMO_ACCOUNT_SID, **params}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": twilio_signature(DEMO_AUTH_TOKEN, url, params)}
    status, body = http("POST", url, urlencode(params).encode(), headers)
    assert status == 200, body
    text = body.decode()
    assert OLIVIA.phone not in text or "<Number" not in text  # the provider's leg never shows the client's phone
    return ET.fromstring(text)


def test_no_answer_voicemail_sms_and_link_on_the_runner(runner_url: str) -> None:
    sid = "CA" + "e1" * 16
    http("GET", f"{runner_url}/_local/sent?clear=1")

    root = twilio_post(f"{runner_url}/twilio/voice", {"CallSid": sid, "From": OLIVIA.phone, "To": str(SAM.reserved_number)})
    [dial] = root.iter("Dial")
    [number] = dial.iter("Number")
    assert (dial.get("callerId"), number.text, dial.get("timeout")) == (POOL_NUMBERS[0], SAM.phone, "20")
    whisper = twilio_post(str(number.get("url")), {"CallSid": "CA" + "e2" * 16, "CallStatus": "in-progress"})
    assert [v.tag for v in whisper] == ["Gather", "Hangup"]
    greeting = twilio_post(str(dial.get("action")), {"CallSid": sid, "DialCallStatus": "no-answer"})
    [record] = greeting.iter("Record")
    recording = "RE" + "e3" * 16
    twilio_post(str(record.get("action")), {"CallSid": sid, "RecordingSid": recording, "RecordingDuration": "7"})

    status, sent = http("GET", f"{runner_url}/_local/sent")
    [sms] = json.loads(sent)
    assert (sms["from_number"], sms["to_phone"]) == (POOL_NUMBERS[0], SAM.phone)
    assert sms["body"].startswith(f"Voicemail from Olivia Owner, 0:07: {runner_url}/voicemail/{sid}?expires=")
    link = sms["body"].split(": ", 1)[1]
    status, page = http("GET", link)
    assert status == 200 and b"data:audio/mpeg;base64," in page
    assert http("GET", link.replace("sig=", "sig=0"))[0] == 403
