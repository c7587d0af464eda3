"""Client sync: upsert a client by external id (e.g. a Time To Pet id) or by phone."""

from __future__ import annotations

import uuid
from dataclasses import replace

from masking.admin.context import AdminContext
from masking.core.errors import Conflict, NotFound
from masking.core.models import NEW_CLIENT_NAME, Client


def upsert_client(
    ctx: AdminContext,
    phone: str,
    name: str | None = None,
    external_id: str | None = None,
    email: str | None = None,
    provider_id: str | None = None,
) -> tuple[Client, bool]:
    """``phone`` must be E.164 already. Returns ``(client, created)``."""
    by_external = ctx.store.find_client(external_id=external_id) if external_id else None
    by_phone = ctx.store.find_client(phone=phone)
    if by_external and by_phone and by_external.client_id != by_phone.client_id:
        raise Conflict("the phone belongs to another client than the external id", {"phone": phone, "external_id": external_id})
    existing = by_external or by_phone
    if existing is None:
        client = Client(
            client_id=f"CL{uuid.uuid4().hex}",
            name=name or NEW_CLIENT_NAME,
            phone=phone,
            external_id=external_id,
            email=email,
            created_at=ctx.stamp(),
        )
    else:
        client = replace(
            existing,
            phone=phone,
            name=name or existing.name,
            email=email or existing.email,
            external_id=external_id or existing.external_id,
        )
    if not ctx.store.save_client(client, existing):
        raise Conflict("the phone or external id was taken by another client meanwhile; try again", {"phone": phone})
    if existing is not None and (existing.phone != client.phone or existing.name != client.name):
        ctx.store.refresh_client_on_leases(client)
    ctx.mirror_client(client, provider_id)
    ctx.audit(
        "Client created" if existing is None else "Client updated",
        "Client sync",
        "Client Sync",
        "Info",
        key=client.client_id,
        provider_id=provider_id,
        client_id=client.client_id,
    )
    return client, existing is None


def resolve_client(ctx: AdminContext, reference: str, phone: str | None) -> Client:
    """A client by id, by external id, or by phone (E.164); creates one for an unknown phone."""
    client = ctx.store.get_client(reference) if reference else None
    client = client or (ctx.store.find_client(external_id=reference) if reference else None)
    if client is None and phone:
        client = ctx.store.find_client(phone=phone)
        if client is None:
            client, _ = upsert_client(ctx, phone)
    if client is None:
        raise NotFound("no such client", {"client": reference or phone})
    return client
