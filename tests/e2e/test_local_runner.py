"""The local runner over real loopback HTTP, with requests signed as Twilio signs them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from local.apigw import twilio_signature
from local.backends import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN
from local.demo import TwilioClient, http
from local.demo_data import KIM, OLIVIA, PETE, POOL_NUMBERS, SAM
from tests.e2e.conftest import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def twilio(runner_url: str) -> TwilioClient:
    return TwilioClient(runner_url)


def post_and_collect(twilio: TwilioClient, params: dict[str, str], **kwargs: Any) -> tuple[int, list[dict[str, Any]]]:
    """Posts a webhook; returns its status and the SMS the sandbox sent because of it."""
    before = len(twilio.sent())
    status = twilio.post(params, **kwargs)
    return status, twilio.sent()[before:]


def get_json(url: str) -> tuple[int, Any]:
    status, body = http("GET", url)
    return status, json.loads(body)


def test_masked_exchange_both_ways(twilio: TwilioClient) -> None:
    status, sent = post_and_collect(twilio, twilio.params(OLIVIA.phone, SAM.reserved_number or "", "Is Rex OK?"))
    assert status == 200
    assert len(sent) == 1
    to_sam = sent[0]
    assert to_sam["to_phone"] == SAM.phone
    assert to_sam["from_number"] in POOL_NUMBERS
    assert to_sam["body"] == "From Olivia Owner: Is Rex OK?"

    status, sent = post_and_collect(twilio, twilio.params(SAM.phone, to_sam["from_number"], "He is fine."))
    assert status == 200
    assert [(s["from_number"], s["to_phone"], s["body"]) for s in sent] == [(SAM.reserved_number, OLIVIA.phone, "He is fine.")]


def test_forged_signature_is_rejected_and_nothing_sent(twilio: TwilioClient) -> None:
    params = twilio.params(PETE.phone, KIM.reserved_number or "", "forged")
    forged = twilio_signature("not-the-auth-token", twilio.sms_url, params)
    status, sent = post_and_collect(twilio, params, signature=forged)
    assert status == 403
    assert sent == []


def test_missing_signature_is_rejected(twilio: TwilioClient) -> None:
    status, sent = post_and_collect(twilio, twilio.params(PETE.phone, KIM.reserved_number or "", "unsigned"), signature="")
    assert status == 403
    assert sent == []


def test_replayed_message_sid_forwards_once(twilio: TwilioClient) -> None:
    params = twilio.params(PETE.phone, KIM.reserved_number or "", "Are you free Saturday?")
    first_status, first = post_and_collect(twilio, params)
    # nothing is written after the send (masking.messaging.parts): seconds later, before
    # Twilio reported the part, the claim may still be sending: answered 200, nothing sent,
    # and a check queued for when the claim is stale (the forward queue)
    early_status, early = post_and_collect(twilio, params)
    assert twilio.report(first[0]) == 200  # Twilio's callback names the part: a plain duplicate
    again_status, again = post_and_collect(twilio, params)
    assert (first_status, early_status, again_status) == (200, 200, 200)
    assert len(first) == 1 and first[0]["to_phone"] == KIM.phone
    assert early == again == []


def test_outbox_shows_message_record_and_delivery_status(runner_url: str, twilio: TwilioClient) -> None:
    params = twilio.params(PETE.phone, SAM.reserved_number or "", "Bella needs her pills at 6")
    status, sent = post_and_collect(twilio, params)
    assert status == 200 and len(sent) == 1

    _, records = get_json(f"{runner_url}/_local/outbox")
    messages = [r for r in records if r["kind"] == "message" and r["key"] == params["MessageSid"]]
    assert messages and messages[0]["fields"]["Body"] == "Bella needs her pills at 6"

    # Twilio's delivery callback, signed over the callback URL (the ref is in its path)
    callback = sent[0]["status_callback"]
    assert callback == f"{runner_url}/twilio/sms/status/{params['MessageSid']}.0"
    delivered = {"MessageSid": sent[0]["sid"], "MessageStatus": "delivered", "AccountSid": DEMO_ACCOUNT_SID}
    assert twilio.post(delivered, url=callback) == 200
    _, records = get_json(f"{runner_url}/_local/outbox")
    assert any(r["key"] == params["MessageSid"] and r["fields"].get("Status") == "delivered" for r in records)


def test_local_sign_matches_what_twilio_computes(runner_url: str, twilio: TwilioClient) -> None:
    form = "MessageSid=SM0123&From=%2B13035550201&Body=Hi+there"
    status, body = http("POST", f"{runner_url}/_local/sign", form.encode(), {"X-Url": twilio.sms_url})
    assert status == 200
    expected = twilio_signature(DEMO_AUTH_TOKEN, twilio.sms_url, {"MessageSid": "SM0123", "From": "+13035550201", "Body": "Hi there"})
    assert json.loads(body)["signature"] == expected


def test_unknown_route_is_404_and_wrong_method_405(runner_url: str) -> None:
    status, body = get_json(f"{runner_url}/no/such/route")
    assert status == 404
    assert body["success"] is False and body["error"] == "no route"
    status, body = get_json(f"{runner_url}/twilio/sms")
    assert status == 405
    assert body["details"]["allowed"] == ["POST"]


def test_demo_plays_its_conversation_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local.demo", "--port", str(free_port())], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All expectations met." in result.stdout


def test_the_mirror_reaches_the_airtable_standin(twilio: TwilioClient) -> None:
    params = twilio.params(PETE.phone, SAM.reserved_number or "", "mirror me")
    assert twilio.post(params) == 200

    status, rows = get_json(f"{twilio.base_url}/_local/airtable/Messages")

    assert status == 200
    assert [row["fields"]["Body"] for row in rows if row["fields"].get("Message SID") == params["MessageSid"]] == ["mirror me"]


def test_a_temporary_failure_is_resent_through_the_retry_queue(twilio: TwilioClient) -> None:
    import time

    status, sent = post_and_collect(twilio, twilio.params(OLIVIA.phone, KIM.reserved_number or "", "hello Kim"))
    assert status == 200 and sent
    forwarded = sent[0]
    callback = forwarded["status_callback"]
    params = {"MessageSid": forwarded["sid"], "MessageStatus": "undelivered", "ErrorCode": "30003", "AccountSid": DEMO_ACCOUNT_SID}
    assert twilio.post(params, url=callback) == 200

    deadline = time.monotonic() + 20
    resent: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not resent:
        time.sleep(0.5)
        resent = [s for s in twilio.sent() if s["body"] == forwarded["body"] and s["sid"] != forwarded["sid"]]
    assert len(resent) == 1 and resent[0]["to_phone"] == forwarded["to_phone"]


def test_schedules_run_on_demand(twilio: TwilioClient) -> None:
    for name in ("pool_monitor", "standby_keeper", "lease_sweeper"):
        status, body = http("POST", f"{twilio.base_url}/_local/schedules/{name}")
        assert status == 200, body
        assert json.loads(body)["success"] is True
    status, _ = http("POST", f"{twilio.base_url}/_local/schedules/nope")
    assert status == 404


def test_the_pending_form_row_is_provisioned_by_its_schedule(twilio: TwilioClient) -> None:
    from local.demo_data import FORM_SITTER_PHONE, FORM_SITTER_ROW

    status, body = http("POST", f"{twilio.base_url}/_local/schedules/airtable_provisioner")
    assert status == 200, body
    result = json.loads(body)["result"]
    status, rows = get_json(f"{twilio.base_url}/_local/airtable/Sitters")

    [row] = [r["fields"] for r in rows if r["fields"].get("Full Name") == FORM_SITTER_ROW["Full Name"]]
    assert (result["provisioned"], row["Provisioning Status"], row["Status"]) == (1, "Active", "Active")
    assert row["Twilio Number"].startswith("+1") and row["Provider ID"]
    welcome = [s for s in twilio.sent() if s["to_phone"] == FORM_SITTER_PHONE]
    assert len(welcome) == 1 and welcome[0]["from_number"] == row["Twilio Number"]
