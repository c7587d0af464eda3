"""Pool-number allocation: which pool number a (provider, client) pair talks through.

Rules (docs/architecture.md, "Domain words"): a pool number is unique per provider, not globally; a pair keeps
its pool number when it talks again (sticky) if that number is free; a lease expires
after ``ttl`` idle and its number becomes free for that provider. Races are settled by
the store's conditional writes: two messages can both *choose* a number, only one
*claims* it, and the other moves on to the next candidate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from masking.core.errors import LeaseConflict, StoreBusy
from masking.core.models import NEW_CLIENT_NAME, ClaimOutcome, Client, Lease, MessageRecord, PoolView, iso
from masking.core.ports import RoutingStore

MAX_ATTEMPTS = 8


def create_client_from_phone(store: RoutingStore, phone: str, stamp: str) -> tuple[Client, bool]:
    """The client a phone belongs to, created (named "New client") when it is new to us,
    and whether this call created it. Two first messages at once create one client: the
    store keeps the first, and only the request whose candidate was kept gets ``True``
    (so only it writes the "Client created" audit row)."""
    candidate = Client(client_id=f"CL{uuid.uuid4().hex}", name=NEW_CLIENT_NAME, phone=phone, created_at=stamp)
    client = store.create_client(candidate)
    return client, client.client_id == candidate.client_id


def new_lease_id() -> str:
    return f"LS{uuid.uuid4().hex}"


def next_lease(
    provider_id: str,
    client: Client,
    pool_number: str,
    pair: Lease | None,
    stamp: str,
    expires_at: int,
    provider_opted_out: bool = False,
) -> Lease:
    """The lease that follows ``pair`` (None: the pair's first) on ``pool_number``."""
    return Lease(
        provider_id=provider_id,
        client_id=client.client_id,
        pool_number=pool_number,
        client_phone=client.phone,
        client_name=client.name,
        lease_id=new_lease_id(),
        started_at=stamp,
        last_activity_at=stamp,
        expires_at=expires_at,
        version=(pair.version + 1) if pair is not None else 1,
        # a client's STOP is about the reserved number: it outlives the lease
        client_opted_out=pair.client_opted_out if pair is not None else False,
        provider_opted_out=provider_opted_out,
    )


def candidate_numbers(view: PoolView, client_id: str, pair: Lease | None, now_epoch: int, cool_off_seconds: int = 0) -> list[str]:
    """Ready pool numbers this client may take, best first.

    Sticky number first, then numbers this provider has never used, then numbers whose
    lease expired, the longest idle first (so a recently expired pair can still get its
    number back). A number another client's lease left less than ``cool_off_seconds`` ago
    comes last (a reply typed into the old thread would reach the new client).
    """
    sticky: list[str] = []
    unused: list[str] = []
    expired: list[tuple[int, str]] = []
    cooling: list[tuple[int, str]] = []
    for number in view.ready_numbers:
        slot = view.slots.get(number)
        if slot is not None and slot.client_id != client_id and slot.expires_at > now_epoch:
            continue  # held by another active client of this provider
        if pair is not None and number == pair.pool_number:
            sticky.append(number)
        elif slot is None:
            unused.append(number)
        elif slot.client_id != client_id and slot.expires_at > now_epoch - cool_off_seconds:
            cooling.append((slot.expires_at, number))
        else:
            expired.append((slot.expires_at, number))
    return sticky + unused + [number for _, number in sorted(expired)] + [number for _, number in sorted(cooling)]


def in_cool_off(slot: Lease | None, client_id: str, now_epoch: int, cool_off_seconds: int) -> bool:
    """Whether taking this slot's number reuses another client's number inside the cool-off."""
    return slot is not None and slot.client_id != client_id and slot.expires_at > now_epoch - cool_off_seconds


def acquire_lease(
    store: RoutingStore,
    provider_id: str,
    client: Client,
    pair: Lease | None,
    now: datetime,
    ttl: timedelta,
    record: MessageRecord | None,
    cool_off_seconds: int = 0,
    on_reuse: Callable[[Lease], None] | None = None,
    plan: Callable[[Lease, bool, bool], None] | None = None,
) -> tuple[Lease | None, bool]:
    """Extends the pair's active lease or allocates a new one, recording ``record``.

    Returns ``(lease, created)``; ``(None, False)`` when every Ready pool number is held
    by another active client of this provider (pool exhausted). Raises DuplicateMessage
    when the MessageSid was processed already. ``on_reuse`` hears of a number taken from
    another client inside the cool-off (with that client's old slot). ``plan(lease,
    created, reused)`` runs before each write of ``record``, so what the record plans to
    send on that lease is written with it (``masking.messaging.parts``).
    """
    now_epoch = int(now.timestamp())
    expires_at = int((now + ttl).timestamp())
    stamp = iso(now)
    for _ in range(MAX_ATTEMPTS):
        if pair is not None and pair.is_active(now):
            try:
                if plan is not None:
                    plan(pair, False, False)
                return store.touch_lease(pair, stamp, expires_at, record), False
            except LeaseConflict:
                pair = store.get_provider_and_pair(provider_id, client.client_id)[1]
                continue
        view = store.pool_view(provider_id)
        candidates = candidate_numbers(view, client.client_id, pair, now_epoch, cool_off_seconds)
        if not candidates:
            return None, False
        for number in candidates:
            # a provider's STOP is about one pool number: it stays with that number only
            opted_out = bool(pair and pair.pool_number == number and pair.provider_opted_out)
            lease = next_lease(provider_id, client, number, pair, stamp, expires_at, provider_opted_out=opted_out)
            previous = view.slots.get(number)
            reused = in_cool_off(previous, client.client_id, now_epoch, cool_off_seconds)
            if plan is not None:
                plan(lease, True, reused)
            outcome = store.claim_slot(lease, pair.version if pair is not None else None, now_epoch, record)
            if outcome is ClaimOutcome.CLAIMED:
                if on_reuse is not None and previous is not None and reused:
                    on_reuse(previous)
                return lease, True
            if outcome is ClaimOutcome.PAIR_CHANGED:
                break
        pair = store.get_provider_and_pair(provider_id, client.client_id)[1]
    # only reachable under sustained contention: the webhook answers 500 and Twilio calls the
    # fallback URL, whose consumer routes the message again later
    raise StoreBusy(f"could not settle a lease for provider {provider_id} after {MAX_ATTEMPTS} attempts")
