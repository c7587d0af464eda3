"""Providers: create (Path A: a Ready standby number; Path B: buy one), remove (Path C:
the reserved number goes back to standby, or is held for a successor first:
``masking.admin.handover``), rotate, and keep a standby number ready.

docs/architecture.md, "Operations". Creating is idempotent on the provider's phone:
the same phone twice is one provider, and a provider left without a number by a failed
purchase is provisioned again by the next create.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Literal, NamedTuple

from masking.admin.context import AdminContext
from masking.admin.handover import check_successor, pass_on_handovers, start_handover
from masking.admin.numbers import purchase_and_attach
from masking.admin.sessions import end_lease
from masking.core.errors import AdminError, Conflict, NotFound, UpstreamError
from masking.core.models import Lifecycle, NumberRecord, NumberStatus, Provider
from masking.core.observability import count, logger


def get_provider(ctx: AdminContext, provider_id: str) -> Provider:
    provider = ctx.store.get_provider(provider_id)
    if provider is None:
        raise NotFound("no such provider", {"provider": provider_id})
    return provider


class Provisioned(NamedTuple):
    """What ``create_provider`` did: the provider, whether it is new, and the path taken
    (``A`` a Ready standby number assigned, ``B`` a number bought, ``existing`` the phone
    had a provider with a number already)."""

    provider: Provider
    created: bool
    path: Literal["A", "B", "existing"]


def create_provider(ctx: AdminContext, name: str, phone: str, email: str | None, webhook_base: str) -> Provisioned:
    """Creates a provider (idempotent on the phone) and provisions a reserved number (Path A or B)."""
    existing_id = ctx.store.find_provider_id_by_phone(phone)
    if existing_id is None:
        provider = Provider(
            provider_id=f"PR{uuid.uuid4().hex}",
            name=name,
            phone=phone,
            email=email,
            provisioning_status="Pending",
            created_at=ctx.stamp(),
        )
        if ctx.store.create_provider(provider):
            ctx.mirror_provider(provider)
            ctx.audit(
                "Provider created",
                f"Provider {name} created",
                "Provisioning",
                "Info",
                key=provider.provider_id,
                provider_id=provider.provider_id,
            )
            provisioned, path = provision_reserved_number(ctx, provider, webhook_base)
            return Provisioned(provisioned, True, path)
        existing_id = ctx.store.find_provider_id_by_phone(phone)  # created by a concurrent request
    existing = get_provider(ctx, existing_id or "")
    if existing.reserved_number:
        return Provisioned(existing, False, "existing")
    provisioned, path = provision_reserved_number(ctx, existing, webhook_base)
    return Provisioned(provisioned, False, path)


def provision_reserved_number(
    ctx: AdminContext, provider: Provider, webhook_base: str, replenish: bool = True
) -> tuple[Provider, Literal["A", "B"]]:
    """Gives ``provider`` a new reserved number: a Ready standby one (Path A, then the
    standby is replenished) or a bought one (Path B: Pending -> attach -> Ready)."""
    for standby in ctx.store.list_numbers(Lifecycle.STANDBY, NumberStatus.READY):
        if standby.provider_id:
            continue
        assigned = replace(standby, lifecycle=Lifecycle.RESERVED, provider_id=provider.provider_id, updated_at=ctx.stamp())
        updated = replace(provider, reserved_number=standby.number, provisioning_status="Active", status="Active")
        if ctx.store.assign_number(standby, assigned, updated):
            count("ProvidersProvisionedFromStandby")
            path_a = "Path A: a Ready standby number became the provider's reserved number"
            _assigned(ctx, assigned, updated, "Standby number assigned", path_a)
            if replenish:
                ensure_standby(ctx, webhook_base)
            return updated, "A"
    try:
        number = purchase_and_attach(ctx, Lifecycle.RESERVED, webhook_base)
    except AdminError as error:
        _provisioning_failed(ctx, provider, error.message)
        raise
    if number.status != NumberStatus.READY:
        _provisioning_failed(ctx, provider, "the new number could not be attached")
        raise UpstreamError("bought a reserved number but could not attach it; it is marked Failed", {"number": number.number})
    assigned = replace(number, provider_id=provider.provider_id, updated_at=ctx.stamp())
    updated = replace(provider, reserved_number=number.number, provisioning_status="Active", status="Active")
    if not ctx.store.assign_number(number, assigned, updated):
        raise Conflict("the new number changed while it was being assigned; try again", {"number": number.number})
    count("ProvidersProvisionedByPurchase")
    _assigned(ctx, assigned, updated, "Reserved number bought", "Path B: no standby number was Ready; bought, attached and assigned one")
    return updated, "B"


def _assigned(ctx: AdminContext, number: NumberRecord, provider: Provider, event: str, description: str) -> None:
    """Mirrors and audits a reserved number just assigned to ``provider``."""
    ctx.mirror_number(number)
    ctx.mirror_provider(provider)
    ctx.audit(event, description, "Provisioning", "Info", key=provider.provider_id, provider_id=provider.provider_id, number=number.number)


def _provisioning_failed(ctx: AdminContext, provider: Provider, reason: str) -> None:
    failed = replace(provider, provisioning_status="Error")
    ctx.store.save_provider(failed)
    ctx.mirror_provider(failed)
    ctx.audit("Provisioning failed", reason, "Provisioning", "Error", key=provider.provider_id, provider_id=provider.provider_id)


def ensure_standby(ctx: AdminContext, webhook_base: str) -> bool:
    """Buys one standby number when none is Ready or Pending. Failures are audited, not
    raised: the provider that triggered it is already provisioned. True if one was bought."""
    spare = [
        n for n in ctx.store.list_numbers(Lifecycle.STANDBY) if n.status in (NumberStatus.READY, NumberStatus.PENDING) and not n.provider_id
    ]
    if spare:
        return False
    try:
        purchase_and_attach(ctx, Lifecycle.STANDBY, webhook_base)
    except AdminError as error:
        logger.warning("standby replenishment failed", extra={"reason": error.message})
        ctx.audit("Standby replenishment failed", error.message, "Standby", "Error", key="standby", details=error.details)
        return False
    return True


def remove_provider(ctx: AdminContext, provider_id: str, successor: str | None = None) -> Provider:
    """Path C: close the provider's leases, return the reserved number to standby. With a
    ``successor`` (and ``HANDOVER_DAYS`` > 0) the number is held for the handover first."""
    provider = get_provider(ctx, provider_id)
    if provider.status == "Inactive":
        return provider
    taking_over = check_successor(ctx, provider_id, successor) if successor else None
    closed = 0
    for lease in ctx.store.provider_leases(provider_id):
        if lease.is_active(ctx.now()):
            closed += end_lease(ctx, lease, "Provider removed")
    removed = replace(provider, status="Inactive", provisioning_status="Inactive", reserved_number=None)
    held = start_handover(ctx, provider, taking_over) if taking_over and ctx.routing.handover_days > 0 else None
    if held is None:
        _return_to_standby(ctx, provider)
    pass_on_handovers(ctx, provider_id, taking_over)
    ctx.store.deactivate_provider(removed)
    ctx.mirror_provider(removed)
    number_went = f"reserved number held for {taking_over.name} (handover)" if held and taking_over else "reserved number back to standby"
    ctx.audit(
        "Provider removed",
        f"Path C: {closed} lease(s) closed, {number_went}",
        "Provisioning",
        "Info",
        key=provider_id,
        provider_id=provider_id,
        number=provider.reserved_number,
        **({"successor": taking_over.provider_id} if taking_over else {}),
    )
    return removed


def rotate_number(ctx: AdminContext, provider_id: str, webhook_base: str) -> Provider:
    """A new reserved number for the provider; the old one goes to standby."""
    provider = get_provider(ctx, provider_id)
    if provider.status == "Inactive":
        raise Conflict("the provider is inactive", {"provider": provider_id})
    rotated, _ = provision_reserved_number(ctx, provider, webhook_base, replenish=False)
    _return_to_standby(ctx, provider)
    pass_on_handovers(ctx, provider_id, rotated)  # numbers handed over to them name the new number
    ctx.audit(
        "Number rotated",
        "The provider got a new reserved number; the old one is standby",
        "Provisioning",
        "Info",
        key=provider_id,
        provider_id=provider_id,
        old_number=provider.reserved_number,
        new_number=rotated.reserved_number,
    )
    return rotated


def _return_to_standby(ctx: AdminContext, provider: Provider) -> None:
    if not provider.reserved_number:
        return
    number = ctx.store.get_number(provider.reserved_number)
    if number is None or number.provider_id != provider.provider_id:
        return
    standby = replace(number, lifecycle=Lifecycle.STANDBY, provider_id=None, updated_at=ctx.stamp())
    if ctx.store.assign_number(number, standby):
        ctx.mirror_number(standby)
