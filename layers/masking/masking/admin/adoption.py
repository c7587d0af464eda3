"""Adopting what exists: numbers the account already owns, providers that already have
one, leases that already run elsewhere (a Twilio Proxy Service), and assigning a given
number to a provider (the legacy ``POST /attach-number``).

The same store operations and mirror records as the admin flows (``masking.admin.provisioning``,
``masking.admin.numbers``): numbers through ``create_number`` / ``assign_number`` (optimistic,
conditional, with the provider in the same transaction), providers through ``create_provider``, leases through
``claim_slot`` (the conditional write that keeps a pool number unique per provider).
Every function is idempotent: run twice, the second run reports ``unchanged``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from masking.admin.clients import upsert_client
from masking.admin.context import AdminContext
from masking.admin.numbers import CATEGORY_BY_LIFECYCLE, PURPOSE_BY_LIFECYCLE
from masking.core.errors import Conflict, NotFound
from masking.core.leases import next_lease
from masking.core.models import ClaimOutcome, Lease, Lifecycle, NumberRecord, NumberStatus, Provider, iso

Change = Literal["registered", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class Adopted:
    number: NumberRecord
    change: Change
    what: str  # human words for the report ("registered", "Twilio SID recorded", ...)


def adopt_number(ctx: AdminContext, number: str, twilio_sid: str, lifecycle: Lifecycle, provider_id: str | None = None) -> Adopted:
    """Registers a number the account owns as Ready ``lifecycle`` (Reserved: of ``provider_id``).

    A number we already know keeps its lifecycle and provider; only a missing or stale
    Twilio SID and a Pending/Failed attach (its webhooks were just pointed at us) change.
    """
    provider = None
    if provider_id:
        provider = ctx.store.get_provider(provider_id)
        if provider is None:
            raise NotFound("no such provider", {"provider": provider_id, "number": number})
        if provider.reserved_number and provider.reserved_number != number:
            raise Conflict("the provider has another reserved number", {"provider": provider_id, "number": number})
    existing = ctx.store.get_number(number)
    if existing is None and lifecycle == Lifecycle.RESERVED and not provider_id:
        raise Conflict("a reserved number needs its provider", {"number": number})
    if existing is None:
        stamp = ctx.stamp()
        record = NumberRecord(
            number=number,
            lifecycle=lifecycle,
            status=NumberStatus.READY,
            provider_id=provider_id if lifecycle == Lifecycle.RESERVED else None,
            twilio_sid=twilio_sid,
            purpose=PURPOSE_BY_LIFECYCLE[lifecycle],
            attach_status="Ready",
            verification_status="Not Sent",
            updated_at=stamp,
        )
        if not ctx.store.create_number(record):
            raise Conflict("the number was registered meanwhile; run again", {"number": number})
        _link_provider(ctx, provider, number)
        ctx.mirror_number(record)
        ctx.audit(
            "Number adopted",
            f"An existing Twilio number was registered as {lifecycle.value}",
            CATEGORY_BY_LIFECYCLE[lifecycle],
            "Info",
            key=number,
            provider_id=record.provider_id,
            number=number,
        )
        return Adopted(record, "registered", "registered")
    changes = []
    updated = existing
    if existing.twilio_sid != twilio_sid:
        updated = replace(updated, twilio_sid=twilio_sid)
        changes.append("Twilio SID recorded")
    if existing.status != NumberStatus.READY or existing.attach_status != "Ready":
        updated = replace(updated, status=NumberStatus.READY, attach_status="Ready")
        changes.append(f"{existing.status} -> Ready")
    if not changes:
        _link_provider(ctx, provider if existing.provider_id == provider_id else None, number)
        return Adopted(existing, "unchanged", "")
    updated = replace(updated, updated_at=ctx.stamp())
    if not ctx.store.assign_number(existing, updated):
        raise Conflict("the number changed meanwhile; run again", {"number": number})
    ctx.mirror_number(updated)
    ctx.audit("Number adopted", "; ".join(changes), CATEGORY_BY_LIFECYCLE[updated.lifecycle], "Info", key=number, number=number)
    return Adopted(updated, "updated", ", ".join(changes))


def _link_provider(ctx: AdminContext, provider: Provider | None, number: str) -> None:
    if provider is None or provider.reserved_number == number:
        return
    linked = replace(provider, reserved_number=number, status="Active", provisioning_status="Active")
    ctx.store.save_provider(linked)
    ctx.mirror_provider(linked)


def adopt_provider(ctx: AdminContext, name: str, phone: str, reserved_number: str, provider_id: str | None = None) -> tuple[Provider, bool]:
    """The provider with this phone, or a new one whose reserved number is ``reserved_number``
    (which it already has at Twilio: nothing is bought). Returns ``(provider, created)``."""
    known_id = ctx.store.find_provider_id_by_phone(phone)
    if known_id is not None:
        known = ctx.store.get_provider(known_id)
        if known is None:
            raise NotFound("the provider's phone index points nowhere", {"provider": known_id})
        return known, False
    provider = Provider(
        provider_id=provider_id or f"PR{uuid.uuid4().hex}",
        name=name,
        phone=phone,
        reserved_number=None,  # set when its number is adopted
        status="Active",
        provisioning_status="Active",
        created_at=ctx.stamp(),
    )
    if not ctx.store.create_provider(provider):
        raise Conflict("the phone got a provider meanwhile; run again", {"provider": provider.provider_id})
    ctx.mirror_provider(provider)
    ctx.audit(
        "Provider adopted",
        f"Provider {name} registered with an existing number",
        "Provisioning",
        "Info",
        key=provider.provider_id,
        provider_id=provider.provider_id,
    )
    return provider, True


LeaseChange = Literal["created", "unchanged", "conflict"]


def import_lease(
    ctx: AdminContext, provider: Provider, client_phone: str, client_name: str | None, pool_number: str, ttl_days: float | None = None
) -> tuple[Lease | None, LeaseChange, str]:
    """Opens the lease (provider, client) on exactly ``pool_number``, so a thread that ran
    through another system continues on the provider's phone. Returns (lease, change, why)."""
    pool = ctx.store.get_number(pool_number)
    if pool is None or pool.lifecycle != Lifecycle.POOL or pool.status != NumberStatus.READY:
        return None, "conflict", "not a Ready pool number"
    client = ctx.store.find_client(phone=client_phone)
    if client is None:
        client, _ = upsert_client(ctx, client_phone, client_name, provider_id=provider.provider_id)
    now = ctx.now()
    for _ in range(3):
        _, pair = ctx.store.get_provider_and_pair(provider.provider_id, client.client_id)
        if pair is not None and pair.is_active(now):
            if pair.pool_number == pool_number:
                return pair, "unchanged", ""
            return pair, "conflict", "the pair already talks through another pool number"
        expires_at = int((now + timedelta(days=ttl_days or ctx.routing.lease_ttl_days)).timestamp())
        lease = next_lease(provider.provider_id, client, pool_number, pair, iso(now), expires_at)
        outcome = ctx.store.claim_slot(lease, pair.version if pair is not None else None, int(now.timestamp()), None)
        if outcome is ClaimOutcome.CLAIMED:
            from masking.admin.sessions import audit_lease

            audit_lease(ctx, lease, "Lease imported", "An open Twilio Proxy session became a lease on the same pool number", lease.lease_id)
            return lease, "created", ""
        if outcome is ClaimOutcome.SLOT_TAKEN:
            return None, "conflict", "another client of this provider holds that pool number"
    return None, "conflict", "the pair kept changing"


