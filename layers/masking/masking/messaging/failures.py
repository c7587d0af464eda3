"""Delivery failures (docs/architecture.md, "Message flows" 5).

A forwarded SMS that Twilio reports ``failed`` or ``undelivered``:

- with a temporary error code (``TEMPORARY_ERROR_CODES``), and if it was a first attempt:
  exactly one resend, 10 minutes later, through the retry queue (SQS, delayed);
- otherwise (a permanent code, or the resend failed too): permanent. The provider is told
  by SMS from their reserved number that the message to the client did not arrive, the
  client's Twilio Error Count goes up, an audit event is written (Delivery Error), and when
  more than 5 failures fall within 24 hours the owner gets one alert (SNS) per window.

The resend is claimed with a conditional write per outbound SID, so duplicate callbacks
can never schedule it twice, and a resend is never resent; the consumer moves the claim
from pending to sending with another conditional write (``start_resend``) before it
sends, so two deliveries of the queue message racing each other send it once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from masking.core.models import DeliveryUpdate, ForwardedPart, MessageRecord, OutboundSms, iso, utcnow
from masking.core.observability import count, logger
from masking.core.ports import DeliveryStore, OwnerAlerts, RetryQueue, SendError, SmsGateway
from masking.core.records import FrozenRecord
from masking.core.settings import DeliverySettings
from masking.messaging.parts import STATUS_PATH, planned_part, status_callback_url, without_part
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from masking.mirror.rows import audit_record

PROVIDER_ALERT = "Your message to {client} was not delivered (Twilio error {code})."
OWNER_ALERT_SUBJECT = "Masking service: delivery failures"
OWNER_ALERT = (
    "{count} messages failed permanently in the last {hours:g} hours (latest: Twilio error {code}). See the Audit Log (Delivery Error)."
)


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Resend(FrozenRecord):
    """What the retry queue carries: which part of which inbound message to send again."""

    message_sid: str
    outbound_sid: str
    status_callback: str

    def to_json(self) -> str:
        return json.dumps({"message_sid": self.message_sid, "outbound_sid": self.outbound_sid, "status_callback": self.status_callback})

    @classmethod
    def from_json(cls, text: str) -> Resend:
        data = json.loads(text)
        return cls(str(data["message_sid"]), str(data["outbound_sid"]), str(data["status_callback"]))


@dataclass(eq=False)
class FailureHandler:
    """A failed or undelivered part: the one timed resend, or the provider told and the owner alerted."""

    store: DeliveryStore
    gateway: SmsGateway
    retries: RetryQueue
    alerts: OwnerAlerts
    settings: DeliverySettings
    clock: Callable[[], datetime] = utcnow

    def on_failure(self, update: DeliveryUpdate, status_callback: str) -> list[MirrorRecord]:
        """A ``failed``/``undelivered`` callback seen for the first time."""
        record = self.store.get_message(update.message_sid)
        # a part sent by the webhook is known by its index only: its SID was never recorded
        data = (record.forwarded.get(update.outbound_sid) or planned_part(record, update.part)) if record else None
        if record is None or data is None or record.erased_at:  # erased: nothing to resend, nobody to name
            logger.warning("failure callback for a message we did not forward", extra={"message_sid": update.message_sid})
            return []
        part = ForwardedPart.from_map(update.outbound_sid, data)
        temporary = update.error_code in self.settings.temporary_error_codes
        if temporary and part.attempt == 1 and self.store.claim_resend(record.message_sid, part):
            # the resend's callback names no part: its failure is a second attempt's
            self.retries.schedule(Resend(record.message_sid, part.sid, without_part(status_callback)))
            count("ResendsScheduled")
            return [
                self._audit(
                    record,
                    "Resend scheduled",
                    f"Temporary Twilio error {update.error_code}: one resend in 10 minutes",
                    "Warning",
                    outbound_sid=part.sid,
                    twilio_error_code=update.error_code,
                )
            ]
        return self._permanent(record, part, update.error_code, status_callback)

    def resend(self, resend: Resend) -> list[MirrorRecord]:
        """The retry queue's consumer: sends the part again, once."""
        record = self.store.get_message(resend.message_sid)
        data = record.forwarded.get(resend.outbound_sid) if record and not record.erased_at else None
        if record is None or data is None:
            logger.warning("resend of an unknown message part, dropped", extra={"message_sid": resend.message_sid})
            return []
        if not self.store.start_resend(record.message_sid, resend.outbound_sid):
            return []  # a redelivered or duplicated queue message: another delivery sends it
        part = ForwardedPart.from_map(resend.outbound_sid, data)
        message = OutboundSms(from_number=part.from_number, to_phone=part.to_phone, body=part.body, media_urls=part.media_urls)
        try:
            sent = self.gateway.send_sms(message, resend.status_callback)
        except SendError as error:
            return self._permanent(record, part, str(error.code or ""), resend.status_callback)
        self.store.add_resent_part(
            record.message_sid,
            part.sid,
            ForwardedPart(sent.sid, part.from_number, part.to_phone, part.body, part.media_urls, attempt=2, kind=part.kind),
        )
        count("Resends")
        return [self._audit(record, "Message resent", "The one timed resend went out", "Info", outbound_sid=part.sid, resend_sid=sent.sid)]

    def _permanent(self, record: MessageRecord, part: ForwardedPart, code: str, status_callback: str) -> list[MirrorRecord]:
        count("DeliveryFailedPermanently")
        records = [
            self._audit(
                record,
                "Delivery failed",
                f"Message not delivered (Twilio error {code or 'unknown'})",
                "Error",
                outbound_sid=part.sid,
                twilio_error_code=code,
                attempt=part.attempt,
                kind=part.kind,
            )
        ]
        # only a forward's failure is told to the provider: a failed service reply or alert
        # to the provider must not send another one (that loop would never end)
        if part.kind == "forward" and record.direction == "provider_to_client" and record.provider_id and record.client_id:
            records += self._tell_provider(record, part, code, status_callback)
        now = int(self.clock().timestamp())
        window = int(self.settings.owner_alert_window_hours * 3600)
        failures = self.store.record_permanent_failure(part.sid, now, window)
        if failures > self.settings.owner_alert_threshold and self.store.claim_owner_alert(now, window):
            self.alerts.publish(
                OWNER_ALERT_SUBJECT, OWNER_ALERT.format(count=failures, hours=self.settings.owner_alert_window_hours, code=code)
            )
            count("OwnerAlerts")
            records.append(self._audit(record, "Owner alerted", f"{failures} permanent failures within the window", "Critical"))
        return records

    def _tell_provider(self, record: MessageRecord, part: ForwardedPart, code: str, status_callback: str) -> list[MirrorRecord]:
        provider, pair = self.store.get_provider_and_pair(record.provider_id or "", record.client_id or "")
        errors = self.store.increment_client_errors(record.client_id or "")
        records = [rows.client_error_count(record.client_id or "", errors, self._stamp())]
        if provider is None:
            return records
        client_name = pair.client_name if pair else "your client"
        text = PROVIDER_ALERT.format(client=client_name, code=code or "unknown")
        # tracked like a forward: its own StatusCallback (<ref>.alert) and a part on the record
        callback = status_callback_url(status_callback.split(STATUS_PATH, 1)[0], record.message_sid, "alert") if status_callback else None
        try:
            sent = self.gateway.send_sms(OutboundSms(from_number=part.from_number, to_phone=provider.phone, body=text), callback)
        except SendError as error:
            refused = f"Twilio refused the alert: {error}"
            records.append(self._audit(record, "Provider alert failed", refused, "Error", twilio_error_code=error.code))
            return records
        self.store.add_sent_part(record.message_sid, ForwardedPart(sent.sid, part.from_number, provider.phone, text, kind="alert"))
        return records

    def _stamp(self) -> str:
        return iso(self.clock())

    def _audit(self, record: MessageRecord, event: str, description: str, severity: Any, **details: object) -> MirrorRecord:
        return audit_record(
            event,
            description,
            category="Delivery Error",
            severity=severity,
            at=self._stamp(),
            key=f"{record.message_sid}:{event}:{details.get('outbound_sid', '')}",
            provider_id=record.provider_id,
            client_id=record.client_id,
            details={"message_sid": record.message_sid, **details},
        )
