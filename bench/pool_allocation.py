"""(d) Pool allocation over a simulated 14-day workload.

34 providers x 25 clients each. Every hour of 14 days (plus the 14-day idle TTL after
which leases lapse), each client texts its provider with a small probability, and
providers reply. The allocator (``masking.core.leases.acquire_lease`` on the in-memory store,
the same code as on DynamoDB) hands out pool numbers. Printed:

- ``pool_numbers_used``: distinct pool numbers the allocator ever handed out;
- ``lower_bound``: the most clients one provider had active at once (no allocator can
  do with fewer, since a provider's active clients need distinct numbers);
- ``one_number_per_active_client``: the most active leases at once across everyone
  (what a global, not per-provider, allocator would need).

Target: pool_numbers_used == lower_bound.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import Target, ensure_paths, print_figures

PROVIDERS = 34
CLIENTS_PER_PROVIDER = 25
DAYS = 14
HOURLY_MESSAGE_PROBABILITY = 0.002
POOL_SIZE = 60  # more than any provider needs: the figure is what the allocator uses
SEED = 20261121

TARGETS: dict[str, Target] = {
    "pool_numbers_used": None,
    "lower_bound": None,
    "one_number_per_active_client": None,
    "used_equals_lower_bound": ("==", True),
    "messages": None,
    "pool_exhausted": ("==", 0),
}


def main() -> dict[str, Any]:
    ensure_paths()
    from masking.core.leases import acquire_lease
    from masking.core.models import Client, Lifecycle, NumberRecord, NumberStatus, Provider
    from masking.store.memory import MemoryRoutingStore

    rng = random.Random(SEED)
    store = MemoryRoutingStore()
    for i in range(POOL_SIZE):
        store.put_number(NumberRecord(number=f"+1720555{1000 + i}", lifecycle=Lifecycle.POOL, status=NumberStatus.READY))
    people: list[tuple[str, Client]] = []
    for p in range(PROVIDERS):
        provider = Provider(
            provider_id=f"prov-{p}", name=f"Provider {p}", phone=f"+1303555{1000 + p}", reserved_number=f"+1720556{1000 + p}"
        )
        store.put_provider(provider)
        for c in range(CLIENTS_PER_PROVIDER):
            client = Client(client_id=f"cl-{p}-{c}", name=f"Client {p}-{c}", phone=f"+1303{p:03d}{c:04d}")
            store.put_client(client)
            people.append((provider.provider_id, client))
    # each pair is "chatty" or not: a few clients talk a lot, most rarely
    weights = {client.client_id: rng.choice([0.2, 0.5, 1.0, 3.0]) for _, client in people}

    ttl = timedelta(days=14)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    used: set[str] = set()
    lower_bound = 0
    global_peak = 0
    messages = 0
    exhausted = 0
    for hour in range(DAYS * 24):
        now = start + timedelta(hours=hour)
        for provider_id, client in people:
            if rng.random() >= HOURLY_MESSAGE_PROBABILITY * weights[client.client_id]:
                continue
            _, pair = store.get_provider_and_pair(provider_id, client.client_id)
            lease, _ = acquire_lease(store, provider_id, client, pair, now, ttl, record=None)
            messages += 1
            if lease is None:
                exhausted += 1
                continue
            used.add(lease.pool_number)
        now_epoch = int(now.timestamp())
        active_by_provider: dict[str, int] = {}
        for (provider_id, _), slot in store.slots.items():
            if slot.expires_at > now_epoch:
                active_by_provider[provider_id] = active_by_provider.get(provider_id, 0) + 1
        lower_bound = max(lower_bound, max(active_by_provider.values(), default=0))
        global_peak = max(global_peak, sum(active_by_provider.values()))
    figures = {
        "pool_numbers_used": len(used),
        "lower_bound": lower_bound,
        "one_number_per_active_client": global_peak,
        "used_equals_lower_bound": len(used) == lower_bound,
        "messages": messages,
        "pool_exhausted": exhausted,
    }
    print_figures(f"(d) pool allocation, {PROVIDERS} providers x {CLIENTS_PER_PROVIDER} clients, {DAYS} days", figures, TARGETS)
    return figures


if __name__ == "__main__":
    main()
