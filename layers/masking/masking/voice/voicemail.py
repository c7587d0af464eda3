"""Masked voicemail: a client whose call the provider does not take leaves a message with
us, never on the provider's own voicemail (whose greeting may say their name or number).

1. The bridging ``<Dial>`` rings for ``DIAL_TIMEOUT_SECONDS`` (default 20, shorter than a
   typical carrier voicemail pickup; Twilio adds ~5 s and allows 5 to 600:
   https://www.twilio.com/docs/voice/twiml/dial) with ``answerOnBridge``, and the whisper
   (``masking.voice.whisper``) screens out a carrier voicemail that answers anyway.
2. The ``<Dial>`` action (``after_inbound_dial``): connected only when the dialed leg was
   bridged (``DialBridged``, ``DialCallStatus`` completed) and, with the whisper on, the
   provider pressed 1. Otherwise (no-answer, busy, failed, declined, a voicemail that
   answered) the client hears "<first name> is not available..." and ``<Record>``
   (``maxLength`` = ``VOICEMAIL_MAX_SECONDS``, ``transcribe`` optional). A ``<Say>`` +
   ``<Hangup/>`` follow it: Twilio skips the action for an empty recording and runs the
   next verb instead (https://www.twilio.com/docs/voice/twiml/record).
3. The ``<Record>`` action (``record_voicemail``): the recording is stored once on the
   call, and the provider gets an SMS from the client's pool number (the thread of that
   client on their phone): "Voicemail from Olivia Owner, 0:42: <signed link>"
   (``masking.voice.recording_link``). The Calls row gets the duration and the link.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from twilio.twiml.voice_response import VoiceResponse

from masking.core.call_records import DialOutcome
from masking.core.models import OutboundSms, iso
from masking.core.observability import count, logger
from masking.core.ports import CallStore, SendError, SmsGateway
from masking.core.settings import VoiceSettings
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from masking.mirror.rows import audit_record
from masking.voice.routing import record_inbound_dial
from masking.voice.twiml import NOT_AVAILABLE, VOICEMAIL_PATH, hang_up, say_and_hang_up

CONNECTED = frozenset({"completed", "answered"})
NO_MESSAGE = "No message was recorded. Goodbye."
MESSAGE_SENT = "Thank you, your message was sent. Goodbye."


def voicemail_action_url(base: str, call_sid: str) -> str:
    return f"{base.rstrip('/')}{VOICEMAIL_PATH}/{call_sid}"


def first_name(name: str | None) -> str:
    words = (name or "").split()
    return words[0] if words else "The person you called"


def voicemail_twiml(provider_name: str | None, action: str, settings: VoiceSettings) -> str:
    response = VoiceResponse()
    response.say(f"{first_name(provider_name)} is not available. Please leave a message after the tone.")
    options: dict[str, object] = {"action": action, "method": "POST", "max_length": settings.voicemail_max_seconds, "timeout": 5}
    if settings.voicemail_transcribe:
        options["transcribe"] = True
    response.record(play_beep=True, **options)
    response.say(NO_MESSAGE)
    response.hangup()
    return str(response)


def after_inbound_dial(
    store: CallStore, settings: VoiceSettings, call_sid: str, outcome: DialOutcome, bridged: str, base: str
) -> tuple[str, list[MirrorRecord]]:
    """The answer to the ``<Dial>`` action of an inbound call, and its mirror records."""
    records = record_inbound_dial(store, call_sid, outcome)
    call = store.get_call(call_sid)
    connected = outcome.status in CONNECTED and bridged.lower() != "false"
    screened = call is not None and call.direction == "client_to_provider" and settings.whisper
    if screened and call is not None and call.whisper != "accepted":
        connected = False
    if connected:
        return hang_up(), records
    if call is None or call.direction != "client_to_provider" or not settings.voicemail or not call.provider_id:
        return say_and_hang_up(NOT_AVAILABLE), records
    provider = store.get_provider(call.provider_id)
    count("VoicemailOffered")
    return voicemail_twiml(provider.name if provider else None, voicemail_action_url(base, call_sid), settings), records


def duration_words(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def record_voicemail(
    store: CallStore,
    sms: Callable[[], SmsGateway],
    call_sid: str,
    recording_sid: str,
    duration: int,
    link: Callable[[str], str],
    now: datetime,
) -> tuple[str, list[MirrorRecord]]:
    """The ``<Record>`` action: store the voicemail once, text the provider the link."""
    stamp = iso(now)
    values: dict[str, object] = {"voicemail_sid": recording_sid, "voicemail_duration": duration, "voicemail_at": stamp}
    call = store.update_call_once(call_sid, values, "voicemail_sid")
    if call is None:
        logger.info("voicemail action changed nothing (repeated, or an unknown call)")
        return say_and_hang_up(MESSAGE_SENT), []
    url = link(call_sid)
    records = [rows.voicemail_row(call_sid, duration, url, stamp)]
    provider = store.get_provider(call.provider_id) if call.provider_id else None
    client = store.get_client(call.client_id) if call.client_id else None
    if provider is None or not call.caller_id:
        records.append(_audit(call_sid, "Voicemail not delivered", "No provider or pool number for the call", stamp, call.provider_id))
        return say_and_hang_up(MESSAGE_SENT), records
    name = client.name if client else "a caller"
    body = f"Voicemail from {name}, {duration_words(duration)}: {url}"
    try:
        sms().send_sms(OutboundSms(from_number=call.caller_id, to_phone=provider.phone, body=body))
    except SendError as error:
        count("VoicemailSmsFailed")
        records.append(_audit(call_sid, "Voicemail not delivered", f"Twilio refused the SMS: {error}", stamp, call.provider_id))
        return say_and_hang_up(MESSAGE_SENT), records
    count("VoicemailsLeft")
    records.append(
        audit_record(
            "Voicemail left",
            f"A {duration_words(duration)} voicemail; the provider was texted the link from the client's pool number",
            category="Messaging",
            severity="Info",
            at=stamp,
            key=f"{call_sid}:voicemail",
            provider_id=call.provider_id,
            client_id=call.client_id,
        )
    )
    return say_and_hang_up(MESSAGE_SENT), records


def _audit(call_sid: str, event: str, description: str, stamp: str, provider_id: str | None) -> MirrorRecord:
    return audit_record(
        event, description, category="Error", severity="Error", at=stamp, key=f"{call_sid}:voicemail:error", provider_id=provider_id
    )
