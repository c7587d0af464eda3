"""The voice webhooks of ``call_connect``: API Gateway event -> domain -> TwiML.

- ``handle_voice_webhook`` (POST /twilio/voice, *A call comes in*): routing in
  ``masking.voice.routing``;
- ``handle_bridge_webhook`` (POST /twilio/voice/bridge/{call}): the provider answered a
  click-to-call; ``masking.voice.click_to_call`` says whom to dial;
- ``handle_call_status_webhook`` (POST /twilio/voice/status/{call}[/dial]): call status
  callbacks and ``<Dial>`` actions.

The call state is in the path: API Gateway hands a query string over decoded and
regrouped, so a signed ``?call=..&leg=dial`` cannot always be rebuilt. The old query forms
(``?call=<id>``, ``&leg=dial``) are still accepted for calls in flight.

Every route is signature-checked like the SMS ones (``handlers.twilio_request``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from masking.core.call_records import DialOutcome
from masking.core.models import iso
from masking.core.observability import count, logger
from masking.core.phones import ascii_digits, is_e164
from masking.handlers.twilio_request import BadRequest, FormParams, TwilioRequest, twiml_response, verify_twilio_request
from masking.mirror.outbox import publish_records
from masking.mirror.rows import audit_record
from masking.voice.caller_trust import ANNOUNCE_QUERY, ANNOUNCE_VALUE, announce_twiml
from masking.voice.click_to_call import DIAL_STATUSES, NOT_CONNECTED, answer_bridge, record_call_status, record_dial_outcome
from masking.voice.routing import InboundCall
from masking.voice.twiml import (
    CALL_REQUEST_EXPIRED,
    CANNOT_CONNECT,
    CLIENT_NOT_ANSWERED,
    dial_action_url,
    hang_up,
    say_and_hang_up,
)
from masking.voice.voicemail import after_inbound_dial
from masking.voice.whisper import bridge_twiml

if TYPE_CHECKING:
    from masking.voice.services import VoiceServices


def parse_inbound_call(params: FormParams) -> InboundCall:
    sid = params.first("CallSid")
    if not sid or not sid.startswith("CA") or len(sid) > 64:
        raise BadRequest("CallSid is missing or not a Twilio call SID")
    to_number = params.first("To")
    if not is_e164(to_number):
        raise BadRequest("To is not an E.164 phone number")
    verstat = params.first("StirVerstat")[:64]  # privacy: voice.caller_trust
    return InboundCall(call_sid=sid, from_phone=params.first("From").strip(), to_number=to_number, stir_verstat=verstat)


def _verified(event: dict[str, Any], services: VoiceServices) -> TwilioRequest | dict[str, Any]:
    return verify_twilio_request(event, services.twilio.public_base_url, lambda: services.credentials().auth_token, "voice webhook")


def _seconds(raw: str) -> int | None:
    raw = raw.strip()
    return int(raw) if ascii_digits(raw) and len(raw) <= 9 else None


def handle_voice_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    """POST /twilio/voice: Twilio's "A call comes in"."""
    request = _verified(event, services)
    if not isinstance(request, TwilioRequest):
        return request
    if request.query(ANNOUNCE_QUERY) == ANNOUNCE_VALUE:  # privacy: the warning before an unverified caller's bridge
        return twiml_response(announce_twiml())
    params = request.params
    try:
        call = parse_inbound_call(params)
    except BadRequest as exc:
        count("MalformedWebhooks")
        logger.warning("malformed voice webhook, nothing dialed", extra={"reason": str(exc)})
        stamp = iso(services.now())
        audit = audit_record(
            "Malformed webhook",
            f"Signed voice webhook not routable: {exc}",
            category="Error",
            severity="Warning",
            at=stamp,
            key=f"malformed:{params.first('CallSid') or 'unknown'}",
        )
        publish_records(services.outbox, [audit])
        return twiml_response(say_and_hang_up(CANNOT_CONNECT))
    logger.set_correlation_id(call.call_sid)
    result = services.router.route(call, request.base)
    publish_records(services.outbox, result.records)
    return twiml_response(result.twiml)


def handle_bridge_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    """POST /twilio/voice/bridge/{call}: the provider answered a click-to-call."""
    request = _verified(event, services)
    if not isinstance(request, TwilioRequest):
        return request
    params = request.params
    call_id, call_sid = request.param("call"), params.first("CallSid")
    if call_sid:
        logger.set_correlation_id(call_sid)
    result = answer_bridge(services.store, call_id, call_sid, services.now())
    publish_records(services.outbox, result.records)
    session = result.session
    if session is None:
        logger.info("bridge refused", extra={"reason": result.reason, "call_id": call_id})
        return twiml_response(say_and_hang_up(CALL_REQUEST_EXPIRED))
    action = dial_action_url(request.base, session.call_id)
    return twiml_response(bridge_twiml(session, action, request.base, services.router.voice.whisper))


def handle_call_status_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    """POST /twilio/voice/status/{call}[/dial]: a call status callback, or a <Dial> action."""
    request = _verified(event, services)
    if not isinstance(request, TwilioRequest):
        return request
    params = request.params
    call_id = request.param("call")
    if params.first("CallSid"):
        logger.set_correlation_id(params.first("CallSid"))
    if request.param("leg") == "dial":
        return _dial_action(services, call_id, params, request.base)
    if not call_id.startswith("CS"):
        logger.warning("call status callback for no call session", extra={"call_id": call_id})
        return twiml_response()
    seconds = _seconds(params.first("CallDuration"))
    records = record_call_status(services.store, call_id, params.first("CallStatus"), params.first("CallSid"), seconds, services.now())
    publish_records(services.outbox, records)
    return twiml_response()


def _dial_action(services: VoiceServices, call_id: str, params: FormParams, base: str) -> dict[str, Any]:
    """The dialed leg ended: record it; an inbound caller nobody took gets the voicemail
    (``masking.voice.voicemail``), a click-to-call provider is told; then hang up."""
    status = params.first("DialCallStatus")
    if status not in DIAL_STATUSES or not call_id:
        logger.warning("dial action without a known DialCallStatus or call", extra={"dial_status": status})
        return twiml_response(hang_up())
    outcome = DialOutcome(
        status=status,
        at=iso(services.now()),
        duration=_seconds(params.first("DialCallDuration")),
        dial_call_sid=params.first("DialCallSid") or None,
    )
    if not call_id.startswith("CS"):
        bridged = params.first("DialBridged")
        twiml, records = after_inbound_dial(services.store, services.router.voice, call_id, outcome, bridged, base)
        publish_records(services.outbox, records)
        return twiml_response(twiml)
    _, records = record_dial_outcome(services.store, call_id, outcome)
    publish_records(services.outbox, records)
    return twiml_response(say_and_hang_up(CLIENT_NOT_ANSWERED) if status in NOT_CONNECTED else hang_up())
