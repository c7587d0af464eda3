"""Handover when a provider leaves with a successor (the inbound side is ``masking.core.handover``).

- ``check_successor``: the successor must exist (404), be another provider and be active
  with a reserved number (422), before anything changes.
- ``start_handover``: the departing provider's reserved number takes the lifecycle
  ``Handover`` for ``HANDOVER_DAYS`` instead of going to standby, with the successor's id,
  name and masked reserved number on the number item (the webhooks read nothing else).
- ``pass_on_handovers``: numbers handed over *to* a provider follow that provider: to their
  new reserved number when it is rotated, to their own successor when they leave with one,
  and back to standby when they leave without one.
- ``release_ended_handovers`` (the standby keeper, before it decides to buy): every
  handover past its end goes back to standby, once: each change is a conditional write on
  the number (``assign_number``), so overlapping runs release a number once.

Every change is mirrored (the Number Inventory row: Status and Lifecycle ``Handover``, then
``Standby Reserved`` / ``Standby``) and audited.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from masking.admin.adoption import resolve_provider_reference
from masking.admin.context import AdminContext
from masking.core.errors import NotFound, Unprocessable
from masking.core.models import Lifecycle, NumberRecord, Provider, iso
from masking.core.observability import count
from masking.mirror.outbox import Category


def _invalid(problem: str) -> Unprocessable:
    return Unprocessable("invalid successor", [{"field": "successor", "problem": problem}])


def check_successor(ctx: AdminContext, provider_id: str, reference: str) -> Provider:
    """The successor named by ``reference`` (a provider id, or a Sitters record id the
    import mapped): NotFound, or Unprocessable when it cannot take the clients over."""
    try:
        successor_id = resolve_provider_reference(ctx.store, reference)
    except NotFound:
        raise NotFound("no such successor", {"successor": reference}) from None
    successor = ctx.store.get_provider(successor_id)
    if successor is None:
        raise NotFound("no such successor", {"successor": reference})
    if successor.provider_id == provider_id:
        raise _invalid("a provider cannot be their own successor")
    if successor.status == "Inactive":
        raise _invalid("the successor is inactive")
    if not successor.reserved_number:
        raise _invalid("the successor has no reserved number yet")
    return successor


def _pointing_at(number: NumberRecord, successor: Provider) -> NumberRecord:
    return replace(
        number,
        successor_id=successor.provider_id,
        successor_name=successor.name,
        successor_number=successor.reserved_number,
    )


def _change(
    ctx: AdminContext,
    number: NumberRecord,
    new: NumberRecord,
    metric: str,
    event: str,
    description: str,
    category: Category,
    **details: str | None,
) -> bool:
    """Writes ``new`` over ``number`` if it is unchanged meanwhile (``assign_number``), then
    counts, mirrors and audits it; True for the one caller that changed it."""
    if not ctx.store.assign_number(number, new):
        return False
    count(metric)
    ctx.mirror_number(new)
    ctx.audit(event, description, category, "Info", key=number.number, provider_id=number.provider_id, number=number.number, **details)
    return True


def start_handover(ctx: AdminContext, provider: Provider, successor: Provider) -> NumberRecord | None:
    """Holds ``provider``'s reserved number for ``successor``; None when it has none (or
    it changed meanwhile): the caller then returns it to standby as before."""
    number = ctx.store.get_number(provider.reserved_number) if provider.reserved_number else None
    if number is None or number.provider_id != provider.provider_id:
        return None
    until = ctx.now() + timedelta(days=ctx.routing.handover_days)
    held = replace(
        _pointing_at(number, successor), lifecycle=Lifecycle.HANDOVER, handover_until=int(until.timestamp()), updated_at=ctx.stamp()
    )
    described = f"{provider.name}'s clients are pointed to {successor.name} until {iso(until)}; then the number goes to standby"
    mode = ctx.routing.handover_mode
    if not _change(
        ctx,
        number,
        held,
        "HandoversStarted",
        "Handover started",
        described,
        "Provisioning",
        successor=successor.provider_id,
        until=iso(until),
        mode=mode,
    ):
        return None
    return held


def pass_on_handovers(ctx: AdminContext, provider_id: str, successor: Provider | None) -> int:
    """Numbers handed over to ``provider_id`` now point to ``successor`` (the same provider
    after a rotation, or the one taking over), or end when there is none. Returns how many."""
    changed = 0
    for number in ctx.store.list_numbers(Lifecycle.HANDOVER):
        if number.successor_id != provider_id:
            continue
        if successor is None:
            changed += end_handover(ctx, number, "The successor left without a successor of their own")
            continue
        pointed = _pointing_at(number, successor)
        if pointed != number:
            described = f"The number now points to {successor.name} at their reserved number"
            moved = replace(pointed, updated_at=ctx.stamp())
            changed += _change(
                ctx, number, moved, "HandoversPassedOn", "Handover passed on", described, "Provisioning", successor=successor.provider_id
            )
    return changed


def end_handover(ctx: AdminContext, number: NumberRecord, reason: str) -> bool:
    """The number back to standby, once (a conditional write); True for the caller that did it."""
    standby = replace(
        number,
        lifecycle=Lifecycle.STANDBY,
        provider_id=None,
        successor_id=None,
        successor_name=None,
        successor_number=None,
        handover_until=None,
        updated_at=ctx.stamp(),
    )
    return _change(
        ctx,
        number,
        standby,
        "HandoversEnded",
        "Handover ended",
        f"{reason}; the number is standby again",
        "Standby",
        successor=number.successor_id,
    )


def release_ended_handovers(ctx: AdminContext) -> int:
    """Every number whose handover is over goes back to standby; returns how many."""
    now = int(ctx.now().timestamp())
    released = 0
    for number in ctx.store.list_numbers(Lifecycle.HANDOVER):
        if (number.handover_until or 0) <= now:
            released += end_handover(ctx, number, "The handover period is over")
    return released
