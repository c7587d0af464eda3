"""Voice spam: what to do with a call whose caller ID failed STIR/SHAKEN verification.

Twilio puts ``StirVerstat`` in the voice webhook of a call that carried a SHAKEN PASSporT
(US only; no parameter is normal for many callers):
https://www.twilio.com/docs/voice/trusted-calling-with-shakenstir

- ``TN-Validation-Passed-A|B|C`` (and ``-Diverted``, ``-Passthrough``): verified;
- ``TN-Validation-Failed-A|B|C``, ``TN-Validation-Failed`` (and the ``-Diverted`` /
  ``-Passthrough`` variants): Twilio "was unable to verify the contents of the SHAKEN
  PASSporT" (tampering, or no certificate);
- ``No-TN-Validation``: a malformed PASSporT or one that does not match the call (its
  ``orig`` is not the caller ID...);
- ``NULL`` or no parameter: nothing to verify, treated like any call.

The deployment's ``UNVERIFIED_CALLER`` treatment applies to the failed ones on calls to a
reserved number: ``allow`` (the default), ``announce`` (the provider hears a short warning
before being connected: ``<Number url>`` of the bridging ``<Dial>``, answered by
``handlers.voice``) or ``reject`` (a short ``<Say>``, then hang up; audited).
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from masking.voice.twiml import VOICE_PATH

ANNOUNCE_QUERY = "announce"
ANNOUNCE_VALUE = "unverified"
WARNING_TO_PROVIDER = "Warning: the caller ID of this call could not be verified. It may be spoofed."


def verification_failed(verstat: str | None) -> bool:
    value = (verstat or "").strip()
    return value.startswith("TN-Validation-Failed") or value == "No-TN-Validation"


def caller_treatment(setting: str, verstat: str | None) -> str:
    """``allow``, ``announce`` or ``reject`` for this call."""
    return setting if verification_failed(verstat) else "allow"


def announce_url(webhook_base: str) -> str:
    """Where Twilio fetches the warning the provider hears before the bridge."""
    return f"{webhook_base}{VOICE_PATH}?{ANNOUNCE_QUERY}={ANNOUNCE_VALUE}"


def with_announce(url: str) -> str:
    """A whisper URL that also plays the warning (the whisper is the ``<Number url>``)."""
    return f"{url}{'&' if '?' in url else '?'}{ANNOUNCE_QUERY}={ANNOUNCE_VALUE}"


def warned(twiml: str) -> str:
    """``twiml`` (a whisper) with the warning said first."""
    response = VoiceResponse()
    response.say(WARNING_TO_PROVIDER)
    say = str(response).split("<Response>", 1)[1].removesuffix("</Response>")
    return twiml.replace("<Response>", "<Response>" + say, 1)


def announce_twiml() -> str:
    """The warning; anything that does not hang up lets Twilio bridge the call."""
    response = VoiceResponse()
    response.say(WARNING_TO_PROVIDER)
    return str(response)
