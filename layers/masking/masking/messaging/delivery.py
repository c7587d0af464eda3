"""Delivery status callbacks: what one callback changes.

Every SMS we send carries ``StatusCallback=<base>/twilio/sms/status/<ref>``
(``masking.messaging.parts``): ``ref`` is ``<MessageSid>.<index>`` for part ``index`` of a
forward, and ``<MessageSid>.<kind>`` for a service reply (``system``) or a delivery alert
to the provider (``alert``); a resend's ref is the plain inbound MessageSid; the admin
API's own texts get a ``SY...`` record of their own. The old ``?ref=`` query form is still
accepted for callbacks in flight. Each callback is stored on that inbound message's
record, per outbound SID (with the part index its ref names: that is how a part the
webhook sent, recorded only in the claim's plan, learns its SID), only if it moves the
status forward: repeated and out-of-order callbacks change nothing. A change is mirrored
to the Messages row (Status, Twilio Status, Twilio Error Code). A ``failed``/
``undelivered`` status goes on to ``masking.messaging.failures`` (one timed resend, or
provider and owner alerts). ``masking.handlers.sms`` is the webhook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from masking.core.models import DeliveryUpdate
from masking.core.observability import count, logger
from masking.core.ports import RoutingStore
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord

if TYPE_CHECKING:  # the failure path is imported where the services are built, not with the webhook
    from masking.messaging.failures import FailureHandler

FAILED_STATUSES = frozenset({"failed", "undelivered"})

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


def record_status(
    store: RoutingStore, failures: FailureHandler, update: DeliveryUpdate, status_callback: str, kind: str = "forward"
) -> list[MirrorRecord]:
    """Stores one status callback; the mirror records of what it changed (none for a repeat).
    Only a forward's status is mirrored to the Messages row (a service reply's would
    overwrite it); a failure of any kind goes on to the failure handler."""
    if not store.record_delivery(update):
        logger.info("status callback changed nothing", extra={"status": update.status, "message_sid": update.message_sid})
        return []
    count(f"Delivery{update.status.capitalize()}")
    records = [rows.message_status(update.message_sid, update.status, update.error_code, update.at)] if kind == "forward" else []
    if update.status in FAILED_STATUSES:
        records += failures.on_failure(update, status_callback=status_callback)
    return records
