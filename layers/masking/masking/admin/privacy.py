"""Erasure: "delete my data" for a client or a provider, in DynamoDB and in the mirror.

``erase_client`` (``DELETE /clients/{id}``) and ``erase_provider_data``
(``DELETE /providers/{id}/data``, for a provider removed with ``DELETE /providers/{id}``
first):

1. close the person's leases and free their pool numbers;
2. delete the phone, name, message bodies and calls from DynamoDB (``masking.store.erasure``);
3. put erasure records on the outbox, so airtable_sync blanks the person's row and the
   Messages rows of the erased messages;
4. leave an audit row saying what was erased (counts and ids, never the data).

Both are idempotent: a second call erases what is left (usually nothing) and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from masking.admin.context import AdminContext
from masking.core.errors import Conflict, NotFound
from masking.core.models import Lease
from masking.mirror import rows
from masking.store.erasure import DynamoErasure
from masking.store.items import DynamoTable


@dataclass(slots=True)
class Erasure:
    kind: str  # client, provider
    id: str
    already_erased: bool
    leases_closed: list[str] = field(default_factory=list)
    pool_numbers_freed: int = 0
    message_bodies_erased: int = 0
    calls_erased: int = 0
    profile_erased: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _eraser(ctx: AdminContext) -> DynamoErasure:
    if not isinstance(ctx.store, DynamoTable):
        raise TypeError("erasure needs the DynamoDB store")
    return DynamoErasure(ctx.store)


def _erase_messages(ctx: AdminContext, eraser: DynamoErasure, party: str, party_id: str, erasure: Erasure) -> None:
    stamp = ctx.stamp()
    for sid in eraser.message_sids(party, party_id):
        eraser.blank_message(sid, stamp)
        ctx.records.append(rows.erased_message(sid, stamp))
        erasure.message_bodies_erased += 1


def _erase(
    ctx: AdminContext, eraser: DynamoErasure, erasure: Erasure, leases: Iterable[Lease], erase_profile: Callable[[str], object]
) -> None:
    """Closes the leases, blanks the message bodies, deletes the calls and (once) the profile of ``erasure``'s person."""
    for lease in leases:
        erasure.pool_numbers_freed += eraser.erase_pair(lease)
        erasure.leases_closed.append(lease.lease_id)
    _erase_messages(ctx, eraser, erasure.kind, erasure.id, erasure)
    for pointer in eraser.call_pointers(erasure.kind, erasure.id):
        eraser.erase_call(pointer)
        erasure.calls_erased += 1
    if not erasure.already_erased:
        erase_profile(ctx.stamp())
        erasure.profile_erased = True


def erase_client(ctx: AdminContext, client_id: str) -> Erasure:
    eraser = _eraser(ctx)
    client = ctx.store.get_client(client_id)
    if client is None:
        raise NotFound("no such client", {"client": client_id})
    erasure = Erasure("client", client_id, already_erased=eraser.erased_at("CLIENT", client_id) is not None)
    _erase(ctx, eraser, erasure, eraser.client_pairs(client_id), lambda stamp: eraser.erase_client_profile(client, stamp))
    ctx.records.append(rows.erased_client(client_id, ctx.stamp()))
    _audit(ctx, erasure, client_id=client_id)
    return erasure


def erase_provider_data(ctx: AdminContext, provider_id: str) -> Erasure:
    eraser = _eraser(ctx)
    provider = ctx.store.get_provider(provider_id)
    if provider is None:
        raise NotFound("no such provider", {"provider": provider_id})
    if provider.status != "Inactive":
        raise Conflict("remove the provider first (DELETE /providers/{id}): its number still routes", {"provider": provider_id})
    erasure = Erasure("provider", provider_id, already_erased=eraser.erased_at("PROVIDER", provider_id) is not None)
    _erase(ctx, eraser, erasure, ctx.store.provider_leases(provider_id), lambda stamp: eraser.erase_provider_profile(provider, stamp))
    ctx.records.append(rows.erased_provider(provider_id, ctx.stamp()))
    _audit(ctx, erasure, provider_id=provider_id)
    return erasure


def _audit(ctx: AdminContext, erasure: Erasure, provider_id: str | None = None, client_id: str | None = None) -> None:
    ctx.audit(
        f"{erasure.kind.capitalize()} data erased",
        f"Erased on request: {len(erasure.leases_closed)} lease(s) closed, {erasure.message_bodies_erased} message bod(ies), "
        f"{erasure.calls_erased} call(s), "
        f"profile {'erased' if erasure.profile_erased else 'already erased'}",
        "System",
        "Info",
        key=f"erase:{erasure.id}",
        provider_id=provider_id,
        client_id=client_id,
        leases_closed=erasure.leases_closed,
        pool_numbers_freed=erasure.pool_numbers_freed,
        message_bodies_erased=erasure.message_bodies_erased,
        calls_erased=erasure.calls_erased,
    )
