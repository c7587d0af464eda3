"""Voice: inbound bridging and click-to-call, through the webhook handlers, on whatever
store ``voice_store`` gives (in memory here; tests/integration/test_voice_dynamo.py runs
these same tests on DynamoDB through moto).

Every TwiML answer goes through ``twiml_of``: it must parse as XML, and every ``<Dial>``
must carry a masked ``callerId``.
"""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest

from masking.adapters.twilio_gateway import TwilioGateway
from masking.adapters.twilio_sandbox import SandboxHttpClient
from masking.core.errors import Conflict, NotFound, UpstreamError
from masking.core.models import NEW_CLIENT_NAME, InboundSms, Lifecycle, NumberRecord, NumberStatus
from masking.core.models import NEW_CLIENT_NAME as SMS_NEW_CLIENT_NAME
from masking.core.ports import CallStore
from masking.core.settings import (
    RECORDING_MODE,
    RoutingSettings,
    SettingsError,
    VoiceSettings,
    get_voice_settings,
)
from masking.handlers.voice import handle_voice_webhook
from masking.messaging.routing import SmsRouter
from masking.store.memory import MemoryCallStore
from masking.voice.click_to_call import CALL_SESSION_TTL, RateLimited, session_view, start_call
from masking.voice.twiml import (
    CALL_REQUEST_EXPIRED,
    CLIENT_NOT_ANSWERED,
    NOT_AVAILABLE,
    OWN_NUMBER,
    POOL_EXHAUSTED,
    UNKNOWN_CALLER,
    UNKNOWN_NUMBER,
    dial_twiml,
)
from masking.voice.twiml import EXPIRED_CALL_TO_PROVIDER as EXPIRED_TO_PROVIDER
from tests.support import (
    ACCOUNT_SID,
    API_HOST,
    AUTH_TOKEN,
    BASE,
    OLIVIA,
    OTHER_PROVIDER,
    PETE,
    POOL,
    PROVIDER,
    STAGE,
    signed_event,
)
from tests.voice_support import VOICE_URL, VoiceWorld, dialed, make_voice_world, said, twiml_of, verbs

RESERVED = PROVIDER.reserved_number
assert RESERVED
STRANGER = "+13035550999"


def pair_of(world: VoiceWorld, client_id: str = OLIVIA.client_id) -> Any:
    return world.store.get_provider_and_pair(PROVIDER.provider_id, client_id)[1]


def shrink_pool(world: VoiceWorld, size: int) -> list[str]:
    for number in POOL[size:]:
        world.store.put_number(NumberRecord(number=number, lifecycle=Lifecycle.POOL, status=NumberStatus.FAILED))
    return POOL[:size]


# ---------------------------------------------------------------- inbound: client -> provider


def test_client_call_is_bridged_to_the_provider_with_the_pool_number_as_caller_id(voice: VoiceWorld) -> None:
    root = twiml_of(voice.call(OLIVIA.phone, RESERVED, sid="CA" + "1" * 32))

    caller_id, number = dialed(root)
    assert (caller_id, number) == (POOL[0], PROVIDER.phone)
    [dial] = root.iter("Dial")
    assert dial.get("action") == f"{BASE}/twilio/voice/status/CA{'1' * 32}/dial"
    assert dial.get("method") == "POST"
    assert dial.get("record") is None  # recording is off by default
    lease = pair_of(voice)
    assert lease is not None and lease.pool_number == POOL[0] and lease.is_active(voice.clock.now)
    assert "Lease opened" in voice.events()
    [row] = voice.calls_mirrored()
    assert row.key == "CA" + "1" * 32
    assert row.fields["Direction"] == "client_to_provider" and row.fields["Caller ID"] == POOL[0]


