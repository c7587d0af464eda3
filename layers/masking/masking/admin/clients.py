"""Client sync: upsert a client by external id (e.g. a Time To Pet id) or by phone; and the
one place a client reference is resolved (``find_client_by_reference``, ``resolve_client``)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Protocol

from masking.admin.context import AdminContext
from masking.core.errors import Conflict, NotFound
from masking.core.models import NEW_CLIENT_NAME, Client
from masking.core.phones import InvalidPhoneNumber, normalize_e164


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


class ClientLookup(Protocol):
    def get_client(self, client_id: str) -> Client | None: ...

    def find_client(self, *, phone: str | None = None, external_id: str | None = None) -> Client | None: ...


def as_phone(reference: str) -> str | None:
    """``reference`` as an E.164 phone if it reads as one written any way people type it
    ("(303) 555-0201", "303.555.0201", "+1 303 555 0201"), else None."""
    text = reference.strip()
    if not any(char in "0123456789" for char in text) or len(text) > 40:
        return None
    try:
        return normalize_e164(text)
    except InvalidPhoneNumber:
        return None


def find_client_by_reference(store: ClientLookup, reference: str) -> Client | None:
    """The one way every admin route reads a client reference: an id, an external id
    (Time To Pet), or a phone written any way people type it."""
    ref = (reference or "").strip()
    if not ref:
        return None
    client = store.get_client(ref) or store.find_client(external_id=ref)
    if client is None:
        phone = as_phone(ref)
        client = store.find_client(phone=phone) if phone else None
    return client


def resolve_client(ctx: AdminContext, reference: str, phone: str | None) -> Client:
    """A client by reference (``find_client_by_reference``), else by ``phone`` (E.164
    already: the request models normalize it), created for an unknown phone. Sessions and
    calls both resolve ``client`` / ``client_phone`` here."""
    client = find_client_by_reference(ctx.store, reference)
    if client is None and phone:
        client = ctx.store.find_client(phone=phone)
        if client is None:
            client, _ = upsert_client(ctx, phone)
    if client is None:
        raise NotFound("no such client", {"client": reference or None})
    return client
