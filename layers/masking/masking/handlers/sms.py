"""The SMS webhooks of ``intercept``, from request to answer.

- ``handle_sms_webhook`` (POST /twilio/sms): signature, parsing into an ``InboundSms``,
  routing (``masking.messaging.routing``), the mirror records on the outbox, empty TwiML.
- ``handle_status_webhook`` (POST /twilio/sms/status): a delivery status callback, stored
  and acted on by ``masking.messaging.delivery``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from masking.core.models import DeliveryUpdate, InboundSms, iso, utcnow
from masking.core.observability import count, logger
from masking.core.phones import is_e164
from masking.handlers.twilio_request import BadRequest, FormParams, TwilioRequest, public_base, twiml_response, verify_twilio_request
from masking.messaging.delivery import SMS_STATUS_RANK, record_status
from masking.mirror.outbox import publish_records
from masking.mirror.rows import audit_record

if TYPE_CHECKING:
    from masking.wiring import SmsServices

SMS_PATH = "/twilio/sms"
MAX_MEDIA = 10


def parse_inbound_sms(params: FormParams) -> InboundSms:
    sid = params.first("MessageSid") or params.first("SmsSid")
    if not sid or not sid.startswith(("SM", "MM")) or len(sid) > 64:
        raise BadRequest("MessageSid is missing or not a Twilio message SID")
    from_phone, to_number = params.first("From"), params.first("To")
    if not is_e164(from_phone):
        raise BadRequest("From is not an E.164 phone number")
    if not is_e164(to_number):
        raise BadRequest("To is not an E.164 phone number")
    raw_count = params.first("NumMedia", "0") or "0"
    if not raw_count.isdigit() or int(raw_count) > MAX_MEDIA:
        raise BadRequest("NumMedia is not a number from 0 to 10")
    media_urls = []
    for index in range(int(raw_count)):
        url = params.first(f"MediaUrl{index}")
        if not url.startswith("https://"):
            raise BadRequest(f"MediaUrl{index} is missing or not an https URL")
        media_urls.append(url)
    return InboundSms(message_sid=sid, from_phone=from_phone, to_number=to_number, body=params.first("Body"), media_urls=media_urls)


def _verified(event: dict[str, Any], services: SmsServices, what: str) -> TwilioRequest | dict[str, Any]:
    return verify_twilio_request(event, services.twilio.public_base_url, lambda: services.credentials().auth_token, what)


def handle_sms_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    request = _verified(event, services, "webhook")
    if not isinstance(request, TwilioRequest):
        return request
    try:
        sms = parse_inbound_sms(request.params)
    except BadRequest as exc:
        count("MalformedWebhooks")
        logger.warning("malformed SMS webhook, nothing forwarded", extra={"reason": str(exc)})
        audit = audit_record(
            "Malformed webhook",
            f"Signed SMS webhook not routable: {exc}",
            category="Error",
            severity="Warning",
            at=iso(utcnow()),
            key=f"malformed:{request.params.first('MessageSid') or 'unknown'}",
        )
        publish_records(services.outbox, [audit])
        return twiml_response()
    logger.set_correlation_id(sms.message_sid)
    callback = f"{public_base(request.url, SMS_PATH)}{services.twilio.status_callback_path}?ref={sms.message_sid}"
    result = services.router.route(sms, status_callback=callback)
    publish_records(services.outbox, result.records)
    return twiml_response()


def handle_status_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    request = _verified(event, services, "status callback")
    if not isinstance(request, TwilioRequest):
        return request
    params = request.params
    ref = request.query("ref")
    outbound_sid = params.first("MessageSid") or params.first("SmsSid")
    status = params.first("MessageStatus") or params.first("SmsStatus")
    if not ref or not outbound_sid or status not in SMS_STATUS_RANK:
        logger.warning("status callback without ref, MessageSid or a known status", extra={"status": status})
        return twiml_response()
    update = DeliveryUpdate(
        message_sid=ref,
        outbound_sid=outbound_sid,
        status=status,
        rank=SMS_STATUS_RANK[status],
        error_code=params.first("ErrorCode"),
        at=iso(utcnow()),
    )
    publish_records(services.outbox, record_status(services.store, services.failures, update, status_callback=request.url))
    return twiml_response()
