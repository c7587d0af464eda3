"""A burst of signed webhooks at once: every one answered, every one processed once.

API Gateway takes a burst without refusing connections. The runner used to listen with
socketserver's backlog of 5, and 20 webhooks at once got connection resets.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from urllib.parse import urlencode, urlsplit

import pytest

from local.apigw import twilio_signature
from local.backends import DEMO_AUTH_TOKEN
from local.demo import TwilioClient
from local.demo_data import KIM, OLIVIA, PETE, SAM

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

BURST = 50


def test_fifty_signed_webhooks_at_once_get_fifty_answers_and_fifty_forwards(runner_url: str) -> None:
    twilio = TwilioClient(runner_url)
    pairs = [
        (OLIVIA.phone, SAM.reserved_number),
        (PETE.phone, SAM.reserved_number),
        (OLIVIA.phone, KIM.reserved_number),
        (PETE.phone, KIM.reserved_number),
    ]
    forms = [twilio.params(pairs[i % 4][0], pairs[i % 4][1] or "", f"burst message {i}") for i in range(BURST)]
    target = urlsplit(twilio.sms_url)
    before = len(twilio.sent())

    start = threading.Barrier(BURST)
    statuses: list[int | None] = [None] * BURST
    errors: list[str] = []

    def send(index: int) -> None:
        body = urlencode(forms[index])
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(DEMO_AUTH_TOKEN, twilio.sms_url, forms[index]),
        }
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=120)
        try:
            start.wait(timeout=30)
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses[index] = response.status
        except OSError as error:  # a reset or refused connection is what the burst must not get
            errors.append(f"webhook {index}: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)

    assert errors == []
    assert statuses == [200] * BURST
    sent = twilio.sent()[before:]
    assert len(sent) == BURST  # fifty forwards: none lost, none twice
    assert Counter(sms["body"].rsplit(": ", 1)[-1] for sms in sent) == Counter(f"burst message {i}" for i in range(BURST))
    providers = {SAM.reserved_number: SAM.phone, KIM.reserved_number: KIM.phone}
    for index, form in enumerate(forms):
        [sms] = [s for s in sent if s["body"].endswith(f"burst message {index}")]
        assert sms["to_phone"] == providers[form["To"]], index
