"""Click-to-call (docs/architecture.md, "Call flows" 3): ring the provider, then bridge to the client.

1. ``start_call`` (admin API, ``POST /calls``): checks the provider and the client, takes
   one of the provider's calls for this clock hour (``CALLS_PER_PROVIDER_PER_HOUR``, an
   atomic conditional counter: concurrent requests cannot pass it), creates a call session
   (``CS`` + 32 hex, valid 30 minutes) and has Twilio ring the provider from their reserved
   number. Every call is a new session.
2. The provider answers: Twilio posts to ``/twilio/voice/bridge/<id>``;
   ``answer_bridge`` gives the session to dial (``masking.handlers.voice`` answers
   ``<Dial callerId=reserved number>`` the client), or None when it is unknown or older
   than 30 minutes (a spoken expiry).
3. Status callbacks (``/twilio/voice/status/<id>``) move the session's status forward
   only (``record_call_status``); the ``<Dial>`` action (``.../<id>/dial``) records the client
   leg's outcome and duration once (``record_dial_outcome``). Each change is mirrored as a
   ``call`` record on the outbox.

No pydantic, no twilio.rest at import: ``call_connect`` imports this module.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from masking.core.call_records import CallSession, DialOutcome, StatusChange
from masking.core.errors import AdminError, Conflict, NotFound, UpstreamError
from masking.core.models import Client, iso
from masking.core.observability import count, logger
from masking.core.ports import CALL_STATUS_EVENTS, CallGateway, CallStore, SendError
from masking.core.settings import VoiceSettings, get_voice_settings
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from masking.mirror.rows import audit_record
from masking.store.calls import call_store_for
from masking.voice.twiml import bridge_url, call_status_url

if TYPE_CHECKING:
    from masking.admin.context import AdminContext

CALL_SESSION_TTL = timedelta(minutes=30)

# How far along a call is; a status callback never moves a session back.
CALL_STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "answered": 3,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}
SESSION_STATUS = {"in-progress": "answered"}  # Twilio's CallStatus -> the session's (and the Calls table's) status
DIAL_STATUSES = frozenset({"completed", "answered", "busy", "no-answer", "failed", "canceled"})
NOT_CONNECTED = frozenset({"busy", "no-answer", "failed", "canceled"})


class RateLimited(AdminError):
    """The provider started as many calls as allowed in this clock hour."""

    status = 429


# ---------------------------------------------------------------- views and mirror rows


def session_view(session: CallSession) -> dict[str, object]:
    """The admin API's answer for a session (no real phone numbers)."""
    return {
        "id": session.call_id,
        "provider_id": session.provider_id,
        "client_id": session.client_id,
        "client_name": session.client_name,
        "caller_id": session.reserved_number,
        "reference": session.reference,
        "status": session.status,
        "call_sid": session.call_sid,
        "duration": session.duration,
        "client_leg_status": session.dial_status,
        "client_leg_duration": session.dial_duration,
        "record": session.record,
        "created_at": session.created_at,
        "expires_at": iso(datetime.fromtimestamp(session.expires_at, UTC)),
    }


def mirror_session(session: CallSession, at: str) -> MirrorRecord:
    return rows.call_session_row(session, at)


# ---------------------------------------------------------------- 1. start


