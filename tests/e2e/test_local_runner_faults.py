"""Issue 13 in the local runner: POST /_local/faults, the SMS fallback route stored on the
fallback queue and replayed, the voice fallback's static TwiML, the outbox spill."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.demo import TwilioClient, http
from local.demo_data import KIM, OLIVIA, PETE, SAM

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def twilio(runner_url: str) -> Iterator[TwilioClient]:
    yield TwilioClient(runner_url)
    set_faults(runner_url, {})


def set_faults(runner_url: str, rates: dict[str, Any]) -> tuple[int, Any]:
    status, body = http("POST", f"{runner_url}/_local/faults", json.dumps(rates).encode(), {"Content-Type": "application/json"})
    return status, json.loads(body)


def wait_for(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    return check()


def test_faults_endpoint_sets_shows_and_rejects_unknown_kinds(runner_url: str, twilio: TwilioClient) -> None:
    status, shown = set_faults(runner_url, {"dynamodb_conflict": 0.02, "seed": 3})
    assert status == 200 and shown["rates"] == {"dynamodb_conflict": 0.02} and shown["seed"] == 3
    status, body = http("GET", f"{runner_url}/_local/faults")
    assert status == 200 and json.loads(body)["rates"] == {"dynamodb_conflict": 0.02}
    status, error = set_faults(runner_url, {"meteor_strike": 1})
    assert status == 422 and "dynamodb_throttle" in error["details"]["kinds"]


def test_a_message_the_webhook_could_not_take_survives_through_the_fallback_route(runner_url: str, twilio: TwilioClient) -> None:
    params = twilio.params(PETE.phone, KIM.reserved_number or "", "Please come, my dog is sick")
    set_faults(runner_url, {"dynamodb_throttle": 1.0})
    before = len(twilio.sent())
    assert twilio.post(params) == 500  # the service could not take it: Twilio calls the fallback URL
    fallback_url = f"{runner_url}/twilio/sms/fallback"
    stored = {**params, "ErrorCode": "11200", "ErrorUrl": twilio.sms_url}
    assert twilio.post(stored, url=fallback_url) == 200  # stored on the fallback queue
    assert twilio.sent()[before:] == []
    set_faults(runner_url, {})

    def delivered() -> list[dict[str, Any]]:
        return [s for s in twilio.sent()[before:] if "my dog is sick" in s["body"]]

    assert [s["to_phone"] for s in wait_for(delivered)] == [KIM.phone]
    time.sleep(2)  # a redelivery would show up here
    assert len(delivered()) == 1


def test_voice_fallback_answers_a_spoken_apology(runner_url: str) -> None:
    status, body = http(
        "POST", f"{runner_url}/twilio/voice/fallback", b"CallSid=CA1&ErrorCode=11200", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200
    assert b"<Say>" in body and b"<Dial" not in body


def test_outbox_failures_spill_and_are_republished(runner_url: str, twilio: TwilioClient) -> None:
    http("GET", f"{runner_url}/_local/outbox?clear=1")
    set_faults(runner_url, {"sqs_batch_fail": 1.0})
    params = twilio.params(OLIVIA.phone, SAM.reserved_number or "", "Mirror me later")
    assert twilio.post(params) == 200
    set_faults(runner_url, {})

    def mirrored() -> list[Any]:
        _, body = http("GET", f"{runner_url}/_local/outbox")
        return [r for r in json.loads(body) if r["kind"] == "message" and r["key"] == params["MessageSid"]]

    assert len(wait_for(mirrored)) == 1
