"""The call experience (issue 17): whisper, masked voicemail, the signed voicemail link,
the recording notice and the call history, through the webhook handlers, on whatever store
``voice_store`` gives (in memory here; tests/integration/test_call_experience_dynamo.py runs
the same tests on DynamoDB through moto).

Every TwiML answer goes through ``twiml_of``: it parses, every ``<Dial>`` has a masked
``callerId``, and the other party's real number is nowhere in it.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest

from masking.core.call_records import CallRecord, CallSession
from masking.core.ports import CallStore
from masking.core.settings import SettingsError, VoiceSettings, clear_settings_cache, get_voice_settings
from masking.voice.recording_link import link_is_valid, recording_link, signature
from masking.voice.voicemail import NO_MESSAGE
from masking.voice.whisper import RECORDING_NOTICE
from tests.support import AUTH_TOKEN, BASE, OLIVIA, POOL, PROVIDER, STAGE
from tests.voice_support import VoiceWorld, dialed, make_voice_world, said, twiml_of, verbs

RESERVED = PROVIDER.reserved_number
assert RESERVED
LINK = re.compile(r"https://\S+/voicemail/CA[0-9a-f]{32}\?expires=\d+&sig=[0-9a-f]{64}")


def client_calls(world: VoiceWorld) -> tuple[str, ET.Element]:
    sid = world.next_sid()
    root = twiml_of(world.call(OLIVIA.phone, RESERVED, sid=sid), hidden=(OLIVIA.phone,))
    return sid, root


# ---------------------------------------------------------------- the bridging <Dial>


def test_the_dial_to_the_provider_rings_20_seconds_answers_on_bridge_and_whispers(voice: VoiceWorld) -> None:
    sid, root = client_calls(voice)

    [dial] = root.iter("Dial")
    [number] = dial.iter("Number")
    assert (dial.get("timeout"), dial.get("answerOnBridge")) == ("20", "true")
    assert dialed(root) == (POOL[0], PROVIDER.phone)
    assert number.get("url") == f"{BASE}/twilio/voice/whisper/{sid}" and number.get("method") == "POST"
    assert verbs(root) == ["Dial"]  # <Dial> first: the client hears ringing until the bridge


def test_the_whisper_names_the_client_and_asks_for_a_key(voice: VoiceWorld) -> None:
    _, root = client_calls(voice)

    whisper = voice.whisper(root)

    assert verbs(whisper) == ["Gather", "Hangup"]  # no key (a carrier voicemail): never bridged
    [gather] = whisper.iter("Gather")
    assert (gather.get("numDigits"), gather.get("method")) == ("1", "POST")
    assert said(whisper).startswith("Call from Olivia Owner. Press 1 to take the call")
    assert RECORDING_NOTICE not in said(whisper)


def test_whisper_accept_bridges_and_the_call_ends_connected(voice: VoiceWorld) -> None:
    sid, root = client_calls(voice)

    answer = voice.press(voice.whisper(root), "1")
    end = twiml_of(voice.dial_action(root, "completed", duration=31, call_sid=sid))

    assert verbs(answer) == []  # an empty answer bridges
    assert verbs(end) == ["Hangup"]
    stored = voice.store.get_call(sid)
    assert stored is not None and (stored.whisper, stored.dial_status, stored.voicemail_sid) == ("accepted", "completed", None)
    assert {"Call SID": sid, "Whisper": "accepted"} in [r.fields for r in voice.calls_mirrored()]
    assert voice.sandbox.sent == []


def test_whisper_decline_hangs_up_the_provider_and_sends_the_client_to_voicemail(voice: VoiceWorld) -> None:
    sid, root = client_calls(voice)

    answer = voice.press(voice.whisper(root), "2")
    # Twilio's DialCallStatus after a whisper <Hangup/> is not documented: completed or not, it is voicemail.
    end = twiml_of(voice.dial_action(root, "completed", duration=4, call_sid=sid), hidden=(PROVIDER.phone,))

    assert verbs(answer) == ["Hangup"]
    assert verbs(end) == ["Say", "Record", "Say", "Hangup"]
    stored = voice.store.get_call(sid)
    assert stored is not None and stored.whisper == "declined"


def test_a_repeated_whisper_answer_keeps_the_first(voice: VoiceWorld) -> None:
    sid, root = client_calls(voice)
    whisper = voice.whisper(root)

    voice.press(whisper, "2")
    again = voice.press(whisper, "1")

    assert verbs(again) == ["Hangup"]
    stored = voice.store.get_call(sid)
    assert stored is not None and stored.whisper == "declined"


def test_a_carrier_voicemail_that_answers_is_screened_out(voice: VoiceWorld) -> None:
    """The provider's voicemail picks up: nobody presses a key, the whisper hangs up, the
    <Dial> reports completed with DialBridged=false, and the client gets our voicemail."""
    sid, root = client_calls(voice)
    assert verbs(voice.whisper(root)) == ["Gather", "Hangup"]
    [dial] = root.iter("Dial")
    params = {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "3", "DialBridged": "false"}

    end = twiml_of(voice.post(str(dial.get("action")), params))

    assert "Record" in verbs(end)


def test_whisper_off_keeps_the_plain_bridge(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(whisper=False))
    sid = world.next_sid()
    root = twiml_of(world.call(OLIVIA.phone, RESERVED, sid=sid))

    [number] = root.iter("Number")
    assert number.get("url") is None
    assert verbs(twiml_of(world.dial_action(root, "completed", duration=9, call_sid=sid))) == ["Hangup"]


def test_a_forged_whisper_or_voicemail_request_is_refused(voice: VoiceWorld) -> None:
    sid, root = client_calls(voice)
    [number] = root.iter("Number")

    forged = voice.post(str(number.get("url")), {"CallSid": voice.next_sid()}, signature="bm90IGEgc2lnbmF0dXJl")
    voicemail = voice.post(f"{BASE}/twilio/voice/voicemail/{sid}", {"RecordingSid": "RE" + "2" * 32}, signature="Zm9yZ2Vk")

    assert forged["statusCode"] == 403 and voicemail["statusCode"] == 403
    assert voice.sandbox.sent == []


# ---------------------------------------------------------------- voicemail


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_no_answer_goes_to_voicemail_and_the_provider_gets_an_sms_from_the_clients_pool_number(voice: VoiceWorld, status: str) -> None:
    sid, root = client_calls(voice)

    greeting = twiml_of(voice.dial_action(root, status, call_sid=sid), hidden=(PROVIDER.phone, OLIVIA.phone))
    [record] = greeting.iter("Record")
    thanks = voice.leave_voicemail(greeting, 42, sid)

    assert verbs(greeting) == ["Say", "Record", "Say", "Hangup"]
    assert said(greeting).startswith("Sam is not available. Please leave a message after the tone.")
    assert "Sitter" not in said(greeting)  # the first name only
    assert said(greeting).endswith(NO_MESSAGE)  # Twilio skips the action of an empty recording
    assert (record.get("maxLength"), record.get("transcribe")) == ("120", None)
    assert record.get("action") == f"{BASE}/twilio/voice/voicemail/{sid}"
    assert verbs(thanks) == ["Say", "Hangup"]
    [sms] = voice.sandbox.sent
    assert (sms.from_number, sms.to_phone) == (POOL[0], PROVIDER.phone)  # the client's thread on the provider's phone
    assert sms.body.startswith("Voicemail from Olivia Owner, 0:42: ")
    assert LINK.fullmatch(sms.body.split(": ", 1)[1])
    assert OLIVIA.phone not in sms.body and "api.twilio.com" not in sms.body
    stored = voice.store.get_call(sid)
    assert stored is not None and (stored.voicemail_sid, stored.voicemail_duration) == ("RE" + "1" * 32, 42)
    [row] = [r.fields for r in voice.calls_mirrored() if "Voicemail Duration" in r.fields]
    assert row["Voicemail Duration"] == 42 and row["Voicemail Link"] == sms.body.split(": ", 1)[1]
    assert "Voicemail left" in voice.events()


def test_a_repeated_voicemail_action_texts_once(voice: VoiceWorld) -> None:
    sid, root = client_calls(voice)
    greeting = twiml_of(voice.dial_action(root, "no-answer", call_sid=sid))

    voice.leave_voicemail(greeting, 10, sid)
    voice.leave_voicemail(greeting, 10, sid)

    assert len(voice.sandbox.sent) == 1


def test_voicemail_settings_shape_the_record(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(dial_timeout=12, voicemail_max_seconds=60, voicemail_transcribe=True))
    sid = world.next_sid()
    root = twiml_of(world.call(OLIVIA.phone, RESERVED, sid=sid))
    [dial] = root.iter("Dial")

    greeting = twiml_of(world.dial_action(root, "no-answer", call_sid=sid))

    [record] = greeting.iter("Record")
    assert dial.get("timeout") == "12"
    assert (record.get("maxLength"), record.get("transcribe")) == ("60", "true")


def test_voicemail_off_tells_the_caller_and_hangs_up(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(voicemail=False))
    sid = world.next_sid()
    root = twiml_of(world.call(OLIVIA.phone, RESERVED, sid=sid))

    assert verbs(twiml_of(world.dial_action(root, "no-answer", call_sid=sid))) == ["Say", "Hangup"]


def test_a_provider_calling_a_client_who_does_not_answer_gets_no_voicemail(voice: VoiceWorld) -> None:
    client_calls(voice)  # opens the lease
    sid = voice.next_sid()
    root = twiml_of(voice.call(PROVIDER.phone, POOL[0], sid=sid), hidden=(PROVIDER.phone,))

    [dial] = root.iter("Dial")
    [number] = dial.iter("Number")
    assert (dial.get("timeout"), number.get("url")) == (None, None)  # the client's own phone rings as before
    assert verbs(twiml_of(voice.dial_action(root, "no-answer", call_sid=sid))) == ["Say", "Hangup"]


# ---------------------------------------------------------------- the voicemail link


def voicemail_link(world: VoiceWorld) -> tuple[str, str]:
    sid, root = client_calls(world)
    greeting = twiml_of(world.dial_action(root, "no-answer", call_sid=sid))
    world.leave_voicemail(greeting, 42, sid)
    return sid, world.sandbox.sent[-1].body.split(": ", 1)[1]


def test_the_signed_link_shows_the_recording_fetched_with_the_account_credentials(voice: VoiceWorld) -> None:
    _, link = voicemail_link(voice)
    voice.recordings.add("RE" + "1" * 32, b"ID3 the voicemail")

    page = voice.open_link(link)

    assert page["statusCode"] == 200 and page["headers"]["Content-Type"].startswith("text/html")
    assert page["headers"]["Cache-Control"] == "no-store"
    assert "data:audio/mpeg;base64," + base64.b64encode(b"ID3 the voicemail").decode() in page["body"]
    assert "Voicemail, 0:42" in page["body"]
    [(url, authenticated)] = voice.recordings.fetches
    assert url.endswith(f"/Recordings/{'RE' + '1' * 32}.mp3") and authenticated


def test_the_link_without_a_valid_signature_is_refused(voice: VoiceWorld) -> None:
    sid, link = voicemail_link(voice)
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    expires, sig = query["expires"][0], query["sig"][0]
    other = "CA" + "f" * 32

    refused = [
        voice.open_link(base),  # no signature
        voice.open_link(f"{base}?expires={expires}"),
        voice.open_link(f"{base}?expires={expires}&sig={'0' * 64}"),  # forged
        voice.open_link(f"{base}?expires={int(expires) + 3600}&sig={sig}"),  # extended by hand
        voice.open_link(f"{base.replace(sid, other)}?expires={expires}&sig={sig}"),  # another call's
        voice.open_link(f"{base}?expires={expires}&sig={signature('another-token', sid, int(expires))}"),  # another key
    ]

    assert [r["statusCode"] for r in refused] == [403] * 6
    assert voice.recordings.fetches == []


def test_the_link_expires(voice: VoiceWorld) -> None:
    _, link = voicemail_link(voice)

    voice.clock.advance(hours=71)
    assert voice.open_link(link)["statusCode"] == 200
    voice.clock.advance(hours=1, seconds=1)
    assert voice.open_link(link)["statusCode"] == 403


def test_a_valid_link_to_a_call_without_voicemail_is_404_and_a_twilio_error_502(voice: VoiceWorld) -> None:
    sid, _ = client_calls(voice)
    now = voice.clock()
    assert voice.open_link(recording_link(BASE, AUTH_TOKEN, sid, now, 1))["statusCode"] == 404

    _, link = voicemail_link(voice)
    voice.recordings.credentials = lambda: type(voice.services.credentials())("AC" + "9" * 32, "rotated")  # Twilio says 401
    assert voice.open_link(link)["statusCode"] == 502


def test_link_signatures() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 1, tzinfo=UTC)
    link = recording_link("https://x.example/dev", "token", "CA" + "a" * 32, now, 2)
    query = parse_qs(urlsplit(link).query)

    assert link.startswith(f"https://x.example/dev/voicemail/CA{'a' * 32}?expires=")
    assert link_is_valid("token", "CA" + "a" * 32, query["expires"][0], query["sig"][0], now)
    assert not link_is_valid("token", "CA" + "a" * 32, query["expires"][0], query["sig"][0].upper()[:-1], now)
    assert not link_is_valid("", "CA" + "a" * 32, query["expires"][0], query["sig"][0], now)
    assert STAGE in link


# ---------------------------------------------------------------- recording notice


def test_no_recording_notice_when_not_recording(voice: VoiceWorld) -> None:
    _, root = client_calls(voice)
    session = voice.start()
    bridged = voice.bridge(session)

    assert RECORDING_NOTICE not in said(root) + said(voice.whisper(root)) + said(bridged)
    [number] = bridged.iter("Number")
    assert number.get("url") is None


def test_both_parties_hear_the_recording_notice_when_recording(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(record_calls=True))
    sid = world.next_sid()
    root = twiml_of(world.call(OLIVIA.phone, RESERVED, sid=sid))

    assert verbs(root) == ["Say", "Dial"] and said(root) == RECORDING_NOTICE  # the client, before the dial
    assert RECORDING_NOTICE in said(world.whisper(root))  # the provider, in the whisper


def test_recording_notice_in_the_other_directions(voice_store: CallStore) -> None:
    world = make_voice_world(voice_store, VoiceSettings(record_calls=True))
    twiml_of(world.call(OLIVIA.phone, RESERVED))
    provider_call = twiml_of(world.call(PROVIDER.phone, POOL[0]), hidden=(PROVIDER.phone,))
    session = world.start()
    bridged = world.bridge(session)

    for root in (provider_call, bridged):
        assert RECORDING_NOTICE in said(root)  # the provider, before the dial
        client_hears = world.whisper(root)
        assert verbs(client_hears) == ["Say"] and said(client_hears) == RECORDING_NOTICE  # the client, then bridged


# ---------------------------------------------------------------- click-to-call


def test_click_to_call_whispers_the_clients_name_to_the_provider(voice: VoiceWorld) -> None:
    session = voice.start()

    bridged = voice.bridge(session)

    assert verbs(bridged) == ["Say", "Dial"] and said(bridged) == "Calling Olivia Owner."
    assert dialed(bridged) == (RESERVED, OLIVIA.phone)


# ---------------------------------------------------------------- call history


def test_the_call_history_lists_inbound_calls_and_sessions_newest_first(voice: VoiceWorld) -> None:
    first, root = client_calls(voice)
    twiml_of(voice.dial_action(root, "no-answer", call_sid=first))
    voice.clock.advance(minutes=5)
    session = voice.start()
    voice.clock.advance(minutes=5)
    twiml_of(voice.call("+13035550999", "+17205550999"))  # an unknown number: nobody's history

    history = voice.store.list_calls(PROVIDER.provider_id)
    olivia_only = voice.store.list_calls(PROVIDER.provider_id, OLIVIA.client_id, limit=1)

    assert [type(c) for c in history] == [CallSession, CallRecord]
    assert isinstance(history[0], CallSession) and history[0].call_id == session.call_id
    assert isinstance(history[1], CallRecord) and (history[1].call_sid, history[1].dial_status) == (first, "no-answer")
    assert len(olivia_only) == 1 and olivia_only[0] == history[0]
    assert voice.store.list_calls(PROVIDER.provider_id, "cl-nobody") == []


# ---------------------------------------------------------------- settings


def test_call_experience_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings_cache()
    env = {"WHISPER": "false", "DIAL_TIMEOUT_SECONDS": "15", "VOICEMAIL_MAX_SECONDS": "90", "RECORDING_LINK_HOURS": "24"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = get_voice_settings()
    assert (settings.whisper, settings.dial_timeout, settings.voicemail, settings.voicemail_max_seconds) == (False, 15, True, 90)
    assert settings.recording_link_hours == 24
    clear_settings_cache()
    for bad in ({"dial_timeout": 4}, {"voicemail_max_seconds": 301}, {"whisper": "maybe"}, {"recording_link_hours": 0}):
        with pytest.raises(SettingsError):
            VoiceSettings(**bad)
