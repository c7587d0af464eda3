"""The whisper: what the provider hears after answering a bridged call, before the bridge.

The bridging ``<Dial>`` (``masking.voice.routing``) carries ``answerOnBridge`` and a
``<Number url=<base>/twilio/voice/whisper/<call>>``. Twilio runs that TwiML on the
provider's phone once they answer, while the client keeps hearing ringing; it may only use
``<Say>``, ``<Play>``, ``<Gather>`` and ``<Hangup>``; an answer that does not hang up
bridges the call (https://www.twilio.com/docs/voice/twiml/number,
https://www.twilio.com/docs/glossary/call-whisper).

- client -> provider, whisper on: "Call from Olivia Owner. Press 1 to take the call, or 2
  to send it to voicemail." in a ``<Gather numDigits=1>``, then ``<Hangup/>``. A carrier
  voicemail that picks up cannot press 1, so it is never bridged: the client gets our
  masked voicemail instead of the provider's own greeting. This keypress screen is Twilio's
  own call-screening pattern (http://www.twilio.com/docs/howto/callscreening; the Whisper
  twimlet, https://github.com/twilio-labs/function-templates/blob/main/funlet-whisper/whisper.php.md).
  Machine detection is statistical, so it is not the gate.
- The key pressed (``/answer``) is stored once on the call (``whisper``: accepted,
  declined); the ``<Dial>`` action goes to voicemail unless it says accepted, whatever
  ``DialCallStatus`` a whisper ``<Hangup/>`` gives (not documented).
- Recording on: the notice ``RECORDING_NOTICE`` is part of the whisper, and is all of it
  for the other directions (the dialed client hears it).
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

from masking.core.call_records import CallRecord, CallSession
from masking.core.models import NEW_CLIENT_NAME
from masking.core.observability import count, logger
from masking.core.ports import CallStore
from masking.core.settings import RECORDING_MODE
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from masking.voice.twiml import WHISPER_PATH, dial_twiml

RECORDING_NOTICE = "This call is recorded."
ACCEPT_KEY = "1"
WHISPER_GATHER_SECONDS = 6


def whisper_url(base: str, call_id: str) -> str:
    return f"{base.rstrip('/')}{WHISPER_PATH}/{call_id}"


def whisper_answer_url(base: str, call_id: str) -> str:
    return f"{whisper_url(base, call_id)}/answer"


def caller_words(client_name: str | None) -> str:
    if not client_name or client_name == NEW_CLIENT_NAME:
        return "a new client"
    return client_name


def whisper_twiml(client_name: str | None, record: bool, answer_url: str | None) -> str:
    """The provider's whisper (``answer_url``: gather a key), or only the recording notice."""
    response = VoiceResponse()
    notice = f" {RECORDING_NOTICE}" if record else ""
    if answer_url:
        gather = response.gather(num_digits=1, timeout=WHISPER_GATHER_SECONDS, action=answer_url, method="POST")
        gather.say(f"Call from {caller_words(client_name)}.{notice} Press 1 to take the call, or 2 to send it to voicemail.")
        response.hangup()  # no key: a voicemail answered, or nobody decided; never bridged
    elif record:
        response.say(RECORDING_NOTICE)
    return str(response)


def whisper_for(store: CallStore, call_id: str, base: str, whisper_on: bool, record: bool) -> str:
    """The TwiML for ``POST /twilio/voice/whisper/<call>``."""
    call = store.get_call(call_id) if call_id.startswith("CA") else None
    if call is not None and call.direction == "client_to_provider" and whisper_on:
        client = store.get_client(call.client_id) if call.client_id else None
        return whisper_twiml(client.name if client else None, record, whisper_answer_url(base, call_id))
    if call is None and not call_id.startswith("CS"):
        logger.warning("whisper for an unknown call: not bridged", extra={"call_id": call_id})
        response = VoiceResponse()
        response.hangup()
        return str(response)
    return whisper_twiml(None, record, None)


def answer_whisper(store: CallStore, call_id: str, digits: str, at: str) -> tuple[str, list[MirrorRecord]]:
    """The provider pressed ``digits``: 1 bridges (empty answer), anything else declines."""
    accepted = digits.strip() == ACCEPT_KEY
    choice = "accepted" if accepted else "declined"
    changed = store.update_call_once(call_id, {"whisper": choice, "updated_at": at}, "whisper")
    stored: CallRecord | None = changed or store.get_call(call_id)
    if stored is None:
        accepted = False
    elif changed is None:  # a repeated request: the first answer stands
        accepted = stored.whisper == "accepted"
    count("WhisperAccepted" if accepted else "WhisperDeclined")
    response = VoiceResponse()
    if not accepted:
        response.hangup()
    records = [rows.whisper_row(call_id, choice, at)] if changed is not None else []
    return str(response), records


def bridge_twiml(session: CallSession, action: str, base: str, whisper_on: bool) -> str:
    """Click-to-call, the provider answered: their whisper names the client (they placed the
    call, so there is nothing to decline), the recording notice if on, then the ``<Dial>`` to
    the client, who hears the notice in their own whisper."""
    before: tuple[str, ...] = (f"Calling {caller_words(session.client_name)}.",) if whisper_on else ()
    if session.record:
        before += (RECORDING_NOTICE,)
    record = RECORDING_MODE if session.record else None
    whisper = whisper_url(base, session.call_id) if session.record else None
    return dial_twiml(session.client_phone, session.reserved_number, action, record, whisper_url=whisper, before=before)
