"""What the EventBridge schedules run (docs/architecture.md, "Operations").

- ``run_pool_monitor``: utilization = busiest provider's active leases / Ready pool
  numbers. At or above the threshold, with no pool number Pending and none bought within
  the cool-down, buy exactly one pool number (Pending -> attach -> Ready, Purpose "Pool
  Expansion"). Warns when a provider is one lease from exhaustion. Emits the pool metrics.
- ``run_standby_keeper``: no standby number Ready or Pending -> buy exactly one;
  ``keep_standby`` (the standby keeper's run) first returns the numbers whose handover
  ended to standby (``masking.admin.handover``), so it never buys one it is about to get.
- ``sweep_leases``: releases leases idle past their TTL, with an audit event each and the
  client's Session SID cleared in the mirror.

EventBridge delivers at least once and runs may overlap, so every purchase decision is
taken under a DynamoDB guard (a conditional write): duplicates and overlaps buy once.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from masking.admin.context import AdminContext
from masking.admin.handover import release_ended_handovers
from masking.admin.numbers import purchase_and_attach
from masking.admin.pool import PoolStats, pool_stats
from masking.admin.provisioning import ensure_standby
from masking.admin.sessions import audit_lease
from masking.core.errors import AdminError
from masking.core.models import Lifecycle, NumberStatus
from masking.core.observability import MetricUnit, count, logger, metrics
from masking.core.settings import ScheduleSettings

POOL_GUARD = "pool-purchase"
STANDBY_GUARD = "standby-purchase"
STANDBY_GUARD_SECONDS = 900  # a standby purchase shows as Pending within one run


@dataclass(slots=True)
class MonitorResult:
    stats: PoolStats
    decision: str  # below_threshold, pending_purchase, cooling_down, guarded, purchased, purchase_failed
    number: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"decision": self.decision, "number": self.number, "stats": asdict(self.stats)}


def _publish_pool_metrics(stats: PoolStats) -> None:
    metrics.add_metric(name="PoolUtilization", unit=MetricUnit.Percent, value=stats.utilization * 100)
    metrics.add_metric(name="ReadyPoolNumbers", unit=MetricUnit.Count, value=stats.ready_pool_numbers)
    metrics.add_metric(name="PendingPoolNumbers", unit=MetricUnit.Count, value=stats.pending_pool_numbers)
    metrics.add_metric(name="StandbyNumbers", unit=MetricUnit.Count, value=stats.standby_ready + stats.standby_pending)
    metrics.add_metric(name="ActiveLeases", unit=MetricUnit.Count, value=stats.active_leases)
    metrics.add_metric(name="PoolExhausted", unit=MetricUnit.Count, value=float(stats.ready_pool_numbers > 0 and stats.utilization >= 1))


def last_pool_purchase(ctx: AdminContext) -> datetime | None:
    stamps = [n.purchased_at for n in ctx.store.list_numbers(Lifecycle.POOL) if n.purchased_at]
    return datetime.fromisoformat(max(stamps).replace("Z", "+00:00")) if stamps else None


def run_pool_monitor(ctx: AdminContext, settings: ScheduleSettings, webhook_base: str) -> MonitorResult:
    stats = pool_stats(ctx)
    _publish_pool_metrics(stats)
    for provider_id in stats.providers_near_exhaustion:
        count("ProvidersNearExhaustion")
        ctx.audit(
            "Pool nearly exhausted",
            "The provider is one lease away from using every Ready pool number",
            "Pool",
            "Warning",
            key=provider_id,
            provider_id=provider_id,
            ready_pool_numbers=stats.ready_pool_numbers,
        )
    if stats.utilization < settings.utilization_threshold:
        return MonitorResult(stats, "below_threshold")
    if stats.pending_pool_numbers:
        return MonitorResult(stats, "pending_purchase")
    now = ctx.now()
    cooldown = timedelta(hours=settings.purchase_cooldown_hours)
    last = last_pool_purchase(ctx)
    if last is not None and now - last < cooldown:
        return MonitorResult(stats, "cooling_down")
    decision = f"pool-{uuid.uuid4().hex}"
    if not ctx.store.claim_guard(POOL_GUARD, decision, int(now.timestamp()), int(cooldown.total_seconds())):
        return MonitorResult(stats, "guarded")
    try:
        number = purchase_and_attach(ctx, Lifecycle.POOL, webhook_base)
    except AdminError as error:
        ctx.store.release_guard(POOL_GUARD, decision)
        logger.warning("pool expansion failed", extra={"reason": error.message})
        ctx.audit("Pool expansion failed", error.message, "Pool", "Error", key=decision, details=error.details)
        return MonitorResult(stats, "purchase_failed")
    ctx.audit(
        "Pool expanded",
        f"Utilization {stats.utilization:.2f} >= {settings.utilization_threshold}: bought one pool number",
        "Pool",
        "Info",
        key=decision,
        number=number.number,
        status=str(number.status),
    )
    return MonitorResult(stats, "purchased", number.number)


def run_standby_keeper(ctx: AdminContext, webhook_base: str) -> str:
    """Returns ``present``, ``guarded``, ``purchased`` or ``purchase_failed``."""
    spare = [
        n for n in ctx.store.list_numbers(Lifecycle.STANDBY) if n.status in (NumberStatus.READY, NumberStatus.PENDING) and not n.provider_id
    ]
    if spare:
        return "present"
    decision = f"standby-{uuid.uuid4().hex}"
    if not ctx.store.claim_guard(STANDBY_GUARD, decision, int(ctx.now().timestamp()), STANDBY_GUARD_SECONDS):
        return "guarded"
    if ensure_standby(ctx, webhook_base):
        return "purchased"
    ctx.store.release_guard(STANDBY_GUARD, decision)
    return "purchase_failed"


def keep_standby(ctx: AdminContext, webhook_base: str) -> dict[str, object]:
    """The standby keeper's run: numbers past their handover back to standby, then the keeper."""
    released = release_ended_handovers(ctx)
    if released:
        metrics.add_metric(name="HandoversReleased", unit=MetricUnit.Count, value=released)
    return {"handovers_released": released, "outcome": run_standby_keeper(ctx, webhook_base)}


def sweep_leases(ctx: AdminContext) -> int:
    """Releases every lease idle past its TTL; returns how many."""
    now_epoch = int(ctx.now().timestamp())
    released = 0
    for provider_id in ctx.store.list_provider_ids():
        for slot in ctx.store.provider_slots(provider_id):
            if slot.expires_at > now_epoch or not ctx.store.delete_expired_slot(slot, now_epoch):
                continue
            released += 1
            audit_lease(ctx, slot, "Lease expired", "Idle past its TTL; the pool number is free for this provider again", session_sid="")
    metrics.add_metric(name="LeasesSwept", unit=MetricUnit.Count, value=released)
    return released
