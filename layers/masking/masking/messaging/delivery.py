"""Delivery status callbacks: what one callback changes.

Every forwarded SMS carries ``StatusCallback=<base>/twilio/sms/status?ref=<inbound
MessageSid>``. Each callback is stored on that inbound message's record, per outbound
SID, only if it moves the status forward: repeated and out-of-order callbacks change
nothing. A change is mirrored to the Messages row (Status, Twilio Status, Twilio Error
Code). A ``failed``/``undelivered`` status goes on to ``masking.messaging.failures`` (one
timed resend, or provider and owner alerts). ``masking.handlers.sms`` is the webhook.
"""

from __future__ import annotations

from masking.core.models import DeliveryUpdate
from masking.core.observability import count, logger
from masking.core.ports import RoutingStore
from masking.messaging.failures import FAILED_STATUSES, FailureHandler
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord

# How far along each Twilio message status is; a callback never moves a message back.
SMS_STATUS_RANK = {
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


def record_status(store: RoutingStore, failures: FailureHandler, update: DeliveryUpdate, status_callback: str) -> list[MirrorRecord]:
    """Stores one status callback; the mirror records of what it changed (none for a repeat)."""
    if not store.record_delivery(update):
        logger.info("status callback changed nothing", extra={"status": update.status, "message_sid": update.message_sid})
        return []
    count(f"Delivery{update.status.capitalize()}")
    records = [rows.message_status(update.message_sid, update.status, update.error_code, update.at)]
    if update.status in FAILED_STATUSES:
        records += failures.on_failure(update, status_callback=status_callback)
    return records
