"""Delivery status callbacks (POST /twilio/sms/status).

Every forwarded SMS carries ``StatusCallback=<base>/twilio/sms/status?ref=<inbound
MessageSid>``. Each callback is stored on that inbound message's record, per outbound
SID, only if it moves the status forward: repeated and out-of-order callbacks change
nothing. A change is mirrored to the Messages row (Status, Twilio Status, Twilio Error
Code) through the outbox. A ``failed``/``undelivered`` status goes on to
``masking.failures`` (one timed resend, or provider and owner alerts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from masking.failures import FAILED_STATUSES
from masking.models import iso, utcnow
from masking.observability import count, logger
from masking.outbox import MirrorRecord, publish_records
from masking.store.base import DeliveryUpdate
from masking.webhooks import BadRequest, form_params, is_signed_by_twilio, json_response, public_url, twiml_response

if TYPE_CHECKING:
    from masking.wiring import SmsServices

# How far along each Twilio message status is; a callback never moves a message back.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
# Twilio status -> the Messages table's Status select
MIRROR_STATUS = {"delivered": "delivered", "read": "delivered", "undelivered": "undelivered", "failed": "failed", "canceled": "failed"}


def handle_status_webhook(event: dict[str, Any], services: SmsServices) -> dict[str, Any]:
    url = public_url(event, services.twilio.public_base_url)
    try:
        params = form_params(event)
    except BadRequest as exc:
        return json_response(400, {"success": False, "error": "unreadable form body", "details": str(exc)})
    if not is_signed_by_twilio(event, params, services.credentials().auth_token, url):
        count("InvalidSignatures")
        logger.warning("rejected status callback: invalid or missing X-Twilio-Signature")
        return json_response(403, {"success": False, "error": "invalid Twilio signature", "details": None})
    ref = ((event.get("queryStringParameters") or {}).get("ref") or "").strip()
    outbound_sid = params.first("MessageSid") or params.first("SmsSid")
    status = params.first("MessageStatus") or params.first("SmsStatus")
    if not ref or not outbound_sid or status not in STATUS_RANK:
        logger.warning("status callback without ref, MessageSid or a known status", extra={"status": status})
        return twiml_response()
    update = DeliveryUpdate(
        message_sid=ref,
        outbound_sid=outbound_sid,
        status=status,
        rank=STATUS_RANK[status],
        error_code=params.first("ErrorCode"),
        at=iso(utcnow()),
    )
    if not services.store.record_delivery(update):
        logger.info("status callback changed nothing", extra={"status": status, "message_sid": ref})
        return twiml_response()
    count(f"Delivery{status.capitalize()}")
    fields: dict[str, Any] = {"Twilio Status": status, "Twilio Error Code": update.error_code}
    if status in MIRROR_STATUS:
        fields["Status"] = MIRROR_STATUS[status]
    records = [MirrorRecord(kind="message", key=ref, at=update.at, fields=fields)]
    if status in FAILED_STATUSES:
        records += services.failures.on_failure(update, status_callback=url)
    publish_records(services.outbox, records)
    return twiml_response()