def test_client_call_keeps_the_pairs_pool_number_and_extends_the_lease(voice: VoiceWorld) -> None:
    twiml_of(voice.call(OLIVIA.phone, RESERVED))
    first = pair_of(voice)
    voice.clock.advance(days=10)

    root = twiml_of(voice.call(OLIVIA.phone, RESERVED))

    assert dialed(root) == (first.pool_number, PROVIDER.phone)
    again = pair_of(voice)
    assert again.lease_id == first.lease_id
    assert again.expires_at > first.expires_at


def test_a_call_uses_the_lease_a_text_opened(voice: VoiceWorld) -> None:
    sms = SmsRouter(
        voice.store, TwilioGateway.create(ACCOUNT_SID, AUTH_TOKEN, http_client=voice.sandbox), RoutingSettings(), clock=voice.clock
    )
    sms.route(InboundSms(message_sid="SM" + "7" * 32, from_phone=PETE.phone, to_number=RESERVED, body="hello"))
    pool_number = voice.sandbox.sent[0].from_number

    root = twiml_of(voice.call(PETE.phone, RESERVED))

    assert dialed(root) == (pool_number, PROVIDER.phone)


def test_unknown_client_is_created_and_bridged(voice: VoiceWorld) -> None:
    root = twiml_of(voice.call(STRANGER, RESERVED))

    assert dialed(root) == (POOL[0], PROVIDER.phone)
    assert NEW_CLIENT_NAME == SMS_NEW_CLIENT_NAME
    kinds = [(r.kind, r.fields.get("Event")) for r in voice.outbox.records]
    assert ("client", None) in kinds and ("audit", "Client created") in kinds


# ---------------------------------------------------------------- inbound: provider -> client


def test_provider_call_to_a_pool_number_reaches_the_client_from_the_reserved_number(voice: VoiceWorld) -> None:
    twiml_of(voice.call(OLIVIA.phone, RESERVED))
    pool_number = pair_of(voice).pool_number

    root = twiml_of(voice.call(PROVIDER.phone, pool_number))

    assert dialed(root) == (RESERVED, OLIVIA.phone)
    rows = voice.calls_mirrored()
    assert rows[-1].fields["Direction"] == "provider_to_client" and rows[-1].fields["Caller ID"] == RESERVED


def test_pool_numbers_stand_for_different_clients_of_different_providers(voice: VoiceWorld) -> None:
    assert OTHER_PROVIDER.reserved_number
    twiml_of(voice.call(OLIVIA.phone, RESERVED))
    twiml_of(voice.call(PETE.phone, OTHER_PROVIDER.reserved_number))

    to_olivia = twiml_of(voice.call(PROVIDER.phone, POOL[0]))
    to_pete = twiml_of(voice.call(OTHER_PROVIDER.phone, POOL[0]))

    assert dialed(to_olivia) == (RESERVED, OLIVIA.phone)
    assert dialed(to_pete) == (OTHER_PROVIDER.reserved_number, PETE.phone)


def test_provider_call_on_an_expired_lease_is_told_and_hung_up(voice: VoiceWorld) -> None:
    twiml_of(voice.call(OLIVIA.phone, RESERVED))
    pool_number = pair_of(voice).pool_number
    voice.clock.advance(days=14, seconds=1)

    root = twiml_of(voice.call(PROVIDER.phone, pool_number))

    assert verbs(root) == ["Say", "Hangup"]
    assert said(root) == EXPIRED_TO_PROVIDER
    assert "Expired lease" in voice.events()


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("caller", "number", "text", "event"),
    [
        (STRANGER, POOL[0], UNKNOWN_CALLER, "Call from unknown caller"),
        (OLIVIA.phone, "+17205559999", UNKNOWN_NUMBER, "Call to unknown number"),
        ("anonymous", RESERVED, UNKNOWN_CALLER, "Call from withheld number"),
        ("+266696687", RESERVED, UNKNOWN_CALLER, "Call from withheld number"),
        (PROVIDER.phone, RESERVED, OWN_NUMBER, "Provider called own number"),
        (OLIVIA.phone, POOL[1], UNKNOWN_CALLER, "Call from unknown caller"),  # a client calling a pool number
    ],
)
def test_unroutable_calls_get_a_short_message_and_a_hangup(voice: VoiceWorld, caller: str, number: str, text: str, event: str) -> None:
    root = twiml_of(voice.call(caller, number))

    assert verbs(root) == ["Say", "Hangup"]
    assert said(root) == text
    assert voice.events() == [event]
    assert pair_of(voice) is None


