"""What the admin flows share: store, Twilio, settings, clock, and the mirror records one
request produces. The edge that ran the flow (``handlers.admin_api``, a schedule handler)
publishes ``take_records()`` when the request ends, as the webhooks publish a route's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from masking.core.call_records import CallSession
from masking.core.models import Client, ForwardedPart, Lease, MessageRecord, NumberRecord, OutboundSms, Provider, SentSms, iso, utcnow
from masking.core.ports import AdminStore, NumberGateway, SendError
from masking.core.settings import InventorySettings, RoutingSettings, TwilioSettings
from masking.mirror import rows
from masking.mirror.outbox import Category, MirrorRecord, Severity

SMS_WEBHOOK_PATH = "/twilio/sms"
VOICE_WEBHOOK_PATH = "/twilio/voice"


@dataclass
class AdminContext:
    store: AdminStore
    gateway: NumberGateway
    routing: RoutingSettings
    inventory: InventorySettings
    twilio: TwilioSettings
    clock: Callable[[], datetime] = utcnow
    records: list[MirrorRecord] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock()

    def stamp(self) -> str:
        return iso(self.clock())

    @property
    def audit(self) -> rows.AuditTrail:
        """Audits one admin action: ``ctx.audit(event, description, category, severity, key=...)``,
        keyed ``<key>:<event>:<now>``."""
        return rows.AuditTrail(self.records, "", "", self.stamp())

    def audit_about(
        self, pair: Lease | CallSession, event: str, description: str, category: Category, severity: Severity, **details: object
    ) -> None:
        """Audits an action on a pair's lease or click-to-call session: keyed on it, naming its provider and client."""
        key = pair.lease_id if isinstance(pair, Lease) else pair.call_id
        self.audit(event, description, category, severity, pair.provider_id, pair.client_id, key=key, **details)

    def mirror_number(self, number: NumberRecord) -> None:
        self.records.append(rows.number_row(number, self.stamp()))

    def mirror_provider(self, provider: Provider) -> None:
        self.records.append(rows.provider_row(provider, self.stamp()))

    def mirror_client(self, client: Client, provider_id: str | None = None) -> None:
        self.records.append(rows.client_profile(client, provider_id, self.stamp()))

    def send_system_sms(self, message: OutboundSms, webhook_base: str, provider_id: str | None = None) -> SentSms:
        """Sends one of the service's own texts (session notice, verification SMS), tracked
        like a forward: a ``SY...`` message record holds it, and its StatusCallback
        (``/twilio/sms/status/SY....system``) lets a failed delivery be audited. Raises
        SendError (the record then says ``send_failed``: nothing went out)."""
        ref = f"SY{uuid.uuid4().hex}"
        callback = None
        if webhook_base:
            self.store.claim_message(MessageRecord(ref, self.stamp(), provider_id=provider_id, direction="system", outcome="system"))
            callback = f"{webhook_base.rstrip('/')}/twilio/sms/status/{ref}.system"
        try:
            sent = self.gateway.send_sms(message, callback)
        except SendError:
            if callback:
                self.store.set_message_outcome(ref, "send_failed", [])
            raise
        if callback:
            self.store.add_sent_part(ref, ForwardedPart(sent.sid, message.from_number, message.to_phone, message.body, kind="system"))
        return sent

    def take_records(self) -> list[MirrorRecord]:
        """This request's mirror records, handed over once (the context keeps none)."""
        records, self.records = self.records, []
        return records
