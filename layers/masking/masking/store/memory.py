"""In-memory stores for unit tests and benchmarks: ``MemoryRoutingStore`` (the SMS hot
path and delivery failures) and ``MemoryCallStore`` (plus the voice items).

They keep the same atomicity as the DynamoDB stores (one lock per call, the same
conditions), so the domain tests exercise the real race outcomes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from masking.core.call_records import CallRecord, CallSession, DialOutcome, StatusChange
from masking.core.errors import DuplicateCall, LeaseConflict
from masking.core.models import (
    ClaimOutcome,
    Client,
    DeliveryUpdate,
    ForwardedPart,
    InboundLookup,
    Lease,
    Lifecycle,
    MessageRecord,
    NumberRecord,
    NumberStatus,
    Party,
    PoolView,
    Provider,
)
from masking.store.claims import take_over, unconfirmed
from masking.store.forwarding import MemoryForwardParts


def _first_dial(record: CallRecord | CallSession, outcome: DialOutcome) -> bool:
    """Records the call's first <Dial> outcome (under the store's lock); False when it has one."""
    if record.dial_status is not None:
        return False
    record.dial_status, record.updated_at = outcome.status, outcome.at
    if outcome.duration is not None:
        record.dial_duration = outcome.duration
    return True


class MemoryRoutingStore(MemoryForwardParts):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures: dict[str, int] = {}
        self.owner_alerted_at: int | None = None
        self.client_errors: dict[str, int] = {}
        self.numbers: dict[str, NumberRecord] = {}
        self.providers: dict[str, Provider] = {}
        self.provider_by_phone: dict[str, str] = {}
        self.clients: dict[str, Client] = {}
        self.client_by_phone: dict[str, str] = {}
        self.pairs: dict[tuple[str, str], Lease] = {}
        self.slots: dict[tuple[str, str], Lease] = {}
        self.messages: dict[str, MessageRecord] = {}
        self.calls: dict[str, int] = {}

    def _count(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1

    # ---- hot path reads
    def lookup_inbound(self, to_number: str, from_phone: str) -> InboundLookup:
        with self._lock:
            self._count("lookup_inbound")
            client_id = self.client_by_phone.get(from_phone)
            number = self.numbers.get(to_number)
            return InboundLookup(
                number=replace(number) if number else None,
                client=replace(self.clients[client_id]) if client_id else None,
                provider_id=self.provider_by_phone.get(from_phone),
            )

    def get_provider_and_pair(self, provider_id: str, client_id: str) -> tuple[Provider | None, Lease | None]:
        return self._provider_and_lease("get_provider_and_pair", provider_id, self.pairs, client_id)

    def get_provider_and_slot(self, provider_id: str, pool_number: str) -> tuple[Provider | None, Lease | None]:
        return self._provider_and_lease("get_provider_and_slot", provider_id, self.slots, pool_number)

    def _provider_and_lease(
        self, operation: str, provider_id: str, leases: dict[tuple[str, str], Lease], second_key: str
    ) -> tuple[Provider | None, Lease | None]:
        """The provider and its lease under (provider_id, ``second_key``) in ``leases`` (pairs or slots)."""
        with self._lock:
            self._count(operation)
            provider = self.providers.get(provider_id)
            lease = leases.get((provider_id, second_key))
            return (replace(provider) if provider else None, replace(lease) if lease else None)

    # ---- hot path writes
    def touch_lease(self, lease: Lease, last_activity_at: str, expires_at: int, record: MessageRecord | None) -> Lease:
        with self._lock:
            self._count("touch_lease")
            if record is not None:
                self._check_claim(record)
            touched = self._touch_unlocked(lease, last_activity_at, expires_at)
            if record is not None:
                self.messages[record.message_sid] = replace(record)
            return touched

    def _check_claim(self, record: MessageRecord) -> None:
        """What the DynamoDB store's claim condition and ``_message_taken`` decide: new, or
        this invocation's own claim, or a stale unfinished claim (taken over) may proceed;
        a taken-over planned forward raises ``UnconfirmedForward``."""
        existing = self.messages.get(record.message_sid)
        if existing is None or (existing.claim_token and existing.claim_token == record.claim_token):
            return
        take_over(existing, record)
        existing.claim_token = record.claim_token
        unconfirmed(replace(existing))

    def _touch_unlocked(self, lease: Lease, last_activity_at: str, expires_at: int) -> Lease:
        """Extends the lease (pair and slot) if it is still this client's; call under the lock."""
        slot = self.slots.get((lease.provider_id, lease.pool_number))
        pair = self.pairs.get((lease.provider_id, lease.client_id))
        if slot is None or slot.client_id != lease.client_id or pair is None or pair.lease_id != lease.lease_id:
            raise LeaseConflict(lease.lease_id)
        touched = replace(pair, last_activity_at=last_activity_at, expires_at=expires_at)
        self.pairs[(lease.provider_id, lease.client_id)] = touched
        self.slots[(lease.provider_id, lease.pool_number)] = replace(touched)
        return replace(touched)

    def claim_slot(self, lease: Lease, expected_pair_version: int | None, now_epoch: int, record: MessageRecord | None) -> ClaimOutcome:
        with self._lock:
            self._count("claim_slot")
            if record is not None:
                self._check_claim(record)
            pair = self.pairs.get((lease.provider_id, lease.client_id))
            if (pair.version if pair else None) != expected_pair_version:
                return ClaimOutcome.PAIR_CHANGED
            slot = self.slots.get((lease.provider_id, lease.pool_number))
            if slot is not None and slot.client_id != lease.client_id and slot.expires_at > now_epoch:
                return ClaimOutcome.SLOT_TAKEN
            self.pairs[(lease.provider_id, lease.client_id)] = replace(lease)
            self.slots[(lease.provider_id, lease.pool_number)] = replace(lease)
            if record is not None:
                self.messages[record.message_sid] = replace(record)
            return ClaimOutcome.CLAIMED

    def claim_message(self, record: MessageRecord) -> None:
        with self._lock:
            self._count("claim_message")
            self._check_claim(record)
            self.messages[record.message_sid] = replace(record)

    def set_message_outcome(self, message_sid: str, outcome: str, parts: list[ForwardedPart]) -> None:
        with self._lock:
            self._count("set_message_outcome")
            record = self.messages.get(message_sid)
            if record is not None:
                record.outcome = outcome
                record.forwarded = {part.sid: part.as_map() for part in parts}

    def create_client(self, client: Client) -> Client:
        with self._lock:
            self._count("create_client")
            existing = self.client_by_phone.get(client.phone)
            if existing is not None:
                return replace(self.clients[existing])
            self.clients[client.client_id] = replace(client)
            self.client_by_phone[client.phone] = client.client_id
            return replace(client)

    def set_opt_out(self, lease: Lease, party: Party, opted_out: bool) -> None:
        with self._lock:
            self._count("set_opt_out")
            field = "client_opted_out" if party == "client" else "provider_opted_out"
            for table, key in ((self.pairs, (lease.provider_id, lease.client_id)), (self.slots, (lease.provider_id, lease.pool_number))):
                stored = table.get(key)
                if stored is not None and stored.lease_id == lease.lease_id:
                    setattr(stored, field, opted_out)

    def expire_lease(self, lease: Lease, at_epoch: int) -> bool:
        with self._lock:
            self._count("expire_lease")
            pair = self.pairs.get((lease.provider_id, lease.client_id))
            slot = self.slots.get((lease.provider_id, lease.pool_number))
            if pair is None or slot is None or pair.lease_id != lease.lease_id or slot.lease_id != lease.lease_id:
                return False
            pair.expires_at = slot.expires_at = at_epoch
            return True

    # ---- allocation reads
    def pool_view(self, provider_id: str) -> PoolView:
        with self._lock:
            self._count("pool_view")
            ready = sorted(n.number for n in self.numbers.values() if n.lifecycle == Lifecycle.POOL and n.status == NumberStatus.READY)
            slots = {pool: replace(lease) for (pid, pool), lease in self.slots.items() if pid == provider_id}
            return PoolView(ready_numbers=ready, slots=slots)

    # ---- inventory and people
    def put_number(self, number: NumberRecord) -> None:
        with self._lock:
            self.numbers[number.number] = replace(number)

    def put_provider(self, provider: Provider) -> None:
        with self._lock:
            self.providers[provider.provider_id] = replace(provider)
            self.provider_by_phone[provider.phone] = provider.provider_id

    def put_client(self, client: Client) -> None:
        with self._lock:
            self.clients[client.client_id] = replace(client)
            self.client_by_phone[client.phone] = client.client_id

    def get_message(self, message_sid: str) -> MessageRecord | None:
        with self._lock:
            record = self.messages.get(message_sid)
            return replace(record) if record else None

    def record_delivery(self, update: DeliveryUpdate) -> bool:
        with self._lock:
            self._count("record_delivery")
            record = self.messages.get(update.message_sid)
            if record is None:
                return False
            current = record.delivery.get(update.outbound_sid)
            if current is not None and int(current["rank"]) >= update.rank:  # type: ignore[call-overload]
                return False
            record.delivery[update.outbound_sid] = update.entry()
            return True

    # ---- delivery failures
    def claim_resend(self, message_sid: str, part: ForwardedPart) -> bool:
        def first_attempt(record: MessageRecord) -> bool:
            known = record.forwarded.get(part.sid)
            if (known is not None and int(known.get("attempt", 1)) != 1) or part.sid in record.resends or record.erased_at:
                return False
            record.forwarded.setdefault(part.sid, part.as_map())  # a part only the plan knew (messaging.parts)
            return True

        return self._set_resend_if(message_sid, part.sid, first_attempt, "pending")

    def start_resend(self, message_sid: str, outbound_sid: str) -> bool:
        return self._set_resend_if(message_sid, outbound_sid, lambda record: record.resends.get(outbound_sid) == "pending", "sending")

    def _set_resend_if(self, message_sid: str, outbound_sid: str, condition: Callable[[MessageRecord], bool], state: str) -> bool:
        """The twin of the DynamoDB store's conditional update: ``state`` for the resend of
        ``outbound_sid`` when the message record meets ``condition``."""
        with self._lock:
            record = self.messages.get(message_sid)
            if record is None or not condition(record):
                return False
            record.resends[outbound_sid] = state
            return True

    def add_sent_part(self, message_sid: str, part: ForwardedPart) -> None:
        with self._lock:
            record = self.messages.get(message_sid)
            if record is not None and not record.erased_at:
                record.forwarded[part.sid] = part.as_map()

    def add_resent_part(self, message_sid: str, original_sid: str, part: ForwardedPart) -> None:
        with self._lock:
            record = self.messages[message_sid]
            if not record.erased_at:
                record.forwarded[part.sid] = part.as_map()
                record.resends[original_sid] = part.sid

    def record_permanent_failure(self, outbound_sid: str, at_epoch: int, window_seconds: int) -> int:
        with self._lock:
            self.failures.setdefault(outbound_sid, at_epoch)
            return sum(1 for at in self.failures.values() if at > at_epoch - window_seconds)

    def claim_owner_alert(self, at_epoch: int, window_seconds: int) -> bool:
        with self._lock:
            if self.owner_alerted_at is not None and self.owner_alerted_at > at_epoch - window_seconds:
                return False
            self.owner_alerted_at = at_epoch
            return True

    def increment_client_errors(self, client_id: str) -> int:
        with self._lock:
            if client_id not in self.clients:
                return 0
            self.client_errors[client_id] = self.client_errors.get(client_id, 0) + 1
            return self.client_errors[client_id]