def hour_window(now: datetime) -> tuple[str, int, int]:
    """``(hour key, seconds until the next hour, counter expiry epoch)`` for the clock hour of ``now``."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    following = start + timedelta(hours=1)
    return start.strftime("%Y-%m-%dT%H"), max(1, int((following - now).total_seconds())), int((following + timedelta(days=1)).timestamp())


def resolve_call_client(ctx: AdminContext, reference: str, phone: str | None = None) -> Client:
    """The client to call: ``masking.admin.clients.resolve_client``, the one resolver every
    admin route uses (id, external id, or a phone written any way; ``phone`` = client_phone)."""
    from masking.admin.clients import resolve_client  # admin only: call_connect never calls this

    return resolve_client(ctx, reference, phone)


_BASE = re.compile(r"^https?://[^\s?#]+$")


def start_call(
    ctx: AdminContext,
    provider_id: str,
    client_ref: str,
    reference: str | None = None,
    webhook_base: str = "",
    *,
    settings: VoiceSettings | None = None,
    client_phone: str | None = None,
) -> CallSession:
    """Rings the provider from their reserved number; on answer the bridge dials the client.

    ``webhook_base`` is the API's public base URL (``https://host/stage``). Raises
    NotFound (provider, client), Conflict (no active reserved number), RateLimited (429),
    UpstreamError (Twilio refused the call; the hour's count is given back).
    """
    settings = settings or get_voice_settings()
    store = call_store_for(ctx.store)
    base = webhook_base.rstrip("/")
    if not _BASE.match(base):
        raise ValueError(f"webhook_base must be an absolute http(s) URL, not {webhook_base!r}")
    provider = store.get_provider(provider_id)
    if provider is None:
        raise NotFound("no such provider", {"provider": provider_id})
    if provider.status != "Active" or not provider.reserved_number:
        raise Conflict("the provider has no active reserved number", {"provider": provider_id})
    client = resolve_call_client(ctx, client_ref, client_phone)

    now = ctx.now()
    hour, retry_after, counter_expiry = hour_window(now)
    limit = settings.calls_per_provider_per_hour
    if store.take_call_slot(provider_id, hour, limit, counter_expiry) is None:
        count("CallsRateLimited")
        ctx.audit(
            "Call rate limited",
            f"More than {limit} calls requested in one hour; call not started",
            "Messaging",
            "Warning",
            key=f"{provider_id}:{hour}",
            provider_id=provider_id,
            client_id=client.client_id,
        )
        raise RateLimited(
            f"at most {limit} calls per provider per hour",
            {"provider": provider_id, "limit": limit, "retry_after_seconds": retry_after},
        )

    stamp = iso(now)
    session = CallSession(
        call_id=f"CS{uuid.uuid4().hex}",
        provider_id=provider_id,
        client_id=client.client_id,
        client_name=client.name,
        client_phone=client.phone,
        provider_phone=provider.phone,
        reserved_number=provider.reserved_number,
        created_at=stamp,
        expires_at=int((now + CALL_SESSION_TTL).timestamp()),
        reference=reference or None,
        record=settings.record_calls,
        updated_at=stamp,
    )
    store.create_call_session(session)
    gateway = cast(CallGateway, ctx.gateway)
    try:
        session.call_sid = gateway.create_call(
            to=provider.phone,
            from_=provider.reserved_number,
            url=bridge_url(base, session.call_id),
            status_callback=call_status_url(base, session.call_id),
            status_callback_events=list(CALL_STATUS_EVENTS),
        )
    except SendError as error:
        store.give_back_call_slot(provider_id, hour)
        failed = store.update_call_status(StatusChange(session.call_id, "failed", CALL_STATUS_RANK["failed"], stamp))
        count("CallsFailedToStart")
        ctx.audit_about(session, "Call not started", f"Twilio refused the call: {error}", "Error", "Error", twilio_error_code=error.code)
        ctx.records.append(mirror_session(failed or session, stamp))
        raise UpstreamError("Twilio refused the call", {"twilio_error_code": error.code}) from error
    store.set_call_session_sid(session.call_id, session.call_sid)
    count("CallsStarted")
    logger.info("click-to-call started", extra={"call_id": session.call_id, "call_sid": session.call_sid})
    ctx.audit_about(
        session, "Call started", "Click-to-call: ringing the provider", "Messaging", "Info", call_id=session.call_id, reference=reference
    )
    ctx.records.append(mirror_session(session, stamp))
    return session


# ---------------------------------------------------------------- 2. bridge


@dataclass(slots=True)
class BridgeResult:
    session: CallSession | None  # None: do not bridge (unknown, expired, another call)
    reason: str
    records: list[MirrorRecord]


def answer_bridge(store: CallStore, call_id: str, call_sid: str, now: datetime) -> BridgeResult:
    """The provider answered call session ``call_id``: the session to bridge, if still valid."""
    stamp = iso(now)
    session = store.get_call_session(call_id) if call_id else None
    reason = ""
    if session is None:
        reason = "unknown"
    elif int(now.timestamp()) >= session.expires_at:
        reason = "expired"
    elif session.call_sid and call_sid and call_sid != session.call_sid:
        reason = "other_call"
    if session is None or reason:
        count("CallBridgeRefused")
        return BridgeResult(None, reason, [_bridge_audit(session, call_id, call_sid, reason, stamp)])
    changed = store.update_call_status(
        StatusChange(session.call_id, "answered", CALL_STATUS_RANK["answered"], stamp, call_sid=call_sid or None)
    )
    records = [mirror_session(changed, stamp)] if changed else []
    count("CallsBridged")
    return BridgeResult(changed or session, "bridge", records)


def _bridge_audit(session: CallSession | None, call_id: str, call_sid: str, reason: str, stamp: str) -> MirrorRecord:
    description = {
        "unknown": "No such call session: nothing dialed",
        "expired": "The call session is older than 30 minutes: nothing dialed",
        "other_call": "The bridge request came from another call than the session's: nothing dialed",
    }[reason]
    return audit_record(
        "Call request expired" if reason == "expired" else "Call request refused",
        description,
        category="Messaging",
        severity="Warning",
        at=stamp,
        key=f"{call_sid or call_id}:bridge:{reason}",
        provider_id=session.provider_id if session else None,
        client_id=session.client_id if session else None,
        details={"call_id": call_id, "call_sid": call_sid},
    )


# ---------------------------------------------------------------- 3. status and dial outcome


def record_call_status(
    store: CallStore, call_id: str, call_status: str, call_sid: str, duration: int | None, now: datetime
) -> list[MirrorRecord]:
    """A status callback of the provider leg: moves the session forward, or changes nothing."""
    rank = CALL_STATUS_RANK.get(call_status)
    if rank is None or not call_id:
        logger.warning("call status callback without a known status or session", extra={"status": call_status[:20]})
        return []
    stamp = iso(now)
    status = SESSION_STATUS.get(call_status, call_status)
    changed = store.update_call_status(StatusChange(call_id, status, rank, stamp, call_sid=call_sid or None, duration=duration))
    if changed is None:
        logger.info("call status callback changed nothing", extra={"status": call_status, "call_id": call_id})
        return []
    count(f"CallStatus{status.title().replace('-', '')}")
    return [mirror_session(changed, stamp)]


def record_dial_outcome(store: CallStore, call_id: str, outcome: DialOutcome) -> tuple[CallSession | None, list[MirrorRecord]]:
    """The ``<Dial>`` to the client ended: its outcome and duration, stored once."""
    changed = store.record_session_dial(call_id, outcome)
    if changed is None:
        return store.get_call_session(call_id), []
    records = [mirror_session(changed, outcome.at)]
    if outcome.status in NOT_CONNECTED:
        count("CallsClientNotConnected")
        records.append(
            audit_record(
                "Client did not answer",
                f"Click-to-call: the client leg ended {outcome.status}",
                category="Messaging",
                severity="Info",
                at=outcome.at,
                key=f"{call_id}:dial:{outcome.status}",
                provider_id=changed.provider_id,
                client_id=changed.client_id,
                details={"call_id": call_id, "dial_status": outcome.status},
            )
        )
    return changed, records
