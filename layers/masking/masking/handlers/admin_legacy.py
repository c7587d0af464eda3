"""The old FastAPI service's endpoints, kept while the operator moves: DEPRECATED.

Thin aliases onto the same domain functions as the admin API, behind the same API key,
registered on the same resolver (``masking.handlers.admin_api.app``), so the existing Zaps can be
pointed at the new URL before anything is rebuilt. Every answer carries ``Deprecation: true``
(RFC 9745) and a ``Link`` to the route that replaces it.

| old route | replaced by |
|---|---|
| ``POST /attach-number`` (sitter_id, phone_number) | ``POST /providers`` / ``POST /providers/{id}/rotate-number`` |
| ``POST /numbers/purchase`` with ``sitter_id`` | ``POST /providers`` (the route itself stays, in ``admin_api``) |
| ``POST /inventory/check-and-replenish`` (threshold, cooldown_hours) | the pool monitor schedule, ``GET /pool/stats`` |
| ``POST /numbers/standby-replenish`` (area_code) | the standby keeper schedule |
| ``GET /sessions/active-count`` (sitter_id optional) | ``GET /pool/stats`` |

A ``sitter_id`` may be the Sitters row's Airtable record id (``rec...``), as the old Zaps
send it: ``masking.admin.adoption.resolve_provider_reference`` maps it (``tools.airtable_import``
keeps the mapping).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from masking.admin.adoption import assign_reserved_number, resolve_provider_reference
from masking.admin.numbers import purchase_and_attach
from masking.admin.pool import PoolStats, pool_stats
from masking.admin.schedules import STANDBY_GUARD, STANDBY_GUARD_SECONDS, run_pool_monitor
from masking.core.errors import AdminError
from masking.core.models import Lifecycle, NumberStatus, Provider
from masking.core.settings import ScheduleSettings, get_schedule_settings
from masking.handlers.admin_answers import NumberAnswer, doc
from masking.handlers.admin_api import admin, app, webhook_base
from masking.handlers.admin_input import ID_PATTERN, AdminInput, Identifier, Phone

JSON = "application/json"
DEPRECATED = "deprecated: kept for the old Zaps during the move"


def legacy_answer(successor: str, status: int = 200, **payload: Any) -> Response[dict[str, Any]]:
    return Response(
        status_code=status,
        content_type=JSON,
        body={"success": True, "deprecated": True, **payload},
        headers={"Deprecation": "true", "Link": f'<{successor}>; rel="successor-version"'},
    )


class AttachNumberRequest(AdminInput):
    provider: Identifier = Field(description="sitter_id: a provider id or the Sitters row's Airtable record id (rec...)")
    phone: Phone = Field(description="phone_number: a number in the inventory (standby, or a free reserved one)")


class ReplenishRequest(AdminInput):
    threshold: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    cooldown_hours: Annotated[float, Field(ge=0, le=24 * 365, allow_inf_nan=False)] | None = None


class StandbyRequest(AdminInput):
    area_code: Annotated[str, Field(pattern=r"^[2-9][0-9]{2}$", examples=["303"])] | None = None


class AttachAnswer(BaseModel):
    success: bool
    deprecated: bool
    provider: Provider
    number: Any
    changed: bool


class ReplenishAnswer(BaseModel):
    success: bool
    deprecated: bool
    decision: str
    number: str | None
    pool: PoolStats


class StandbyAnswer(BaseModel):
    success: bool
    deprecated: bool
    replenished: bool
    number: Any


class ActiveCountAnswer(BaseModel):
    success: bool
    deprecated: bool
    active_count: int
    provider: str | None


@app.post(
    "/attach-number",
    deprecated=True,
    **doc("legacyAttachNumber", "Make a number a sitter's reserved number (deprecated)", 200, "Attached", AttachAnswer, 400, 404, 409, 502),
)
def post_attach_number(request: AttachNumberRequest) -> Response[dict[str, Any]]:
    ctx = admin()
    provider_id = resolve_provider_reference(ctx.store, request.provider)
    provider, number, changed = assign_reserved_number(ctx, provider_id, request.phone, webhook_base())
    return legacy_answer("/providers", provider=asdict(provider), number=asdict(number), changed=changed)


@app.post(
    "/inventory/check-and-replenish",
    deprecated=True,
    **doc("legacyCheckAndReplenish", "Run the pool monitor now (deprecated)", 200, "The monitor's decision", ReplenishAnswer, 400, 502),
)
def post_check_and_replenish(request: ReplenishRequest) -> Response[dict[str, Any]]:
    defaults = get_schedule_settings()
    settings = ScheduleSettings(
        utilization_threshold=request.threshold if request.threshold is not None else defaults.utilization_threshold,
        purchase_cooldown_hours=request.cooldown_hours if request.cooldown_hours is not None else defaults.purchase_cooldown_hours,
    )
    result = run_pool_monitor(admin(), settings, webhook_base())
    return legacy_answer("/pool/stats", decision=result.decision, number=result.number, pool=asdict(result.stats))


@app.post(
    "/numbers/standby-replenish",
    deprecated=True,
    **doc("legacyStandbyReplenish", "Keep one standby number (deprecated)", 200, "201: bought one", StandbyAnswer, 400, 409, 502),
)
def post_standby_replenish(request: StandbyRequest) -> Response[dict[str, Any]]:
    ctx = admin()
    spare = [
        n for n in ctx.store.list_numbers(Lifecycle.STANDBY) if n.status in (NumberStatus.READY, NumberStatus.PENDING) and not n.provider_id
    ]
    if spare:
        return legacy_answer("/pool/stats", replenished=False, number=asdict(sorted(spare, key=lambda n: n.number)[0]))
    decision = f"standby-{uuid.uuid4().hex}"
    if not ctx.store.claim_guard(STANDBY_GUARD, decision, int(ctx.now().timestamp()), STANDBY_GUARD_SECONDS):
        return legacy_answer("/pool/stats", replenished=False, number=None)  # another run is buying one right now
    try:
        number = purchase_and_attach(ctx, Lifecycle.STANDBY, webhook_base(), request.area_code)
    except AdminError:
        ctx.store.release_guard(STANDBY_GUARD, decision)
        raise
    return legacy_answer("/pool/stats", 201, replenished=True, number=asdict(number))


@app.get(
    "/sessions/active-count",
    deprecated=True,
    **doc("legacyActiveCount", "Count active sessions (deprecated)", 200, "How many leases are active", ActiveCountAnswer, 404),
)
def get_active_count(provider: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None) -> Response[dict[str, Any]]:
    ctx = admin()
    if provider:
        provider_id = resolve_provider_reference(ctx.store, provider)
        now = ctx.now()
        active = sum(1 for lease in ctx.store.provider_leases(provider_id) if lease.is_active(now))
        return legacy_answer("/pool/stats", active_count=active, provider=provider_id)
    return legacy_answer("/pool/stats", active_count=pool_stats(ctx).active_leases, provider=None)


__all__ = ["DEPRECATED", "NumberAnswer", "legacy_answer"]