def test_pool_exhausted_client_call_is_asked_to_text_and_audited_critical(voice: VoiceWorld) -> None:
    shrink_pool(voice, 1)
    twiml_of(voice.call(OLIVIA.phone, RESERVED))

    root = twiml_of(voice.call(PETE.phone, RESERVED))

    assert verbs(root) == ["Say", "Hangup"]
    assert said(root) == POOL_EXHAUSTED
    [audit] = [r for r in voice.outbox.records if r.fields.get("Event") == "Pool exhausted"]
    assert audit.fields["Severity"] == "Critical"
    assert pair_of(voice, PETE.client_id) is None


def test_malformed_signed_call_is_hung_up_and_audited(voice: VoiceWorld) -> None:
    params = {"AccountSid": ACCOUNT_SID, "From": OLIVIA.phone, "To": RESERVED}  # no CallSid
    root = twiml_of(handle_voice_webhook(signed_event(VOICE_URL, params), voice.services))

    assert verbs(root) == ["Say", "Hangup"]
    assert voice.events() == ["Malformed webhook"]


# ---------------------------------------------------------------- signatures


def forged(response: dict[str, Any]) -> None:
    assert response["statusCode"] == 403
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"success": False, "error": "invalid Twilio signature", "details": None}


def test_forged_or_missing_signature_is_403_and_nothing_happens(voice: VoiceWorld) -> None:
    forged(voice.call(OLIVIA.phone, RESERVED, signature="bm90IGEgc2lnbmF0dXJl"))
    forged(voice.call(OLIVIA.phone, RESERVED, signature=""))
    session = voice.start()
    before = voice.session(session.call_id)
    [placed] = voice.sandbox.calls
    forged(voice.post(placed.url, {"CallSid": placed.sid}, signature="forged"))
    assert placed.status_callback
    forged(voice.post(placed.status_callback, {"CallSid": placed.sid, "CallStatus": "completed"}, signature="forged"))

    assert pair_of(voice) is None
    assert voice.store.get_call("CA" + "0" * 31 + "1") is None
    assert voice.session(session.call_id) == before
    assert [r.kind for r in voice.outbox.records] == ["audit", "call"]  # from start_call only


def test_a_call_signed_for_another_url_is_refused(voice: VoiceWorld) -> None:
    from local.apigw import twilio_signature

    params = {"CallSid": voice.next_sid(), "AccountSid": ACCOUNT_SID, "From": OLIVIA.phone, "To": RESERVED}
    signature = twilio_signature(AUTH_TOKEN, f"https://{API_HOST}/{STAGE}/twilio/sms", params)

    forged(handle_voice_webhook(signed_event(VOICE_URL, params, signature), voice.services))


# ---------------------------------------------------------------- idempotency


def test_a_replayed_call_sid_gets_the_same_answer_and_allocates_nothing(voice: VoiceWorld) -> None:
    sid = voice.next_sid()
    first = voice.call(STRANGER, RESERVED, sid=sid)
    twiml_of(first)
    records = len(voice.outbox.records)
    lease = voice.store.get_provider_and_pair(PROVIDER.provider_id, voice.store.lookup_inbound(RESERVED, STRANGER).client.client_id)[1]  # type: ignore[union-attr]

    again = voice.call(STRANGER, RESERVED, sid=sid)

    assert again["body"] == first["body"]
    twiml_of(again)
    assert len(voice.outbox.records) == records
    same = voice.store.get_provider_and_pair(PROVIDER.provider_id, lease.client_id)[1]
    assert same == lease  # not even touched


