"""TwiML the voice routes answer, built with the twilio library's ``VoiceResponse``, and the
URLs Twilio comes back to during a call."""

from __future__ import annotations

from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from masking.core.phones import is_e164

VOICE_PATH = "/twilio/voice"
BRIDGE_PATH = "/twilio/voice/bridge"
STATUS_PATH = "/twilio/voice/status"


UNKNOWN_NUMBER = "Sorry, this number is not in service. Goodbye."

UNKNOWN_CALLER = "Sorry, this number cannot take your call. Goodbye."

EXPIRED_CALL_TO_PROVIDER = (
    "This conversation has expired, so your call cannot be connected. It reopens when your client contacts you again."
)

POOL_EXHAUSTED = "Sorry, your call cannot be connected right now. Please send a text message to this number instead."

OWN_NUMBER = "This is your own masked number. To call a client, call the number their messages come from."

NOT_AVAILABLE = "The person you are calling is not available. Please try again later, or send a text message."

CLIENT_NOT_ANSWERED = "Your client did not answer. Goodbye."

CALL_REQUEST_EXPIRED = "This call request has expired."

CANNOT_CONNECT = "Sorry, this call cannot be connected. Goodbye."


def say_and_hang_up(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def dial_twiml(to_phone: str, caller_id: str | None, action: str, record: str | None = None, number_url: str | None = None) -> str:
    """``<Dial callerId action method=POST [record]><Number>to</Number></Dial>``.

    Refuses to build a ``<Dial>`` without a masked ``callerId``: Twilio would show the
    caller's real number.
    """
    if not caller_id or not is_e164(caller_id):
        raise ValueError("a <Dial> needs a masked callerId (E.164), or it shows the caller's real number")
    response = VoiceResponse()
    options: dict[str, Any] = {"caller_id": caller_id, "action": action, "method": "POST"}
    if record:
        options["record"] = record
    dial = response.dial(**options)
    dial.number(to_phone, **({"url": number_url, "method": "POST"} if number_url else {}))  # privacy: the announce
    return str(response)


def dial_action_url(webhook_base: str, call_id: str) -> str:
    """Where Twilio posts the outcome of a bridging ``<Dial>`` (``call_id``: the inbound
    CallSid, or a click-to-call session id)."""
    return f"{webhook_base}{STATUS_PATH}?call={call_id}&leg=dial"
