"""What routing one inbound webhook (an SMS, a call) builds for the mirror: its context
(``WebhookContext``: the moment, the records so far, the audit trail keyed on the
webhook's SID) and its result (``WebhookResult``). ``masking.messaging.routing`` and
``masking.voice.routing`` extend both with what is theirs (the SMS sent, the TwiML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from masking.core.leases import create_client_from_phone
from masking.core.models import Client, iso
from masking.core.records import Record
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from masking.mirror.rows import AuditTrail

if TYPE_CHECKING:
    from masking.core.ports import RoutingStore


@dataclass(slots=True, kw_only=True, repr=False, eq=False)
class WebhookResult(Record):
    """``outcome`` (forwarded, bridged, expired...), ``direction`` (client_to_provider,
    provider_to_client, unrouted), the ``records`` to publish and the lease it used."""

    outcome: str
    direction: str = ""
    records: list[MirrorRecord] = field(default_factory=list)
    lease_id: str | None = None


@dataclass(slots=True, kw_only=True, repr=False, eq=False)
class WebhookContext(Record):
    """What one inbound webhook has learnt so far. ``ref`` is its SID (``ref_name``)."""

    ref_name: ClassVar[str]  # "message_sid", "call_sid"

    now: datetime
    records: list[MirrorRecord] = field(default_factory=list)

    @property
    def ref(self) -> str:
        raise NotImplementedError

    @property
    def stamp(self) -> str:
        return iso(self.now)

    @property
    def audit(self) -> AuditTrail:
        """Audit Log rows keyed ``<ref>:<event>``: a retried webhook writes the same rows."""
        return AuditTrail(self.records, self.ref_name, self.ref, self.stamp)

    def new_client(self, store: RoutingStore, phone: str, provider_id: str, how: str) -> Client:
        """The client of a phone we did not know, created; the request that created it mirrors
        its Clients row and audits it (``how``: what the new number did)."""
        client, created = create_client_from_phone(store, phone, self.stamp)
        if created:  # a concurrent first message created it: that request writes these
            self.records.append(rows.new_client(client, provider_id, self.stamp))
            self.audit("Client created", how, "Client Sync", "Info", provider_id, client.client_id)
        return client