def test_a_replayed_refusal_is_answered_the_same_and_audited_once(voice: VoiceWorld) -> None:
    sid = voice.next_sid()
    first = twiml_of(voice.call(STRANGER, POOL[0], sid=sid))
    again = twiml_of(voice.call(STRANGER, POOL[0], sid=sid))

    assert ET.tostring(again) == ET.tostring(first) and verbs(again) == ["Say", "Hangup"]
    assert voice.events() == ["Call from unknown caller"]


def test_concurrent_retries_of_a_new_clients_call_open_one_lease(voice: VoiceWorld) -> None:
    sid = voice.next_sid()
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(4)

    def ring() -> None:
        barrier.wait()
        answers.append(voice.call(STRANGER, RESERVED, sid=sid))

    threads = [threading.Thread(target=ring) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({a["body"] for a in answers}) == 1
    assert [dialed(twiml_of(a)) for a in answers] == [(POOL[0], PROVIDER.phone)] * 4
    client = voice.store.lookup_inbound(RESERVED, STRANGER).client
    assert client is not None
    slots = voice.store.pool_view(PROVIDER.provider_id).slots
    assert [s.client_id for s in slots.values()] == [client.client_id]


# ---------------------------------------------------------------- inbound dial outcome


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed"])
def test_inbound_dial_outcome_is_recorded_once_and_the_caller_is_told(voice_store: CallStore, status: str) -> None:
    voice = make_voice_world(voice_store, VoiceSettings(whisper=False, voicemail=False))  # the voicemail: test_call_experience.py
    sid = voice.next_sid()
    root = twiml_of(voice.call(OLIVIA.phone, RESERVED, sid=sid))

    answer = twiml_of(voice.dial_action(root, status, call_sid=sid))
    rows = len(voice.calls_mirrored())
    twiml_of(voice.dial_action(root, "completed", duration=5, call_sid=sid))  # a late, different outcome

    assert verbs(answer) == ["Say", "Hangup"] and said(answer) == NOT_AVAILABLE
    stored = voice.store.get_call(sid)
    assert stored is not None and stored.dial_status == status
    assert len(voice.calls_mirrored()) == rows
    assert voice.calls_mirrored()[-1].fields["Status"] == status


def test_inbound_dial_completed_records_the_duration_and_hangs_up(voice: VoiceWorld) -> None:
    sid = voice.next_sid()
    root = twiml_of(voice.call(OLIVIA.phone, RESERVED, sid=sid))
    assert verbs(voice.press(voice.whisper(root), "1")) == []  # the provider took the call

    answer = twiml_of(voice.dial_action(root, "completed", duration=73, call_sid=sid))

    assert verbs(answer) == ["Hangup"]
    stored = voice.store.get_call(sid)
    assert stored is not None and (stored.dial_status, stored.dial_duration) == ("completed", 73)
    assert voice.calls_mirrored()[-1].fields == {"Call SID": sid, "Status": "completed", "Duration": 73}


# ---------------------------------------------------------------- recording


def test_recording_setting_records_both_legs_of_every_bridge(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(record_calls=True))

    inbound = twiml_of(world.call(OLIVIA.phone, RESERVED))
    session = world.start()
    bridged = world.bridge(session)

    for root in (inbound, bridged):
        [dial] = root.iter("Dial")
        assert dial.get("record") == RECORDING_MODE
    assert world.session(session.call_id).record is True
    assert world.sandbox.calls[0].record is False  # the provider's ringing leg alone is never recorded


def test_voice_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    get_voice_settings.cache_clear()
    monkeypatch.setenv("RECORD_CALLS", "true")
    monkeypatch.setenv("CALLS_PER_PROVIDER_PER_HOUR", "25")
    try:
        assert get_voice_settings() == VoiceSettings(calls_per_provider_per_hour=25, record_calls=True)
        get_voice_settings.cache_clear()
        monkeypatch.delenv("RECORD_CALLS")
        monkeypatch.delenv("CALLS_PER_PROVIDER_PER_HOUR")
        assert get_voice_settings() == VoiceSettings(calls_per_provider_per_hour=10, record_calls=False)
        get_voice_settings.cache_clear()
        monkeypatch.setenv("CALLS_PER_PROVIDER_PER_HOUR", "lots")
        with pytest.raises(SettingsError, match="CALLS_PER_PROVIDER_PER_HOUR"):
            get_voice_settings()
        get_voice_settings.cache_clear()
        monkeypatch.setenv("CALLS_PER_PROVIDER_PER_HOUR", "10")
        monkeypatch.setenv("RECORD_CALLS", "maybe")
        with pytest.raises(SettingsError, match="RECORD_CALLS"):
            get_voice_settings()
    finally:
        get_voice_settings.cache_clear()


def test_a_dial_is_never_built_without_a_caller_id() -> None:
    for caller_id in (None, "", "anonymous"):
        with pytest.raises(ValueError, match="callerId"):
            dial_twiml(OLIVIA.phone, caller_id, f"{BASE}/twilio/voice/status?call=x&leg=dial")


# ---------------------------------------------------------------- click-to-call


def test_click_to_call_rings_the_provider_then_bridges_to_the_client(voice: VoiceWorld) -> None:
    session = voice.start(reference="booking-42")

    assert session.call_id.startswith("CS") and len(session.call_id) == 34
    [placed] = voice.sandbox.calls
    assert (placed.to_phone, placed.from_number) == (PROVIDER.phone, RESERVED)
    assert placed.url == f"{BASE}/twilio/voice/bridge/{session.call_id}"
    assert placed.status_callback == f"{BASE}/twilio/voice/status/{session.call_id}"
    assert placed.status_callback_events == ["initiated", "ringing", "answered", "completed"]
    assert placed.sid.startswith("CA") and len(placed.sid) == 34
    stored = voice.session(session.call_id)
    assert (stored.status, stored.call_sid, stored.reference) == ("initiated", placed.sid, "booking-42")
    assert stored.expires_at == int((voice.clock.now + CALL_SESSION_TTL).timestamp())

    voice.status(session, "initiated")
    voice.status(session, "ringing")
    root = voice.bridge(session)
    voice.status(session, "in-progress")
    action = twiml_of(voice.dial_action(root, "completed", duration=42, call_sid=placed.sid))
    voice.status(session, "completed", duration=50)

    assert dialed(root) == (RESERVED, OLIVIA.phone)
    [dial] = root.iter("Dial")
    assert dial.get("action") == f"{BASE}/twilio/voice/status/{session.call_id}/dial"
    assert verbs(action) == ["Hangup"]
    done = voice.session(session.call_id)
    assert (done.status, done.duration, done.dial_status, done.dial_duration) == ("completed", 50, "completed", 42)
    statuses = [r.fields["Status"] for r in voice.calls_mirrored() if r.key == session.call_id]
    assert statuses == ["initiated", "ringing", "answered", "answered", "completed"]
    last = voice.calls_mirrored()[-1].fields
    assert last["Direction"] == "click-to-call" and last["Reference"] == "booking-42" and last["Call SID"] == placed.sid
    assert "Call started" in voice.events()
    view = session_view(done)
    assert view["id"] == session.call_id and view["status"] == "completed" and view["caller_id"] == RESERVED
    assert view["expires_at"] == "2026-11-01T12:30:00Z"
    assert OLIVIA.phone not in json.dumps(view) and PROVIDER.phone not in json.dumps(view)


def test_provider_does_not_answer_no_bridge(voice: VoiceWorld) -> None:
    session = voice.start()

    voice.status(session, "initiated")
    voice.status(session, "ringing")
    voice.status(session, "no-answer")

    done = voice.session(session.call_id)
    assert done.status == "no-answer" and done.dial_status is None
    assert [r.fields["Status"] for r in voice.calls_mirrored()][-1] == "no-answer"


@pytest.mark.parametrize("status", ["busy", "no-answer"])
def test_client_does_not_answer_the_dial_action_records_it(voice: VoiceWorld, status: str) -> None:
    session = voice.start()
    root = voice.bridge(session)

    answer = twiml_of(voice.dial_action(root, status, call_sid=str(session.call_sid)))
    voice.status(session, "completed", duration=31)

    assert verbs(answer) == ["Say", "Hangup"] and said(answer) == CLIENT_NOT_ANSWERED
    done = voice.session(session.call_id)
    assert (done.status, done.dial_status, done.dial_duration) == ("completed", status, None)
    assert "Client did not answer" in voice.events()


def test_a_call_session_expires_after_30_minutes(voice: VoiceWorld) -> None:
    late, in_time = voice.start(), voice.start()
    voice.clock.advance(minutes=29)
    assert dialed(voice.bridge(in_time)) == (RESERVED, OLIVIA.phone)
    voice.clock.advance(minutes=1, seconds=1)

    root = voice.bridge(late)

    assert verbs(root) == ["Say", "Hangup"]
    assert said(root) == CALL_REQUEST_EXPIRED
    assert "Call request expired" in voice.events()
    assert voice.session(late.call_id).status == "initiated"


def test_an_unknown_call_session_is_spoken_as_expired(voice: VoiceWorld) -> None:
    root = twiml_of(voice.post(f"{BASE}/twilio/voice/bridge?call=CS{'0' * 32}", {"CallSid": voice.next_sid()}))

    assert said(root) == CALL_REQUEST_EXPIRED and verbs(root) == ["Say", "Hangup"]


def test_several_calls_in_a_row_are_each_their_own_session(voice: VoiceWorld) -> None:
    sessions = [voice.start(client) for client in (OLIVIA.client_id, OLIVIA.client_id, PETE.phone)]

    assert len({s.call_id for s in sessions}) == 3
    assert len({c.sid for c in voice.sandbox.calls}) == 3
    assert [voice.session(s.call_id).client_id for s in sessions] == [OLIVIA.client_id, OLIVIA.client_id, PETE.client_id]
    assert [dialed(voice.bridge(s))[1] for s in sessions] == [OLIVIA.phone, OLIVIA.phone, PETE.phone]


def test_rate_limit_per_provider_per_clock_hour(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(calls_per_provider_per_hour=3))
    world.clock.now = world.clock.now.replace(minute=10)
    for _ in range(3):
        world.start()

    with pytest.raises(RateLimited) as raised:
        world.start()

    assert raised.value.status == 429
    assert raised.value.details["retry_after_seconds"] == 50 * 60
    assert len(world.sandbox.calls) == 3
    assert "Call rate limited" in world.events()
    world.start(provider_id=OTHER_PROVIDER.provider_id, client_ref=PETE.client_id)  # per provider
    world.clock.advance(minutes=50)
    world.start()  # a new clock hour
    assert len(world.sandbox.calls) == 5


def test_concurrent_requests_cannot_pass_the_rate_limit(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(calls_per_provider_per_hour=3))
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def request() -> None:
        barrier.wait()
        try:
            start_call(world.admin, PROVIDER.provider_id, OLIVIA.client_id, None, BASE, settings=world.settings)
            outcomes.append("started")
        except RateLimited:
            outcomes.append("limited")

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["limited"] * 5 + ["started"] * 3
    assert len(world.sandbox.calls) == 3


def test_repeated_and_late_status_callbacks_change_nothing(voice: VoiceWorld) -> None:
    session = voice.start()
    voice.status(session, "ringing")
    rows = len(voice.calls_mirrored())

    voice.status(session, "ringing")
    voice.status(session, "initiated")  # out of order
    assert len(voice.calls_mirrored()) == rows

    root = voice.bridge(session)
    voice.bridge(session)  # Twilio retried the bridge: the same Dial, no second change
    voice.status(session, "in-progress")
    twiml_of(voice.dial_action(root, "completed", duration=12, call_sid=str(session.call_sid)))
    twiml_of(voice.dial_action(root, "completed", duration=12, call_sid=str(session.call_sid)))
    voice.status(session, "completed", duration=20)
    voice.status(session, "completed", duration=20)
    voice.status(session, "ringing")

    done = voice.session(session.call_id)
    assert (done.status, done.duration, done.dial_duration) == ("completed", 20, 12)
    changes = [(r.fields["Status"], r.fields["Client Leg Status"]) for r in voice.calls_mirrored() if r.key == session.call_id]
    assert changes == [("initiated", None), ("ringing", None), ("answered", None), ("answered", "completed"), ("completed", "completed")]


def test_unknown_status_values_and_sessions_change_nothing(voice: VoiceWorld) -> None:
    session = voice.start()
    rows = len(voice.outbox.records)

    voice.status(session, "exploded")
    twiml_of(voice.post(f"{BASE}/twilio/voice/status?call=CS{'0' * 32}", {"CallSid": voice.next_sid(), "CallStatus": "completed"}))
    twiml_of(voice.post(f"{BASE}/twilio/voice/status", {"CallSid": voice.next_sid(), "CallStatus": "completed"}))

    assert len(voice.outbox.records) == rows
    assert voice.session(session.call_id).status == "initiated"


def test_start_call_refusals(voice: VoiceWorld) -> None:
    with pytest.raises(NotFound):
        voice.start(provider_id="prov-nobody")
    with pytest.raises(NotFound):
        voice.start(client_ref="cl-nobody")
    voice.store.put_provider(replace(PROVIDER, status="Inactive"))
    with pytest.raises(Conflict):
        voice.start()
    assert voice.sandbox.calls == []


def test_twilio_refusing_the_call_gives_the_hour_back(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(calls_per_provider_per_hour=1))
    world.sandbox.fail_next_matching("/Calls.json", code=21215)

    with pytest.raises(UpstreamError) as raised:
        world.start()

    assert raised.value.status == 502
    [failed] = [r for r in world.calls_mirrored()]
    assert failed.fields["Status"] == "failed"
    world.start()  # the failed attempt did not use the hour's only call
    assert len(world.sandbox.calls) == 1


def test_click_to_call_finds_the_client_by_external_id_or_phone(voice: VoiceWorld) -> None:
    with_external_id = replace(OLIVIA, external_id="ttp-77")
    if isinstance(voice.store, MemoryCallStore):
        voice.store.put_client(with_external_id)
    else:  # DynamoDB keeps an external-id index item: the admin store's client sync writes it
        assert voice.store.save_client(with_external_id, OLIVIA)  # type: ignore[attr-defined]

    by_external = voice.start(client_ref="ttp-77")
    by_phone = voice.start(client_ref=OLIVIA.phone)

    assert by_external.client_id == by_phone.client_id == OLIVIA.client_id


def test_gateway_create_call_through_the_sandbox() -> None:
    from masking.core.ports import SendError

    sandbox = SandboxHttpClient()
    gateway = TwilioGateway.create(ACCOUNT_SID, AUTH_TOKEN, http_client=sandbox)

    sid = gateway.create_call(
        PROVIDER.phone, RESERVED, f"{BASE}/twilio/voice/bridge?call=x", f"{BASE}/twilio/voice/status?call=x", record=True
    )

    [placed] = sandbox.calls
    assert placed.sid == sid and sid.startswith("CA") and len(sid) == 34
    assert (placed.to_phone, placed.from_number, placed.record) == (PROVIDER.phone, RESERVED, True)
    assert placed.status_callback_events == ["initiated", "ringing", "answered", "completed"]
    assert sandbox.requests[-1].data["Method"] == "POST" and sandbox.requests[-1].data["StatusCallbackMethod"] == "POST"
    sandbox.fail_next(21217)
    with pytest.raises(SendError) as raised:
        gateway.create_call(PROVIDER.phone, RESERVED, f"{BASE}/b", f"{BASE}/s")
    assert raised.value.code == 21217
    assert len(sandbox.calls) == 1
