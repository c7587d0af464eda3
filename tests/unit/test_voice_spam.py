"""Voice spam: StirVerstat on calls to a reserved number, allow / announce / reject (issue 16).

tests/integration/test_voice_spam_dynamo.py runs the same tests on DynamoDB (moto)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from masking.handlers.voice import handle_voice_webhook
from masking.handlers.voicemail import handle_whisper_webhook
from masking.voice.caller_trust import WARNING_TO_PROVIDER, caller_treatment, verification_failed
from tests.support import ACCOUNT_SID, OLIVIA, POOL, PROVIDER, signed_event
from tests.voice_support import VOICE_URL, VoiceWorld, dialed, said, twiml_of, verbs

RESERVED = PROVIDER.reserved_number
assert RESERVED

PASSED = [
    "TN-Validation-Passed-A",
    "TN-Validation-Passed-B",
    "TN-Validation-Passed-C",
    "TN-Validation-Passed-A-Diverted",
    "TN-Validation-Passed-B-Passthrough",
]
FAILED = [
    "TN-Validation-Failed-A",
    "TN-Validation-Failed-B",
    "TN-Validation-Failed-C",
    "TN-Validation-Failed",
    "TN-Validation-Failed-A-Diverted",
    "TN-Validation-Failed-C-Passthrough",
    "No-TN-Validation",
]
UNKNOWN = ["", "NULL", None]


def call(voice: VoiceWorld, verstat: str, from_phone: str = OLIVIA.phone, url: str = VOICE_URL) -> dict[str, Any]:
    params = {"CallSid": voice.next_sid(), "AccountSid": ACCOUNT_SID, "From": from_phone, "To": RESERVED, "CallStatus": "ringing"}
    if verstat:
        params["StirVerstat"] = verstat
    return handle_voice_webhook(signed_event(url, params), voice.services)


@pytest.mark.parametrize("value", FAILED)
def test_failed_verstat_values(value: str) -> None:
    assert verification_failed(value)
    assert [caller_treatment(setting, value) for setting in ("allow", "announce", "reject")] == ["allow", "announce", "reject"]


@pytest.mark.parametrize("value", [*PASSED, *UNKNOWN])
def test_passed_or_missing_verstat_is_always_allowed(value: str | None) -> None:
    assert not verification_failed(value)
    assert caller_treatment("reject", value) == "allow"


@pytest.mark.parametrize("value", FAILED)
def test_allow_is_the_default_and_bridges_an_unverified_caller(voice: VoiceWorld, value: str) -> None:
    root = twiml_of(call(voice, value))
    assert dialed(root) == (POOL[0], PROVIDER.phone)
    [number] = root.iter("Number")
    assert "announce" not in str(number.get("url") or "")  # the whisper only (issue 17), no warning


@pytest.mark.parametrize("value", FAILED)
def test_reject_hangs_up_on_an_unverified_caller_and_audits(voice: VoiceWorld, value: str) -> None:
    voice.services.router.unverified_caller = "reject"
    root = twiml_of(call(voice, value))
    assert verbs(root) == ["Say", "Hangup"]
    assert "Unverified caller rejected" in voice.events()
    assert voice.store.get_provider_and_pair(PROVIDER.provider_id, OLIVIA.client_id)[1] is None


@pytest.mark.parametrize("value", [*PASSED, "", "NULL"])
def test_reject_still_bridges_verified_and_unsigned_callers(voice: VoiceWorld, value: str) -> None:
    voice.services.router.unverified_caller = "reject"
    assert dialed(twiml_of(call(voice, value))) == (POOL[0], PROVIDER.phone)


def test_announce_makes_the_provider_hear_a_warning_before_the_bridge(voice: VoiceWorld) -> None:
    """With the whisper off, the warning is the <Number url> itself."""
    voice.services.router.unverified_caller = "announce"
    voice.services.router.voice = replace(voice.services.router.voice, whisper=False)
    root = twiml_of(call(voice, "TN-Validation-Failed-B"))

    assert dialed(root) == (POOL[0], PROVIDER.phone)
    [number] = root.iter("Number")
    url = str(number.get("url"))
    assert url.endswith("/twilio/voice?announce=unverified") and number.get("method") == "POST"
    # Twilio fetches it on the provider's leg once they answer (signed like any webhook)
    warning = twiml_of(call(voice, "", from_phone=PROVIDER.phone, url=url.replace("/dev/", "/", 1)))
    assert verbs(warning) == ["Say"] and said(warning) == WARNING_TO_PROVIDER


def test_announce_with_the_whisper_says_the_warning_before_the_whisper(voice: VoiceWorld) -> None:
    voice.services.router.unverified_caller = "announce"
    root = twiml_of(call(voice, "TN-Validation-Failed-B"))

    [number] = root.iter("Number")
    url = str(number.get("url"))
    assert "/twilio/voice/whisper/" in url and url.endswith("?announce=unverified")
    leg = {"CallSid": "CA" + "f" * 32, "AccountSid": ACCOUNT_SID, "CallStatus": "in-progress"}
    whisper = twiml_of(handle_whisper_webhook(signed_event(url.replace("/dev/", "/", 1), leg), voice.services))
    assert said(whisper).startswith(WARNING_TO_PROVIDER) and "Press 1" in said(whisper)


def test_announce_leaves_verified_callers_alone(voice: VoiceWorld) -> None:
    voice.services.router.unverified_caller = "announce"
    [number] = twiml_of(call(voice, "TN-Validation-Passed-A")).iter("Number")
    assert "announce" not in str(number.get("url") or "")
