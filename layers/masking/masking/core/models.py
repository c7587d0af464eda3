"""Domain records. Plain dataclasses: no AWS, no HTTP, no Twilio in here.

People and numbers (``Provider``, ``Client``, ``NumberRecord``), the lease, the SMS that
come in and go out, and what the stores keep per inbound message (``MessageRecord``). What
they keep per call is in ``masking.core.call_records``.

No ``from __future__ import annotations`` here: with string annotations ``@dataclass``
parses every field's annotation to look for ``ClassVar`` and ``InitVar``, which made
this module, imported by every webhook, ~2 ms slower to import (bench/cold_import.py).
Each record is a dataclass on ``masking.core.records.Record``, which gives it the
``__repr__`` and ``__eq__`` ``@dataclass`` would generate, at less import cost.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, Literal

from masking.core.records import Record

NEW_CLIENT_NAME = "New client"  # the name of a client the service creates from an unknown phone


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Lifecycle(StrEnum):
    """The Airtable "Lifecycle" select."""

    RESERVED = "Reserved"
    POOL = "Pool"
    STANDBY = "Standby"
    HANDOVER = "Handover"  # a departed provider's reserved number, answering for a successor (admin.handover)


class NumberStatus(StrEnum):
    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"


@dataclass(slots=True, repr=False, eq=False)
class NumberRecord(Record):
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
    # lifecycle Handover: who answers for the number, and until when (epoch seconds);
    # on the number item so the webhooks need no extra read (masking.core.handover)
    successor_id: str | None = None
    successor_name: str | None = None
    successor_number: str | None = None
    handover_until: int | None = None


@dataclass(slots=True, repr=False, eq=False)
class Provider(Record):
    """The party with a reserved number (a pet sitter, a retailer...)."""

    provider_id: str
    name: str
    phone: str
    reserved_number: str | None = None
    email: str | None = None
    status: str = "Active"  # Active, Inactive
    provisioning_status: str = "Active"  # Pending, Active, Inactive, Error
    created_at: str | None = None


@dataclass(slots=True, repr=False, eq=False)
class Client(Record):
    """The other party (a pet owner, a customer)."""

    client_id: str
    name: str
    phone: str
    external_id: str | None = None
    email: str | None = None
    created_at: str | None = None


@dataclass(slots=True, repr=False, eq=False)
class Lease(Record):
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


@dataclass(slots=True, repr=False, eq=False)
class InboundSms(Record):
    """What Twilio posted to the SMS webhook, validated."""

    message_sid: str
    from_phone: str
    to_number: str
    body: str
    media_urls: list[str] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class OutboundSms(Record):
    """An SMS to send: from one of our numbers to a phone."""

    from_number: str
    to_phone: str
    body: str
    media_urls: list[str] = field(default_factory=list)


@dataclass(slots=True, repr=False, eq=False)
class SentSms(Record):
    """What Twilio answered to a send: the new MessageSid and its status."""

    sid: str
    status: str


# ---------------------------------------------------------------- messages (store records)

Party = Literal["client", "provider"]


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    SLOT_TAKEN = "slot_taken"  # the pool number is held by another client of the provider
    PAIR_CHANGED = "pair_changed"  # another message renewed or created the pair's lease


@dataclass(slots=True, repr=False, eq=False)
class MessageRecord(Record):
    """The idempotency record of one inbound MessageSid, kept 30 days.

    It keeps what was forwarded so a delivery-status callback can find the pair and a
    resend can repeat the message.
    """

    message_sid: str
    received_at: str
    provider_id: str | None = None
    client_id: str | None = None
    direction: str = ""  # client_to_provider, provider_to_client, system
    outcome: str = "received"
    body: str = ""
    media_urls: list[str] = field(default_factory=list)
    # outbound MessageSid -> what was sent under it ({"from", "to", "body", "media_urls", "attempt"})
    forwarded: dict[str, dict[str, Any]] = field(default_factory=dict)
    # outbound MessageSid -> {"status", "rank", "error_code", "at"} from status callbacks
    delivery: dict[str, dict[str, object]] = field(default_factory=dict)
    # outbound MessageSid -> the MessageSid of its one resend
    resends: dict[str, str] = field(default_factory=dict)
    # who wrote the claim (one token per route call): a retried write that finds its own
    # claim carries on; a claim left unfinished by a dead invocation can be taken over
    claim_token: str = ""
    # a forward's parts by index ({"from_number", "to_phone", "body", "media_urls"}), written
    # with the claim (outcome FORWARDING) before the send: masking.messaging.parts
    planned: list[dict[str, Any]] = field(default_factory=list)
    lease_id: str | None = None
    erased_at: str | None = None  # its person's data was erased (masking.store.erasure): nothing is written to it again

    def named_parts(self) -> dict[int, str]:
        """Planned part index -> outbound SID, for the parts a status callback named."""
        return {int(entry["part"]): sid for sid, entry in self.delivery.items() if entry.get("part") is not None}  # type: ignore[call-overload]


FORWARDING = "forwarding"  # the outcome of a claim written with its planned parts


STALE_CLAIM_SECONDS = 30  # > the intercept and replay functions' 10 s timeout


def stale_claim(existing: MessageRecord, attempt: MessageRecord) -> bool:
    """True when ``existing`` (an unfinished claim) is old enough that its invocation is dead."""
    try:
        age = datetime.fromisoformat(attempt.received_at) - datetime.fromisoformat(existing.received_at)
    except ValueError:
        return True
    return age.total_seconds() >= STALE_CLAIM_SECONDS


@dataclass(slots=True, repr=False, eq=False)
class ForwardedPart(Record):
    """One SMS we sent for an inbound message (a long body is sent in parts)."""

    sid: str
    from_number: str
    to_phone: str
    body: str
    media_urls: list[str] = field(default_factory=list)
    attempt: int = 1  # 2 for the one timed resend
    kind: str = "forward"  # "system": a service reply; "alert": a delivery alert to the provider

    def as_map(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "from": self.from_number,
            "to": self.to_phone,
            "body": self.body,
            "media_urls": list(self.media_urls),
            "attempt": self.attempt,
        }
        if self.kind != "forward":
            data["kind"] = self.kind
        return data

    @classmethod
    def from_map(cls, sid: str, data: dict[str, Any]) -> "ForwardedPart":
        return cls(
            sid,
            str(data["from"]),
            str(data["to"]),
            str(data.get("body", "")),
            list(data.get("media_urls") or []),
            int(data.get("attempt", 1)),
            str(data.get("kind", "forward")),
        )


@dataclass(slots=True, repr=False, eq=False)
class DeliveryUpdate(Record):
    """One status callback for a message we sent on behalf of ``message_sid``."""

    message_sid: str
    outbound_sid: str
    status: str
    rank: int
    error_code: str
    at: str
    part: int | None = None  # the planned part the callback's ref names

    def entry(self) -> dict[str, object]:
        """What the message's record keeps for this outbound SID (``delivery``)."""
        entry: dict[str, object] = {"status": self.status, "rank": self.rank, "error_code": self.error_code, "at": self.at}
        if self.part is not None:
            entry["part"] = self.part
        return entry


@dataclass(slots=True, repr=False, eq=False)
class InboundLookup(Record):
    """Everything one BatchGet tells about an inbound (to, from) pair."""

    number: NumberRecord | None
    client: Client | None
    provider_id: str | None


@dataclass(slots=True, repr=False, eq=False)
class PoolView(Record):
    """The provider's view of the pool: Ready pool numbers and the provider's slots."""

    ready_numbers: list[str]
    slots: dict[str, Lease]
