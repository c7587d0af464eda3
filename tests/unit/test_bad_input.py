"""Bad input never gets a 5xx and never leaks (issue 12), and every SMS we send is tracked.

Each test names the defect the probe measured; each failed before the fix.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from masking.core.leases import create_client_from_phone
from masking.core.models import InboundLookup
from masking.core.phones import ascii_digits, is_e164
from masking.handlers.sms import handle_sms_webhook, handle_status_webhook
from masking.store.memory import MemoryCallStore, MemoryRoutingStore
from tests.support import API_HOST, OLIVIA, PROVIDER, World, signed_event
from tests.voice_support import VoiceWorld, make_voice_world

RESERVED = PROVIDER.reserved_number or ""
SMS = f"https://{API_HOST}/twilio/sms"
MEDIA = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"


def post(world: World, **params: str) -> dict[str, Any]:
    base = {"MessageSid": world.next_sid(), "From": OLIVIA.phone, "To": RESERVED, "Body": "hi"}
    response = handle_sms_webhook(signed_event(SMS, {**base, **params}), world.services)
    assert response["statusCode"] == 200 and response["body"].endswith("<Response/>"), response
    return response


def audits(world: World) -> list[dict[str, Any]]:
    return [r.fields for r in world.outbox.records if r.kind == "audit"]


# ---------------------------------------------------------------- digits and E.164


def test_unicode_digits_in_num_media_are_refused_not_a_5xx(world: World) -> None:
    """Measured: NumMedia="²" passed isdigit() and failed int() (500)."""
    post(world, NumMedia="²")
    post(world, NumMedia="٣")  # an Arabic-Indic 3: int() reads it
    assert world.sandbox.sent == []
    assert [a["Event"] for a in audits(world)] == ["Malformed webhook", "Malformed webhook"]
    assert not ascii_digits("²") and ascii_digits("10")


def test_unicode_digits_in_call_duration_are_ignored_not_a_5xx() -> None:
    """Measured: CallDuration="²" on a call status callback gave a 500."""
    voice: VoiceWorld = make_voice_world(MemoryCallStore())
    session = voice.start()
    [placed] = voice.sandbox.calls
    assert placed.status_callback
    response = voice.post(placed.status_callback, {"CallSid": placed.sid, "CallStatus": "completed", "CallDuration": "²"})
    assert response["statusCode"] == 200
    stored = voice.store.get_call_session(session.call_id)
    assert stored is not None and stored.status == "completed" and stored.duration is None


def test_a_from_with_a_trailing_newline_is_not_e164(world: World) -> None:
    """Measured: "+13035550201\\n" passed the $-anchored check and created a second client."""
    assert not is_e164(OLIVIA.phone + "\n") and not is_e164("+1303555020²") and is_e164(OLIVIA.phone)
    post(world, From=OLIVIA.phone + "\n")
    assert world.sandbox.sent == []
    assert "Client created" not in [a["Event"] for a in audits(world)]


# ---------------------------------------------------------------- body and media


def test_a_body_over_twilios_1600_characters_gets_empty_twiml_and_an_audit_row(world: World) -> None:
    """Measured: a 100 KB body became 63 outbound SMS; a 1 MB one broke the DynamoDB item."""
    for size in (1601, 100_000, 1_000_000):
        post(world, Body="x" * size)
    assert world.sandbox.sent == []
    rows = audits(world)
    assert [a["Event"] for a in rows] == ["Malformed webhook"] * 3
    assert all("1600" in str(a["Description"]) and "xxxx" not in str(a["Description"]) for a in rows)
    assert isinstance(world.store, MemoryRoutingStore) and world.store.messages == {}


def test_a_body_of_exactly_1600_characters_is_forwarded(world: World) -> None:
    post(world, Body="y" * 1600)
    assert len(world.sandbox.sent) == 2  # the "From Olivia Owner: " prefix pushes it into two parts


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "http://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "https://api.twilio.com.evil.example/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "https://example.com/rex.jpg",
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1?redirect=https://evil",
        "https://user@api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    ],
)
def test_media_urls_off_twilios_media_host_are_not_forwarded(world: World, url: str) -> None:
    """Measured: a MediaUrl on any https host (169.254.169.254 too) was forwarded."""
    post(world, NumMedia="1", MediaUrl0=url)
    assert world.sandbox.sent == []


def test_twilio_media_urls_are_forwarded(world: World) -> None:
    post(world, NumMedia="1", MediaUrl0=MEDIA, Body="Rex")
    assert world.sandbox.sent[0].media_urls == [MEDIA]


# ---------------------------------------------------------------- "Client created" once


def test_only_the_request_that_created_a_client_writes_client_created(world: World) -> None:
    """Measured: under a race every contender wrote the audit row (10 rows for 5 clients)."""
    store = world.store
    first, created_first = create_client_from_phone(store, "+13035550777", "2026-01-01T00:00:00Z")
    again, created_again = create_client_from_phone(store, "+13035550777", "2026-01-01T00:00:01Z")
    assert (created_first, created_again) == (True, False) and again.client_id == first.client_id

    # two first messages from one new phone, both looked up before either created it
    real_lookup = store.lookup_inbound

    def stale_lookup(to_number: str, from_phone: str) -> InboundLookup:
        found = real_lookup(to_number, from_phone)
        return InboundLookup(found.number, None, found.provider_id)

    store.lookup_inbound = stale_lookup  # type: ignore[method-assign]
    post(world, From="+13035550888", Body="one")
    post(world, From="+13035550888", Body="two")
    assert [a["Event"] for a in audits(world)].count("Client created") == 1
    assert len([r for r in world.outbox.records if r.kind == "client" and r.fields.get("Name") == "New client"]) <= 1


# ---------------------------------------------------------------- service replies are tracked


def status(world: World, callback: str, outbound_sid: str, state: str, code: str = "") -> dict[str, Any]:
    path = callback.split("/dev", 1)[1]
    params = {"MessageSid": outbound_sid, "MessageStatus": state, "ErrorCode": code}
    return handle_status_webhook(signed_event(f"https://{API_HOST}{path}", params), world.services)


def test_a_system_reply_carries_a_status_callback_and_its_failure_is_audited_without_a_loop(world: World) -> None:
    """Measured: system replies, provider alerts, session notices and verification SMS
    carried no StatusCallback: their delivery was never known."""
    post(world, Body="HELP")
    [reply] = world.sandbox.sent
    assert reply.status_callback and re.search(r"/dev/twilio/sms/status/SM\d{32}\.system$", reply.status_callback)
    world.outbox.records.clear()

    assert status(world, reply.status_callback, reply.sid, "undelivered", "30007")["statusCode"] == 200

    [row] = audits(world)
    assert row["Event"] == "Delivery failed" and row["Details"]["kind"] == "system"
    assert [r for r in world.outbox.records if r.kind == "message"] == []  # the Messages row is the inbound's
    assert len(world.sandbox.sent) == 1  # no alert about the failed reply


def test_a_provider_alert_is_tracked_and_its_failure_alerts_nobody(world: World) -> None:
    post(world, Body="hi")  # client -> provider opens the lease
    pool_number = world.sandbox.sent[-1].from_number
    reply_sid = world.next_sid()
    reply = {"MessageSid": reply_sid, "From": PROVIDER.phone, "To": pool_number, "Body": "Rex ok"}
    handle_sms_webhook(signed_event(SMS, reply), world.services)
    forward = world.sandbox.sent[-1]
    assert forward.status_callback
    status(world, forward.status_callback, forward.sid, "failed", "30006")
    alert = world.sandbox.sent[-1]
    assert alert.to_phone == PROVIDER.phone and alert.status_callback and alert.status_callback.endswith(f"/{reply_sid}.alert")
    sent_before = len(world.sandbox.sent)

    status(world, alert.status_callback, alert.sid, "failed", "30006")

    assert len(world.sandbox.sent) == sent_before  # a failed alert sends no alert
    assert audits(world)[-1]["Details"]["kind"] == "alert" and audits(world)[-1]["Event"] == "Delivery failed"
