"""The SMS webhook from request to answer: signature, parsing, routing, outbox.

``handle_sms_webhook`` is what ``functions/intercept/app.py`` calls; it only turns an
API Gateway event into an ``InboundSms`` and a result into TwiML. Routing is in
``masking.sms``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from masking.models import InboundSms, iso, utcnow
from masking.observability import count, logger
from masking.outbox import audit_record, publish_records
from masking.phones import is_e164
from masking.webhooks import (
    BadRequest,
    FormParams,
    forbidden,
    form_params,
    is_signed_by_twilio,
    json_response,
    public_base,
    public_url,
    twiml_response,
)

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


def handle_sms_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    url = public_url(event, services.twilio.public_base_url)
    try:
        params = form_params(event)
    except BadRequest as exc:  # Twilio never sends this: answer like any bad request
        logger.warning("unreadable webhook body", extra={"reason": str(exc)})
        return json_response(400, {"success": False, "error": "unreadable form body", "details": str(exc)})
    if not is_signed_by_twilio(event, params, services.credentials().auth_token, url):
        count("InvalidSignatures")
        logger.warning("rejected webhook: invalid or missing X-Twilio-Signature")
        return forbidden()
    try:
        sms = parse_inbound_sms(params)
    except BadRequest as exc:
        count("MalformedWebhooks")
        logger.warning("malformed SMS webhook, nothing forwarded", extra={"reason": str(exc)})
        publish_records(
            services.outbox,
            [
                audit_record(
                    "Malformed webhook",
                    f"Signed SMS webhook not routable: {exc}",
                    category="Error",
                    severity="Warning",
                    at=iso(utcnow()),
                    key=f"malformed:{params.first('MessageSid') or 'unknown'}",
                )
            ],
        )
        return twiml_response()
    logger.set_correlation_id(sms.message_sid)
    callback = f"{public_base(url, SMS_PATH)}{services.twilio.status_callback_path}?ref={sms.message_sid}"
    result = services.router.route(sms, status_callback=callback)
    publish_records(services.outbox, result.records)
    return twiml_response()
