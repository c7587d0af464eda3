"""The local runner drives the forward queue: a send that fails twice is parked, and the
runner's queue poller delivers it to ``forward`` (waits of 1 and 2 s locally)."""

from __future__ import annotations

import os
import time
from urllib.parse import urlencode

import pytest

from local.apigw import twilio_signature
from local.demo_data import OLIVIA, SAM
from tests.e2e.conftest import free_port
from tests.support import reset_caches

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


def test_a_parked_forward_is_delivered_by_the_runner() -> None:
    from local.runner import LocalRunner

    saved = dict(os.environ)
    runner = LocalRunner(quiet=True)
    try:
        runner.start(port=free_port())
        runner.sandbox.fail_next_send("503", times=2)
        url = f"{runner.base_url}/twilio/sms"
        params = {
            "MessageSid": "SM" + "7" * 32,
            "AccountSid": runner.aws.account_sid,
            "From": OLIVIA.phone,
            "To": SAM.reserved_number or "",
            "Body": "parked, then delivered",
            "NumMedia": "0",
        }
        headers = {"X-Twilio-Signature": twilio_signature(runner.aws.auth_token, url, params)}
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Host"] = url.split("/")[2]
        status, _, _ = runner.handle("POST", "/twilio/sms", headers, urlencode(params).encode())
        assert status == 200 and runner.sandbox.sent == []

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not runner.sandbox.sent:
            time.sleep(0.25)
        assert [(s.to_phone, s.body) for s in runner.sandbox.sent] == [(SAM.phone, "From Olivia Owner: parked, then delivered")]
        # the outbox is drained right after the consumer returns, on the poller's thread
        while time.monotonic() < deadline and not any(r.get("fields", {}).get("Event") == "Forwarded after retry" for r in runner.outbox):
            time.sleep(0.25)
        assert any(r.get("fields", {}).get("Event") == "Forwarded after retry" for r in runner.outbox)
    finally:
        runner.stop()
        os.environ.clear()
        os.environ.update(saved)
        reset_caches()
