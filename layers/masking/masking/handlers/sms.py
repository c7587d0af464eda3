"""The SMS webhooks of ``intercept``, from request to answer.

- ``handle_sms_webhook`` (POST /twilio/sms): signature, parsing into an ``InboundSms``,
  routing (``masking.messaging.routing``), the mirror records on the outbox, empty TwiML.
- ``handle_status_webhook`` (POST /twilio/sms/status/{ref}, or the old ?ref=): a delivery
  status callback, stored
  and acted on by ``masking.messaging.delivery``.

When the service cannot take a message (DynamoDB stayed throttled or contended, a bug),
the SMS webhook answers 500 with no detail, never a 200 that drops it: Twilio then calls the
number's SmsFallbackUrl, which stores the request for ``handlers.fallback`` to replay
(Twilio "cannot retrieve TwiML" -> fallback URL:
https://www.twilio.com/docs/usage/security/availability-reliability; a 4xx/5xx answer is
such a failure, error 11217: https://www.twilio.com/docs/api/errors/11217).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from masking.core.models import DeliveryUpdate, InboundSms, iso, utcnow
from masking.core.observability import count, logger
from masking.core.phones import ascii_digits, is_e164
from masking.handlers.twilio_request import BadRequest, FormParams, TwilioRequest, json_response, twiml_response, verify_twilio_request
from masking.messaging.delivery import SMS_STATUS_RANK, record_status
from masking.messaging.parts import parse_ref, status_callback_url
from masking.mirror.outbox import publish_records
from masking.mirror.rows import audit_record

if TYPE_CHECKING:
    from masking.wiring import SmsServices

SMS_PATH = "/twilio/sms"
SMS_FALLBACK_PATH = SMS_PATH + "/fallback"  # stored by API Gateway, replayed by handlers.fallback
MAX_MEDIA = 10
# "The text body of the message. Up to 1600 characters long." (Twilio's incoming-message
# webhook parameters, https://www.twilio.com/docs/messaging/guides/webhook-request); error
# 21617 covers messages "you tried to send or receive" over 1,600 characters
# (https://www.twilio.com/docs/api/errors/21617). A longer Body is not Twilio's.
MAX_INBOUND_BODY = 1600
# Inbound MediaUrl{N} is the Media resource on Twilio's API host:
# https://api.twilio.com/2010-04-01/Accounts/AC.../Messages/MM.../Media/ME...
# (https://www.twilio.com/docs/messaging/api/media-resource). Any other host (a private
# address, a metadata endpoint, someone's tracker) is not forwarded.
MEDIA_URL = re.compile(
    r"https://api\.twilio\.com/2010-04-01/Accounts/AC[0-9A-Za-z]{1,40}/Messages/[0-9A-Za-z]{2,40}/Media/[0-9A-Za-z]{2,40}"
)


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
    if not ascii_digits(raw_count) or int(raw_count) > MAX_MEDIA:
        raise BadRequest("NumMedia is not a number from 0 to 10")
    media_urls = []
    for index in range(int(raw_count)):
        url = params.first(f"MediaUrl{index}")
        if not MEDIA_URL.fullmatch(url):
            raise BadRequest(f"MediaUrl{index} is missing or not a Twilio media URL (https://api.twilio.com/...)")
        media_urls.append(url)
    body = params.first("Body")
    if len(body) > MAX_INBOUND_BODY:
        raise BadRequest(f"Body is longer than Twilio's {MAX_INBOUND_BODY}-character limit ({len(body)} characters)")
    return InboundSms(message_sid=sid, from_phone=from_phone, to_number=to_number, body=body, media_urls=media_urls)


def _verified(event: dict[str, Any], services: SmsServices, what: str) -> TwilioRequest | dict[str, Any]:
    return verify_twilio_request(event, services.twilio.public_base_url, lambda: services.credentials().auth_token, what)


def service_unavailable() -> dict[str, Any]:
    """The answer when the service could not take a request: 500, no detail in the body."""
    return json_response(500, {"success": False, "error": "internal error", "details": None})


def _answer_500_on_failure(
    handle: Callable[[dict[str, Any], SmsServices], dict[str, Any]], event: dict[str, Any], services: SmsServices, failed: str
) -> dict[str, Any]:
    """``handle``'s answer; on any unexpected failure: counted, logged (``failed``) and a 500."""
    try:
        return handle(event, services)
    except Exception:
        count("WebhookFailed")
        logger.exception(failed)
        return service_unavailable()


def handle_sms_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    """An inbound SMS; any unexpected failure is logged and answered 500 (see above)."""
    return _answer_500_on_failure(_sms_webhook, event, services, "SMS webhook failed; answered 500 so Twilio calls the fallback URL")


def _sms_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
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
    callback = status_callback_url(request.base, sms.message_sid)
    # Twilio adds ErrorCode and ErrorUrl to a request to the fallback URL
    # (https://www.twilio.com/docs/usage/security/availability-reliability): its replay
    # (handlers.fallback) is off the webhook's path and records the outcome after the send
    replayed = bool(request.params.first("ErrorUrl"))
    result = services.router.route(sms, status_callback=callback, settle=replayed)
    publish_records(services.outbox, result.records)
    return twiml_response()


def handle_status_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    """A delivery status callback; an unexpected failure is logged and answered 500 (Twilio
    has no fallback for status callbacks, it logs warning 15003)."""
    return _answer_500_on_failure(_status_webhook, event, services, "SMS status callback failed; answered 500")


def _status_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    request = _verified(event, services, "status callback")
    if not isinstance(request, TwilioRequest):
        return request
    params = request.params
    ref = parse_ref(request.param("ref"))
    outbound_sid = params.first("MessageSid") or params.first("SmsSid")
    status = params.first("MessageStatus") or params.first("SmsStatus")
    if ref is None or not outbound_sid or len(outbound_sid) > 64 or status not in SMS_STATUS_RANK:
        logger.warning("status callback without ref, MessageSid or a known status", extra={"status": status[:20]})
        return twiml_response()
    update = DeliveryUpdate(
        message_sid=ref.message_sid,
        outbound_sid=outbound_sid,
        status=status,
        rank=SMS_STATUS_RANK[status],
        error_code=params.first("ErrorCode")[:10],
        at=iso(utcnow()),
        part=ref.part,
    )
    publish_records(services.outbox, record_status(services.store, services.failures, update, status_callback=request.url, kind=ref.kind))
    return twiml_response()
