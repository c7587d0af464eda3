"""How a failed Twilio send is classified, the explicit timeouts, and the Messages-list
look-up that reconciles a lost answer (issue 13 items 1, 3 and 7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from requests.exceptions import ConnectionError, ConnectTimeout, ReadTimeout

from masking.adapters.secrets import TwilioCredentials
from masking.adapters.twilio_gateway import LazyTwilioGateway, TwilioGateway
from masking.adapters.twilio_sandbox import SandboxHttpClient
from masking.core.models import OutboundSms
from masking.core.ports import SendError
from masking.core.settings import TwilioSettings, clear_settings_cache, get_twilio_settings

ACCOUNT_SID = "AC" + "0" * 32
SMS = OutboundSms(from_number="+17205550100", to_phone="+13035550101", body="hello")


@pytest.mark.parametrize(
    ("code", "status", "transient", "ambiguous"),
    [
        (20429, 429, True, False),  # "aren't processed and are safe to retry"
        (None, 429, True, False),
        (20503, 503, True, False),
        (20500, 500, True, True),  # Twilio may have created the message
        (None, 502, True, True),
        (21610, 400, False, False),  # recipient opted out
        (21211, 400, False, False),  # invalid To
        (21617, 400, False, False),
        (30003, 400, False, False),
    ],
)
def test_send_errors_are_classified(code: int | None, status: int, transient: bool, ambiguous: bool) -> None:
    error = SendError("x", code=code, status=status)
    assert (error.transient, error.ambiguous) == (transient, ambiguous)


def test_the_library_http_client_gets_explicit_connect_and_read_timeouts() -> None:
    """Issue 13, measured: the Twilio REST client had no timeout at all."""
    gateway = TwilioGateway.create(ACCOUNT_SID, "token")
    assert gateway._client.http_client.timeout == (3.0, 10.0)


def test_the_timeouts_come_from_the_settings_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("TWILIO_READ_TIMEOUT", "7.5")
    clear_settings_cache()
    try:
        settings = get_twilio_settings()
    finally:
        clear_settings_cache()
    assert (settings.connect_timeout_seconds, settings.read_timeout_seconds) == (2.0, 7.5)
    lazy = LazyTwilioGateway(lambda: TwilioCredentials(ACCOUNT_SID, "token"), settings, SandboxHttpClient)
    assert lazy.gateway()._client.http_client.timeout == (2.0, 7.5)
    with pytest.raises(ValueError):
        TwilioSettings(read_timeout_seconds=0)


@pytest.mark.parametrize(
    ("raised", "ambiguous"),
    [(ConnectTimeout("connect"), False), (ReadTimeout("read"), True), (ConnectionError("reset"), True)],
)
def test_transport_errors_through_the_real_http_client_are_transient(
    monkeypatch: pytest.MonkeyPatch, raised: Exception, ambiguous: bool
) -> None:
    """Issue 13, measured: send_sms caught only TwilioRestException, so these escaped."""
    seen: dict[str, Any] = {}

    def no_network(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise raised

    monkeypatch.setattr(requests.Session, "send", no_network)
    gateway = TwilioGateway.create(ACCOUNT_SID, "token", timeouts=(3.0, 10.0))

    with pytest.raises(SendError) as caught:
        gateway.send_sms(SMS)

    assert seen["timeout"] == (3.0, 10.0)
    assert caught.value.transient and caught.value.ambiguous == ambiguous and not caught.value.permanent


def test_find_sent_looks_up_to_and_from_and_matches_body_and_date() -> None:
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    clock = [now.timestamp()]
    sandbox = SandboxHttpClient(clock=lambda: clock[0])
    gateway = TwilioGateway.create(ACCOUNT_SID, "token", http_client=sandbox)
    old = gateway.send_sms(SMS)
    clock[0] += 3600
    assert gateway.find_sent(SMS, now + timedelta(hours=1)) is None  # the older one does not count
    new = gateway.send_sms(SMS)
    gateway.send_sms(OutboundSms(SMS.from_number, SMS.to_phone, "other words"))

    found = gateway.find_sent(SMS, now + timedelta(hours=1))

    assert found is not None and found.sid == new.sid != old.sid
    lookup = [r for r in sandbox.requests if r.method == "GET"][-1]
    assert lookup.url.endswith(f"/Accounts/{ACCOUNT_SID}/Messages.json")
    assert (lookup.params["To"], lookup.params["From"]) == (SMS.to_phone, SMS.from_number)


def test_find_sent_counts_only_messages_created_since_the_claim_less_a_second_of_clock_skew() -> None:
    """Reviewer's defect 1: an identical text forwarded 20 s before the claim is not its send."""
    received = datetime(2026, 11, 1, 12, 0, 0, 700000, tzinfo=UTC)  # date_created has whole seconds
    clock = [received.timestamp() - 20]
    sandbox = SandboxHttpClient(clock=lambda: clock[0])
    gateway = TwilioGateway.create(ACCOUNT_SID, "token", http_client=sandbox)
    gateway.send_sms(SMS)  # the earlier identical text
    assert gateway.find_sent(SMS, received) is None
    clock[0] = received.timestamp() - 1.5  # Twilio's clock 1.5 s behind ours: 11:59:59
    ours = gateway.send_sms(SMS)
    found = gateway.find_sent(SMS, received)
    assert found is not None and found.sid == ours.sid
    assert gateway.find_sent(SMS, received, exclude={ours.sid}) is None  # a SID another part already counted


def test_find_sent_with_a_messaging_service_filters_on_to_only() -> None:
    sandbox = SandboxHttpClient()
    gateway = TwilioGateway.create(ACCOUNT_SID, "token", messaging_service_sid="MG" + "1" * 32, http_client=sandbox)
    gateway.find_sent(SMS, datetime.now(UTC))
    lookup = sandbox.requests[-1]
    assert lookup.params["To"] == SMS.to_phone and "From" not in lookup.params


def test_sandbox_send_faults_answer_like_twilio() -> None:
    sandbox = SandboxHttpClient()
    gateway = TwilioGateway.create(ACCOUNT_SID, "token", http_client=sandbox)
    for fault, status in (("429", 429), ("503", 503), ("500", 500)):
        sandbox.fail_next_send(fault)
        with pytest.raises(SendError) as caught:
            gateway.send_sms(SMS)
        assert caught.value.status == status and caught.value.transient
    assert sandbox.sent == []
    sandbox.fail_next_send("accepted_lost")
    with pytest.raises(SendError) as caught:
        gateway.send_sms(SMS)
    assert caught.value.ambiguous and len(sandbox.sent) == 1
    with pytest.raises(ValueError):
        sandbox.fail_next_send("gremlins")
