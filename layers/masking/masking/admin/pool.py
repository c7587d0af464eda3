"""The operator's pool dashboard: how full the pool is for the busiest provider."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from masking.admin.context import AdminContext
from masking.core.models import Lifecycle, NumberStatus


@dataclass(slots=True)
class PoolStats:
    ready_pool_numbers: int
    pending_pool_numbers: int
    active_leases: int
    busiest_provider_id: str | None
    busiest_provider_leases: int
    utilization: float  # busiest provider's active leases / Ready pool numbers
    standby_ready: int
    standby_pending: int
    providers_near_exhaustion: list[str]  # one lease away from using every pool number

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def pool_stats(ctx: AdminContext) -> PoolStats:
    numbers = ctx.store.list_numbers()
    ready_pool = sum(1 for n in numbers if n.lifecycle == Lifecycle.POOL and n.status == NumberStatus.READY)
    pending_pool = sum(1 for n in numbers if n.lifecycle == Lifecycle.POOL and n.status == NumberStatus.PENDING)
    spare = [n for n in numbers if n.lifecycle == Lifecycle.STANDBY and not n.provider_id]
    now_epoch = int(ctx.now().timestamp())
    leases_by_provider: dict[str, int] = {}
    for provider_id in ctx.store.list_provider_ids():
        leases_by_provider[provider_id] = sum(1 for slot in ctx.store.provider_slots(provider_id) if slot.expires_at > now_epoch)
    busiest = max(leases_by_provider, key=lambda pid: leases_by_provider[pid], default=None)
    busiest_leases = leases_by_provider.get(busiest, 0) if busiest else 0
    # no Ready pool number: full if anyone needs one, idle otherwise
    utilization = round(busiest_leases / ready_pool, 4) if ready_pool else float(busiest_leases > 0)
    near = sorted(pid for pid, active in leases_by_provider.items() if ready_pool and active == ready_pool - 1)
    return PoolStats(
        ready_pool_numbers=ready_pool,
        pending_pool_numbers=pending_pool,
        active_leases=sum(leases_by_provider.values()),
        busiest_provider_id=busiest if busiest_leases else None,
        busiest_provider_leases=busiest_leases,
        utilization=utilization,
        standby_ready=sum(1 for n in spare if n.status == NumberStatus.READY),
        standby_pending=sum(1 for n in spare if n.status == NumberStatus.PENDING),
        providers_near_exhaustion=near,
    )