def assign_reserved_number(ctx: AdminContext, provider_id: str, number: str, webhook_base: str) -> tuple[Provider, NumberRecord, bool]:
    """Makes ``number`` (a standby or free reserved number in the inventory) the provider's
    reserved number and attaches it (webhooks, Messaging Service, verification SMS).
    Returns ``(provider, number, changed)``; the same call twice changes nothing."""
    from masking.admin.numbers import attach_number
    from masking.admin.provisioning import get_provider

    provider = get_provider(ctx, provider_id)
    if provider.status == "Inactive":
        raise Conflict("the provider is inactive", {"provider": provider_id})
    stored = ctx.store.get_number(number)
    if stored is None:
        raise NotFound("no such number in the inventory", {"number": number})
    if stored.lifecycle == Lifecycle.RESERVED and stored.provider_id == provider_id and provider.reserved_number == number:
        return provider, stored, False
    if provider.reserved_number and provider.reserved_number != number:
        raise Conflict("the provider has another reserved number; rotate it instead", {"provider": provider_id})
    if stored.lifecycle == Lifecycle.POOL or (stored.provider_id and stored.provider_id != provider_id):
        raise Conflict("the number is a pool number or another provider's", {"number": number})
    assigned = replace(stored, lifecycle=Lifecycle.RESERVED, provider_id=provider_id, purpose="Sitter Assignment", updated_at=ctx.stamp())
    updated = replace(provider, reserved_number=number, status="Active", provisioning_status="Active")
    if not ctx.store.assign_number(stored, assigned, updated):
        raise Conflict("the number changed meanwhile; try again", {"number": number})
    ctx.mirror_provider(updated)
    ctx.audit(
        "Number assigned",
        "A given number became the provider's reserved number",
        "Provisioning",
        "Info",
        key=provider_id,
        provider_id=provider_id,
        number=number,
    )
    attached = attach_number(ctx, number, webhook_base) if assigned.twilio_sid else assigned
    if not assigned.twilio_sid:
        ctx.mirror_number(assigned)
    return updated, attached, True


# ---------------------------------------------------------------- Airtable record ids

# The old Zaps send a sitter as its Airtable record id (rec...). tools.airtable_import keeps
# record id -> provider id in one item per sitter: pk AIRTABLEREC#<record id>, sk PROVIDER.


def _alias_key(record_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"AIRTABLEREC#{record_id}"}, "sk": {"S": "PROVIDER"}}


def save_provider_alias(store: Any, record_id: str, provider_id: str) -> bool:
    """Remembers that Sitters row ``record_id`` is provider ``provider_id``; True if it changed."""
    item = store.client.get_item(TableName=store.table_name, Key=_alias_key(record_id), ConsistentRead=True).get("Item")
    if item and item.get("provider_id", {}).get("S") == provider_id:
        return False
    store.client.put_item(
        TableName=store.table_name,
        Item={**_alias_key(record_id), "provider_id": {"S": provider_id}, "entity": {"S": "airtable_alias"}},
    )
    return True


def resolve_provider_reference(store: Any, reference: str) -> str:
    """A provider id, or a Sitters record id (``rec...``) the import mapped; NotFound otherwise."""
    if store.get_provider(reference) is not None:
        return reference
    if reference.startswith("rec"):
        item = store.client.get_item(TableName=store.table_name, Key=_alias_key(reference), ConsistentRead=True).get("Item")
        if item:
            return str(item["provider_id"]["S"])
        if store.get_provider(f"PR{reference}") is not None:  # the import's id for a row without "Provider ID"
            return f"PR{reference}"
    raise NotFound("no such provider", {"provider": reference})
