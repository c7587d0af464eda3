"""TwiML the voice routes answer, built with the twilio library's ``VoiceResponse``, and the
URLs Twilio comes back to during a call."""

from __future__ import annotations

from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from masking.core.phones import is_e164

VOICE_PATH = "/twilio/voice"
BRIDGE_PATH = "/twilio/voice/bridge"
STATUS_PATH = "/twilio/voice/status"
WHISPER_PATH = "/twilio/voice/whisper"  # /{call}: the provider answered; /{call}/answer: the key pressed
VOICEMAIL_PATH = "/twilio/voice/voicemail"  # /{call}: the <Record> action
RECORDING_LINK_PATH = "/voicemail"  # GET /{call}?expires=&sig=: the signed voicemail link (not a Twilio route)


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


def dial_twiml(
    to_phone: str,
    caller_id: str | None,
    action: str,
    record: str | None = None,
    *,
    timeout: int | None = None,
    whisper_url: str | None = None,
    before: tuple[str, ...] = (),
) -> str:
    """``[<Say>before</Say>]<Dial callerId action method=POST [record] [timeout answerOnBridge]>
    <Number [url]>to</Number></Dial>``.

    Refuses to build a ``<Dial>`` without a masked ``callerId``: Twilio would show the
    caller's real number. ``whisper_url`` is the ``<Number url>`` run on the dialed party's
    phone after they answer and before the bridge; with ``answerOnBridge`` the caller keeps
    hearing ringing meanwhile (https://www.twilio.com/docs/voice/twiml/number).
    """
    if not caller_id or not is_e164(caller_id):
        raise ValueError("a <Dial> needs a masked callerId (E.164), or it shows the caller's real number")
    response = VoiceResponse()
    for text in before:
        response.say(text)
    options: dict[str, Any] = {"caller_id": caller_id, "action": action, "method": "POST"}
    if record:
        options["record"] = record
    if timeout is not None:  # https://www.twilio.com/docs/voice/twiml/dial: default 30, min 5, max 600
        options["timeout"] = timeout
        options["answer_on_bridge"] = True
    dial = response.dial(**options)
    if whisper_url:
        dial.number(to_phone, url=whisper_url, method="POST")
    else:
        dial.number(to_phone)
    return str(response)


def dial_action_url(webhook_base: str, call_id: str) -> str:
    """Where Twilio posts the outcome of a bridging ``<Dial>`` (``call_id``: the inbound
    CallSid, or a click-to-call session id). State in the path, not a query API Gateway
    would hand over decoded and reordered."""
    return f"{webhook_base}{STATUS_PATH}/{call_id}/dial"


def call_status_url(webhook_base: str, call_id: str) -> str:
    """The status callback of a click-to-call's provider leg."""
    return f"{webhook_base}{STATUS_PATH}/{call_id}"


def bridge_url(webhook_base: str, call_id: str) -> str:
    """Where Twilio asks what to do when the provider answers a click-to-call."""
    return f"{webhook_base}{BRIDGE_PATH}/{call_id}"
