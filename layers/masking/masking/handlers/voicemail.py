"""The call-experience routes of ``call_connect``: whisper, voicemail, the voicemail link.

- ``handle_whisper_webhook``: ``POST /twilio/voice/whisper/{call}`` (the ``<Number url>``
  Twilio runs when the provider answers) and ``POST /twilio/voice/whisper/{call}/answer``
  (the key they pressed); ``masking.voice.whisper``.
- ``handle_voicemail_webhook``: ``POST /twilio/voice/voicemail/{call}``, the ``<Record>``
  action; ``masking.voice.voicemail``.
- ``handle_recording_link``: ``GET /voicemail/{call}?expires=&sig=``, the link in the
  provider's SMS. Not a Twilio request: it is authenticated by its HMAC signature and expiry
  (``masking.voice.recording_link``); the audio is fetched from Twilio with the account
  credentials and answered as a small HTML page with the MP3 inline. A page rather than
  ``audio/mpeg``: API Gateway (REST) returns binary only when the client's first ``Accept``
  type is a configured binary media type, which a phone's browser never sends
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html),
  and ``*/*`` would base64 every Twilio webhook body too.

The Twilio routes are signature-checked like the others (``handlers.twilio_request``).
"""

from __future__ import annotations

import base64
import html
import re
from typing import TYPE_CHECKING, Any

from masking.core.models import iso
from masking.core.observability import count, logger
from masking.core.phones import ascii_digits
from masking.core.ports import SendError
from masking.handlers.twilio_request import TwilioRequest, json_response, twiml_response, verify_twilio_request
from masking.mirror.outbox import publish_records
from masking.voice.caller_trust import ANNOUNCE_QUERY, ANNOUNCE_VALUE, warned
from masking.voice.recording_link import link_is_valid, recording_link
from masking.voice.twiml import hang_up
from masking.voice.voicemail import duration_words, record_voicemail
from masking.voice.whisper import answer_whisper, whisper_for

if TYPE_CHECKING:
    from masking.voice.services import VoiceServices

CALL_ID = re.compile(r"^(CA|CS)[0-9a-fA-F]{32}$")
MAX_AUDIO_BYTES = 4_000_000  # base64 + the page stay under Lambda's 6 MB response


def _call_id(event: dict[str, Any]) -> str:
    value = str((event.get("pathParameters") or {}).get("call") or "")
    return value if CALL_ID.match(value) else ""


def _verified(event: dict[str, Any], services: VoiceServices, what: str) -> TwilioRequest | dict[str, Any]:
    return verify_twilio_request(event, services.twilio.public_base_url, lambda: services.credentials().auth_token, what)


def handle_whisper_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    request = _verified(event, services, "whisper webhook")
    if not isinstance(request, TwilioRequest):
        return request
    call_id = _call_id(event)
    if not call_id:
        logger.warning("whisper without a call id: not bridged")
        return twiml_response(hang_up())
    if request.params.first("CallSid"):
        logger.set_correlation_id(request.params.first("CallSid"))
    settings = services.router.voice
    if request.url.split("?", 1)[0].endswith("/answer"):
        twiml, records = answer_whisper(services.store, call_id, request.params.first("Digits"), _stamp(services))
        publish_records(services.outbox, records)
        return twiml_response(twiml)
    twiml = whisper_for(services.store, call_id, request.base, settings.whisper, settings.record_calls)
    if request.query(ANNOUNCE_QUERY) == ANNOUNCE_VALUE:  # privacy: an unverified caller ID, warned first
        twiml = warned(twiml)
    return twiml_response(twiml)


def handle_voicemail_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    request = _verified(event, services, "voicemail webhook")
    if not isinstance(request, TwilioRequest):
        return request
    call_id, params = _call_id(event), request.params
    recording_sid = params.first("RecordingSid")
    duration = params.first("RecordingDuration")
    if not call_id.startswith("CA") or not re.fullmatch(r"RE[0-9a-fA-F]{32}", recording_sid) or not ascii_digits(duration):
        count("MalformedWebhooks")
        logger.warning("voicemail action without a call, RecordingSid or RecordingDuration: nothing sent")
        return twiml_response(hang_up())
    logger.set_correlation_id(call_id)
    if services.sms is None:
        raise RuntimeError("VoiceServices.sms is not wired")
    base = request.base
    token = services.credentials().auth_token
    hours = services.router.voice.recording_link_hours
    now = services.now()
    twiml, records = record_voicemail(
        services.store,
        services.sms,
        call_id,
        recording_sid,
        int(duration),
        lambda sid: recording_link(base, token, sid, now, hours),
        now,
    )
    publish_records(services.outbox, records)
    return twiml_response(twiml)


def _stamp(services: VoiceServices) -> str:
    return iso(services.now())


def _refused(status: int, error: str) -> dict[str, Any]:
    response = json_response(status, {"success": False, "error": error, "details": None})
    response["headers"]["Cache-Control"] = "no-store"
    return response


def handle_recording_link(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    """GET /voicemail/{call}?expires=&sig=: the voicemail, if the link is ours and current."""
    query = event.get("queryStringParameters") or {}
    call_id = _call_id(event)
    expires, sig = str(query.get("expires") or ""), str(query.get("sig") or "")
    if not call_id or not link_is_valid(services.credentials().auth_token, call_id, expires, sig, services.now()):
        count("VoicemailLinkRefused")
        logger.warning("voicemail link refused: missing, forged or expired signature")
        return _refused(403, "invalid or expired link")
    call = services.store.get_call(call_id)
    if call is None or not call.voicemail_sid:
        return _refused(404, "no voicemail for this call")
    if services.recordings is None:
        raise RuntimeError("VoiceServices.recordings is not wired")
    try:
        audio = services.recordings().fetch(call.voicemail_sid)
    except SendError as error:
        logger.warning("voicemail fetch failed", extra={"status": error.status})
        return _refused(502, "the recording could not be fetched from Twilio")
    if audio is None:
        return _refused(404, "the recording is gone (deleted, or past its retention)")
    if len(audio) > MAX_AUDIO_BYTES:
        return _refused(502, "the recording is too large to show")
    count("VoicemailLinkOpened")
    return _audio_page(audio, call.voicemail_duration or 0)


def _audio_page(audio: bytes, duration: int) -> dict[str, Any]:
    source = "data:audio/mpeg;base64," + base64.b64encode(audio).decode("ascii")
    title = html.escape(f"Voicemail, {duration_words(duration)}")
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><h1>{title}</h1>"
        f'<audio controls preload="auto" src="{source}"></audio>'
        f'<p><a download="voicemail.mp3" href="{source}">Download</a></p></body></html>'
    )
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex",
        "Content-Security-Policy": "default-src 'none'; media-src data:; style-src 'unsafe-inline'",
    }
    return {"statusCode": 200, "headers": headers, "body": body}
