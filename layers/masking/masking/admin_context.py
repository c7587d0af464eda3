"""What the admin flows share: store, Twilio, outbox, settings, clock, and the mirror
records one request produces (published together when the request ends)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from masking.models import Client, NumberRecord, OutboundSms, Provider, SentSms, iso, utcnow
from masking.outbox import Category, MirrorRecord, Outbox, Severity, audit_record
from masking.settings import InventorySettings, RoutingSettings, TwilioSettings
from masking.store.admin import DynamoAdminStore

SMS_WEBHOOK_PATH = "/twilio/sms"
VOICE_WEBHOOK_PATH = "/twilio/voice"


class NumberGateway(Protocol):
    """The Twilio operations the admin flows use (masking.twilio_gateway.TwilioGateway)."""

    def send_sms(self, message: OutboundSms, status_callback: str | None = None) -> SentSms: ...

    def search_local_numbers(self, area_code: str, limit: int = 5, country: str = "US") -> list[str]: ...

    def buy_number(
        self, number: str, sms_url: str, voice_url: str, status_callback: str | None = None, friendly_name: str | None = None
    ) -> Any: ...

    def configure_number(self, number_sid: str, sms_url: str, voice_url: str) -> None: ...

    def add_to_messaging_service(self, service_sid: str, number_sid: str) -> None: ...

    def release_number(self, number_sid: str) -> None: ...


@dataclass
class AdminContext:
    store: DynamoAdminStore
    gateway: NumberGateway
    outbox: Outbox
    routing: RoutingSettings
    inventory: InventorySettings
    twilio: TwilioSettings
    clock: Callable[[], datetime] = utcnow
    records: list[MirrorRecord] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock()

    def stamp(self) -> str:
        return iso(self.clock())

    def audit(
        self,
        event: str,
        description: str,
        category: Category,
        severity: Severity,
        key: str,
        provider_id: str | None = None,
        client_id: str | None = None,
        **details: object,
    ) -> None:
        stamp = self.stamp()
        self.records.append(
            audit_record(
                event,
                description,
                category=category,
                severity=severity,
                at=stamp,
                key=f"{key}:{event}:{stamp}",
                provider_id=provider_id,
                client_id=client_id,
                details=details,
            )
        )

    def mirror_number(self, number: NumberRecord) -> None:
        self.records.append(MirrorRecord(kind="number", key=number.number, at=self.stamp(), fields=number_fields(number)))

    def mirror_provider(self, provider: Provider) -> None:
        self.records.append(MirrorRecord(kind="provider", key=provider.provider_id, at=self.stamp(), fields=provider_fields(provider)))

    def mirror_client(self, client: Client, provider_id: str | None = None) -> None:
        self.records.append(MirrorRecord(kind="client", key=client.client_id, at=self.stamp(), fields=client_fields(client, provider_id)))

    def flush(self) -> None:
        """Publishes this request's mirror records (one SendMessageBatch per 10)."""
        records, self.records = self.records, []
        if records:
            self.outbox.publish(records)


def inventory_status(number: NumberRecord) -> str:
    """The Number Inventory "Status" select for a number."""
    if number.status != "Ready":
        return str(number.status)
    if number.lifecycle == "Reserved":
        return "Reserved Active" if number.provider_id else "Ready"
    if number.lifecycle == "Standby":
        return "Standby Reserved"
    return "Available"


def number_fields(number: NumberRecord) -> dict[str, object]:
    return {
        "PhoneNumber": number.number,
        "Assigned Sitter": number.provider_id,
        "Status": inventory_status(number),
        "Lifecycle": str(number.lifecycle),
        "Purchase Date": number.purchased_at,
        "Twilio SID": number.twilio_sid,
        "Attach Status": number.attach_status,
        "Verification Status": number.verification_status,
        "Purpose": number.purpose,
    }


def provider_fields(provider: Provider) -> dict[str, object]:
    return {
        "Full Name": provider.name,
        "Status": provider.status,
        "Phone Number": provider.phone,
        "Sitter Phone (E.164)": provider.phone,
        "Twilio Number": provider.reserved_number,
        "Provisioning Status": provider.provisioning_status,
        "Email": provider.email,
        "Date Added": provider.created_at,
        "Provider ID": provider.provider_id,
    }


def client_fields(client: Client, provider_id: str | None) -> dict[str, object]:
    fields: dict[str, object] = {
        "Name": client.name,
        "Phone Number": client.phone,
        "Client Phone (E.164)": client.phone,
        "Email": client.email,
        "Created At": client.created_at,
        "External ID": client.external_id,
    }
    if provider_id:
        fields["Linked Sitter"] = provider_id
    return fields
