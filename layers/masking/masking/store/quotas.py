"""Counters with a limit, and "only once" markers, for the abuse protections.

``take(name, limit, expires_at)`` counts one use of ``name`` and returns the new count,
or None when ``limit`` uses were counted already; ``once(name, expires_at)`` is True the
first time only. Names carry their window (``newcontact#<provider>#<hour>``,
``sysreply#<phone>#<day>``), so a window is a new item; the TTL removes old ones.

On DynamoDB each is one conditional UpdateItem on ``QUOTA#<name>`` / ``QUOTA`` (an atomic
counter, like the click-to-call rate limit). ``DynamoQuotas`` borrows the store's client,
so it costs no connection of its own.
"""

from __future__ import annotations

import threading
from typing import Protocol

from masking.store.items import DynamoTable, item_key


class Quotas(Protocol):
    def take(self, name: str, limit: int, expires_at: int) -> int | None: ...

    def once(self, name: str, expires_at: int) -> bool: ...


def quota_key(name: str) -> dict[str, dict[str, str]]:
    return item_key(f"QUOTA#{name}", "QUOTA")


class DynamoQuotas:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def take(self, name: str, limit: int, expires_at: int) -> int | None:
        return self.table.take_counter(quota_key(name), "uses", limit, expires_at)

    def once(self, name: str, expires_at: int) -> bool:
        return self.take(name, 1, expires_at) is not None


class MemoryQuotas:
    def __init__(self) -> None:
        self.uses: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, name: str, limit: int, expires_at: int) -> int | None:
        with self._lock:
            used = self.uses.get(name, 0)
            if used >= limit:
                return None
            self.uses[name] = used + 1
            return used + 1

    def once(self, name: str, expires_at: int) -> bool:
        return self.take(name, 1, expires_at) is not None
