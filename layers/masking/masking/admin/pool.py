"""The operator's pool dashboard: how full the pool is for the busiest provider."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from masking.admin.context import AdminContext
from masking.core.models import Lifecycle, NumberStatus
from masking.core.privacy_settings import get_privacy_settings


@dataclass(slots=True)
class PoolStats:
    ready_pool_numbers: int
    pending_pool_numbers: int
    active_leases: int
    busiest_provider_id: str | None
    busiest_provider_leases: int
    utilization: float  # busiest provider's (active leases + numbers cooling off) / Ready pool numbers
    standby_ready: int
    standby_pending: int
    providers_near_exhaustion: list[str]  # one lease away from using every pool number
    cooling_off: int = 0  # numbers whose lease ended less than PoolCoolOffDays ago: pressure to buy

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def pool_stats(ctx: AdminContext) -> PoolStats:
    numbers = ctx.store.list_numbers()
    ready_pool = sum(1 for n in numbers if n.lifecycle == Lifecycle.POOL and n.status == NumberStatus.READY)
    pending_pool = sum(1 for n in numbers if n.lifecycle == Lifecycle.POOL and n.status == NumberStatus.PENDING)
    spare = [n for n in numbers if n.lifecycle == Lifecycle.STANDBY and not n.provider_id]
    now_epoch = int(ctx.now().timestamp())
    cool_off_since = now_epoch - get_privacy_settings().cool_off_seconds
    leases_by_provider: dict[str, int] = {}
    cooling_by_provider: dict[str, int] = {}
    for provider_id in ctx.store.list_provider_ids():
        slots = ctx.store.provider_slots(provider_id)
        leases_by_provider[provider_id] = sum(1 for slot in slots if slot.expires_at > now_epoch)
        cooling_by_provider[provider_id] = sum(1 for slot in slots if cool_off_since < slot.expires_at <= now_epoch)
    busy = {pid: leases_by_provider[pid] + cooling_by_provider[pid] for pid in leases_by_provider}
    busiest = max(busy, key=lambda pid: (busy[pid], leases_by_provider[pid]), default=None)
    busiest_leases = leases_by_provider.get(busiest, 0) if busiest else 0
    busiest_busy = busy.get(busiest, 0) if busiest else 0
    # no Ready pool number: full if anyone needs one, idle otherwise
    utilization = round(min(busiest_busy, ready_pool) / ready_pool, 4) if ready_pool else float(busiest_leases > 0)
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
        cooling_off=sum(cooling_by_provider.values()),
    )