class MemoryCallStore(MemoryRoutingStore):
    """The in-memory twin: the routing store plus the voice items, same conditions."""

    def __init__(self) -> None:
        super().__init__()
        self.answered_calls: dict[str, CallRecord] = {}
        self.call_sessions: dict[str, CallSession] = {}
        self.call_rates: dict[tuple[str, str], int] = {}

    # ---- people
    def get_provider(self, provider_id: str) -> Provider | None:
        with self._lock:
            provider = self.providers.get(provider_id)
            return replace(provider) if provider else None

    def get_client(self, client_id: str) -> Client | None:
        with self._lock:
            client = self.clients.get(client_id)
            return replace(client) if client else None

    def find_client(self, *, phone: str | None = None, external_id: str | None = None) -> Client | None:
        with self._lock:
            if external_id:
                for client in self.clients.values():
                    if client.external_id == external_id:
                        return replace(client)
            client_id = self.client_by_phone.get(phone) if phone else None
            return replace(self.clients[client_id]) if client_id else None

    # ---- inbound calls
    def lookup_call(self, to_number: str, from_phone: str, call_sid: str) -> tuple[InboundLookup, CallRecord | None]:
        lookup = self.lookup_inbound(to_number, from_phone)
        with self._lock:
            answered = self.answered_calls.get(call_sid)
            return lookup, (replace(answered) if answered else None)

    def touch_lease_for_call(self, lease: Lease, last_activity_at: str, expires_at: int, record: CallRecord) -> Lease:
        with self._lock:
            self._count("touch_lease_for_call")
            if record.call_sid in self.answered_calls:
                raise DuplicateCall(record.call_sid)
            touched = self._touch_unlocked(lease, last_activity_at, expires_at)
            self.answered_calls[record.call_sid] = replace(record)
            return touched

    def claim_call(self, record: CallRecord) -> None:
        with self._lock:
            self._count("claim_call")
            if record.call_sid in self.answered_calls:
                raise DuplicateCall(record.call_sid)
            self.answered_calls[record.call_sid] = replace(record)

    def get_call(self, call_sid: str) -> CallRecord | None:
        with self._lock:
            record = self.answered_calls.get(call_sid)
            return replace(record) if record else None

    def record_call_dial(self, call_sid: str, outcome: DialOutcome) -> CallRecord | None:
        with self._lock:
            record = self.answered_calls.get(call_sid)
            return replace(record) if record is not None and _first_dial(record, outcome) else None

    def update_call_once(self, call_sid: str, values: dict[str, object], once: str) -> CallRecord | None:
        with self._lock:
            record = self.answered_calls.get(call_sid)
            if record is None or getattr(record, once) is not None:
                return None
            for name, value in values.items():
                setattr(record, name, value)
            return replace(record)

    def list_calls(self, provider_id: str, client_id: str | None = None, limit: int = 50) -> list[CallRecord | CallSession]:
        with self._lock:
            found: list[tuple[str, CallRecord | CallSession]] = [
                (r.received_at, replace(r)) for r in self.answered_calls.values() if r.provider_id == provider_id
            ]
            found += [(s.created_at, replace(s)) for s in self.call_sessions.values() if s.provider_id == provider_id]
        found = [f for f in found if not client_id or f[1].client_id == client_id]
        return [call for _, call in sorted(found, key=lambda f: f[0], reverse=True)][:limit]

    # ---- click-to-call sessions
    def take_call_slot(self, provider_id: str, hour: str, limit: int, expires_at: int) -> int | None:
        with self._lock:
            current = self.call_rates.get((provider_id, hour), 0)
            if current >= limit:
                return None
            self.call_rates[(provider_id, hour)] = current + 1
            return current + 1

    def give_back_call_slot(self, provider_id: str, hour: str) -> None:
        with self._lock:
            if self.call_rates.get((provider_id, hour), 0) > 0:
                self.call_rates[(provider_id, hour)] -= 1

    def create_call_session(self, session: CallSession) -> None:
        with self._lock:
            if session.call_id in self.call_sessions:
                raise ValueError(f"call session {session.call_id} exists")
            self.call_sessions[session.call_id] = replace(session)

    def get_call_session(self, call_id: str) -> CallSession | None:
        with self._lock:
            session = self.call_sessions.get(call_id)
            return replace(session) if session else None

    def set_call_session_sid(self, call_id: str, call_sid: str) -> None:
        with self._lock:
            session = self.call_sessions.get(call_id)
            if session is not None and session.call_sid is None:
                session.call_sid = call_sid

    def update_call_status(self, change: StatusChange) -> CallSession | None:
        with self._lock:
            session = self.call_sessions.get(change.call_id)
            if session is None or session.status_rank >= change.rank:
                return None
            session.status, session.status_rank, session.updated_at = change.status, change.rank, change.at
            if change.call_sid and session.call_sid is None:
                session.call_sid = change.call_sid
            if change.duration is not None:
                session.duration = change.duration
            return replace(session)

    def record_session_dial(self, call_id: str, outcome: DialOutcome) -> CallSession | None:
        with self._lock:
            session = self.call_sessions.get(call_id)
            if session is None or not _first_dial(session, outcome):
                return None
            if outcome.dial_call_sid:
                session.dial_call_sid = outcome.dial_call_sid
            return replace(session)
