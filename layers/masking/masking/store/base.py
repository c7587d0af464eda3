"""The routing store interface.

Every method is one atomic step against the system of record (for DynamoDB: one
GetItem, BatchGetItem, Query or one conditional write / transaction on keys). The
decisions (which pool number, when a lease is expired) live in ``masking.leases``
and ``masking.sms``; a store only reads and writes under conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Protocol

from masking.models import Client, Lease, NumberRecord, Provider

Party = Literal["client", "provider"]


class DuplicateMessage(Exception):
    """This MessageSid was processed already (Twilio retried, or a replay)."""


class LeaseConflict(Exception):
    """The lease changed under us (another message touched, took or renewed it)."""


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    SLOT_TAKEN = "slot_taken"  # the pool number is held by another client of the provider
    PAIR_CHANGED = "pair_changed"  # another message renewed or created the pair's lease


@dataclass(slots=True)
class MessageRecord:
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


@dataclass(slots=True)
class ForwardedPart:
    """One SMS we sent for an inbound message (a long body is sent in parts)."""

    sid: str
    from_number: str
    to_phone: str
    body: str
    media_urls: list[str] = field(default_factory=list)
    attempt: int = 1  # 2 for the one timed resend

    def as_map(self) -> dict[str, Any]:
        return {
            "from": self.from_number,
            "to": self.to_phone,
            "body": self.body,
            "media_urls": list(self.media_urls),
            "attempt": self.attempt,
        }

    @classmethod
    def from_map(cls, sid: str, data: dict[str, Any]) -> ForwardedPart:
        return cls(
            sid,
            str(data["from"]),
            str(data["to"]),
            str(data.get("body", "")),
            list(data.get("media_urls") or []),
            int(data.get("attempt", 1)),
        )


@dataclass(slots=True)
class DeliveryUpdate:
    """One status callback for a message we sent on behalf of ``message_sid``."""

    message_sid: str
    outbound_sid: str
    status: str
    rank: int
    error_code: str
    at: str


@dataclass(slots=True)
class InboundLookup:
    """Everything one BatchGet tells about an inbound (to, from) pair."""

    number: NumberRecord | None
    client: Client | None
    provider_id: str | None


@dataclass(slots=True)
class PoolView:
    """The provider's view of the pool: Ready pool numbers and the provider's slots."""

    ready_numbers: list[str]
    slots: dict[str, Lease]


class RoutingStore(Protocol):
    # ---- hot path reads
    def lookup_inbound(self, to_number: str, from_phone: str) -> InboundLookup: ...

    def get_provider_and_pair(self, provider_id: str, client_id: str) -> tuple[Provider | None, Lease | None]: ...

    def get_provider_and_slot(self, provider_id: str, pool_number: str) -> tuple[Provider | None, Lease | None]: ...

    # ---- hot path writes
    def touch_lease(self, lease: Lease, last_activity_at: str, expires_at: int, record: MessageRecord | None) -> Lease:
        """Extends an active lease and records the message (if any), atomically.

        Raises DuplicateMessage when the MessageSid is known, LeaseConflict when the slot
        is no longer this client's.
        """
        ...

    def claim_slot(self, lease: Lease, expected_pair_version: int | None, now_epoch: int, record: MessageRecord | None) -> ClaimOutcome:
        """Writes a new lease (pair + slot) if the slot is free, expired or already this
        client's, and the pair is still at ``expected_pair_version`` (None: no pair yet).

        Raises DuplicateMessage when ``record`` is given and its MessageSid is known.
        """
        ...

    def claim_message(self, record: MessageRecord) -> None:
        """Records a MessageSid that touches no lease. Raises DuplicateMessage."""
        ...

    def release_message(self, message_sid: str) -> None:
        """Forgets a MessageSid whose forwarding failed, so Twilio's retry is processed."""
        ...

    def set_message_outcome(self, message_sid: str, outcome: str, parts: list[ForwardedPart]) -> None: ...

    def create_client(self, client: Client) -> Client:
        """Creates a client unless one has this phone already; returns the stored one."""
        ...

    def set_opt_out(self, lease: Lease, party: Party, opted_out: bool) -> None: ...

    def expire_lease(self, lease: Lease, at_epoch: int) -> bool:
        """Ends a lease now (pair and slot), if it is still this lease. The pair keeps
        its pool number so the pair gets it back when it talks again and it is free."""
        ...

    # ---- allocation reads (Query on keys, only when a lease is created)
    def pool_view(self, provider_id: str) -> PoolView: ...

    # ---- inventory and people (admin, seeding)
    def put_number(self, number: NumberRecord) -> None: ...

    def put_provider(self, provider: Provider) -> None: ...

    def put_client(self, client: Client) -> None: ...

    def get_message(self, message_sid: str) -> MessageRecord | None: ...

    def record_delivery(self, update: DeliveryUpdate) -> bool:
        """Stores a status unless the message already has this or a later one.

        Returns False (nothing changed) for repeated or out-of-order callbacks, and for
        a ``message_sid`` we do not know.
        """
        ...


class DeliveryStore(Protocol):
    """What delivery-failure handling needs on top of the routing store."""

    def get_message(self, message_sid: str) -> MessageRecord | None: ...

    def get_provider_and_pair(self, provider_id: str, client_id: str) -> tuple[Provider | None, Lease | None]: ...

    def claim_resend(self, message_sid: str, outbound_sid: str) -> bool: ...

    def add_resent_part(self, message_sid: str, original_sid: str, part: ForwardedPart) -> None: ...

    def record_permanent_failure(self, outbound_sid: str, at_epoch: int, window_seconds: int) -> int: ...

    def claim_owner_alert(self, at_epoch: int, window_seconds: int) -> bool: ...

    def increment_client_errors(self, client_id: str) -> int: ...
