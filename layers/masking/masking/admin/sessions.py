"""Sessions (leases) through the admin API: open one so a provider can start the
conversation, read, list and close them. Allocation is the same as for SMS
(``masking.core.leases``), so an API-opened lease and a message-opened one are one thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from masking.admin.context import AdminContext
from masking.core.errors import Conflict, NotFound
from masking.core.leases import acquire_lease
from masking.core.models import Client, Lease, OutboundSms, Provider, iso
from masking.core.observability import count
from masking.core.ports import SendError
from masking.mirror import rows

NOTIFY_TEXT = "You can reach {client} at this number ({pool_number}). Texts you send here go to them."


@dataclass(slots=True)
class SessionView:
    lease: Lease
    active: bool
    created: bool = False
    notified: bool | None = None

    def as_dict(self) -> dict[str, object]:
        lease = self.lease
        return {
            "id": lease.lease_id,
            "provider_id": lease.provider_id,
            "client_id": lease.client_id,
            "client_name": lease.client_name,
            "pool_number": lease.pool_number,
            "started_at": lease.started_at,
            "last_activity_at": lease.last_activity_at,
            "expires_at": iso(datetime.fromtimestamp(lease.expires_at, UTC)),
            "active": self.active,
            "created": self.created,
            "notified": self.notified,
        }


def open_session(
    ctx: AdminContext, provider: Provider, client: Client, ttl_days: float | None, notify: bool, webhook_base: str = ""
) -> SessionView:
    """Returns the pair's active lease, or allocates one (idempotent per pair). ``webhook_base``:
    where the notice's delivery status is reported."""
    if provider.status != "Active" or not provider.reserved_number:
        raise Conflict("the provider has no active reserved number", {"provider": provider.provider_id})
    now = ctx.now()
    _, pair = ctx.store.get_provider_and_pair(provider.provider_id, client.client_id)
    if pair is not None and pair.is_active(now):
        return SessionView(lease=pair, active=True, created=False)
    ttl = timedelta(days=ttl_days if ttl_days else ctx.routing.lease_ttl_days)
    lease, created = acquire_lease(ctx.store, provider.provider_id, client, pair, now, ttl, record=None)
    if lease is None:
        count("PoolExhausted")
        ctx.audit(
            "Pool exhausted",
            "No pool number free for this provider: session not opened",
            "Pool",
            "Critical",
            key=provider.provider_id,
            provider_id=provider.provider_id,
            client_id=client.client_id,
        )
        raise Conflict("every Ready pool number is in use for this provider", {"provider": provider.provider_id})
    view = SessionView(lease=lease, active=True, created=created)
    if created:
        audit_lease(ctx, lease, "Session opened", "Opened through the admin API", lease.lease_id)
    if notify:
        view.notified = _notify_provider(ctx, provider, lease, webhook_base)
    return view


def _notify_provider(ctx: AdminContext, provider: Provider, lease: Lease, webhook_base: str) -> bool:
    text = NOTIFY_TEXT.format(client=lease.client_name, pool_number=lease.pool_number)
    try:
        notice = OutboundSms(from_number=lease.pool_number, to_phone=provider.phone, body=text)
        ctx.send_system_sms(notice, webhook_base, provider.provider_id)
    except SendError as error:
        ctx.audit_about(lease, "Session notification failed", str(error), "Error", "Error", twilio_code=error.code)
        return False
    return True


def get_session(ctx: AdminContext, lease_id: str) -> SessionView:
    lease = ctx.store.find_lease(lease_id)
    if lease is None:
        raise NotFound("no such session", {"session": lease_id})
    return SessionView(lease=lease, active=lease.is_active(ctx.now()))


def list_sessions(ctx: AdminContext, provider_id: str, include_expired: bool = False) -> list[SessionView]:
    now = ctx.now()
    views = [SessionView(lease=lease, active=lease.is_active(now)) for lease in ctx.store.provider_leases(provider_id)]
    return [v for v in views if include_expired or v.active]


def close_session(ctx: AdminContext, lease_id: str) -> SessionView:
    """Ends the lease and frees its pool number for the provider (idempotent)."""
    view = get_session(ctx, lease_id)
    if view.active and end_lease(ctx, view.lease, "Session closed through the admin API"):
        view.lease.expires_at = int(ctx.now().timestamp())
        view.active = False
    return view


def end_lease(ctx: AdminContext, lease: Lease, reason: str) -> bool:
    """Expires a lease now, with an audit event and the client's Session SID cleared."""
    if not ctx.store.expire_lease(lease, int(ctx.now().timestamp())):
        return False
    count("LeasesClosed")
    audit_lease(ctx, lease, "Lease closed", reason, session_sid="")
    return True


def audit_lease(ctx: AdminContext, lease: Lease, event: str, description: str, session_sid: str) -> None:
    """Audits a lease the admin side opened or closed and mirrors the client's Session SID."""
    ctx.audit_about(lease, event, description, "Pool", "Info", lease_id=lease.lease_id)
    mirror_lease(ctx, lease, session_sid)


def mirror_lease(ctx: AdminContext, lease: Lease, session_sid: str) -> None:
    """The client's Session SID: the lease's id when it opens, empty when it ends."""
    ctx.records.append(rows.client_session(lease.client_id, session_sid, ctx.stamp()))
