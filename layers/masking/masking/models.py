"""Domain records. Plain dataclasses: no AWS, no HTTP, no Twilio in here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Lifecycle(StrEnum):
    """The Airtable "Lifecycle" select."""

    RESERVED = "Reserved"
    POOL = "Pool"
    STANDBY = "Standby"


class NumberStatus(StrEnum):
    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"


@dataclass(slots=True)
class NumberRecord:
    """A Twilio number we own."""

    number: str
    lifecycle: Lifecycle
    status: NumberStatus = NumberStatus.READY
    provider_id: str | None = None
    twilio_sid: str | None = None
    purpose: str | None = None  # Sitter Assignment, Pool Expansion, Standby Replenishment
    purchased_at: str | None = None
    attach_status: str | None = None  # Pending, Ready, Failed
    verification_status: str | None = None  # Not Sent, Sent, Verified, Failed
    updated_at: str | None = None


@dataclass(slots=True)
class Provider:
    """The party with a reserved number (a pet sitter, a retailer...)."""

    provider_id: str
    name: str
    phone: str
    reserved_number: str | None = None
    email: str | None = None
    status: str = "Active"  # Active, Inactive
    provisioning_status: str = "Active"  # Pending, Active, Inactive, Error
    created_at: str | None = None


@dataclass(slots=True)
class Client:
    """The other party (a pet owner, a customer)."""

    client_id: str
    name: str
    phone: str
    external_id: str | None = None
    email: str | None = None
    created_at: str | None = None


@dataclass(slots=True)
class Lease:
    """The active pairing (provider, client, pool number); expires after idle days.

    Stored twice: once under the pair (provider, client) so a client's messages find it,
    once under the slot (provider, pool number) so a provider's replies find it. The slot
    item is what makes a pool number unique per provider.
    """

    provider_id: str
    client_id: str
    pool_number: str
    client_phone: str
    client_name: str
    lease_id: str
    started_at: str
    last_activity_at: str
    expires_at: int  # epoch seconds
    version: int = 1
    client_opted_out: bool = False
    provider_opted_out: bool = False

    def is_active(self, now: datetime) -> bool:
        return self.expires_at > int(now.timestamp())


@dataclass(slots=True)
class InboundSms:
    """What Twilio posted to the SMS webhook, validated."""

    message_sid: str
    from_phone: str
    to_number: str
    body: str
    media_urls: list[str] = field(default_factory=list)


@dataclass(slots=True)
class OutboundSms:
    from_number: str
    to_phone: str
    body: str
    media_urls: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SentSms:
    sid: str
    status: str
