"""In-memory twins of the queues, the owner topic and the outbox, for tests, benchmarks,
the local demo and ``tools/setup``. Kept out of ``masking.adapters.aws_queues`` and
``masking.mirror.outbox`` so a webhook's import does not build them (bench/cold_import.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masking.hooks.delivery import Delivery
    from masking.messaging.failures import Resend
    from masking.messaging.forwarding import ParkedForward
    from masking.mirror.outbox import MirrorRecord


@dataclass
class MemoryRetryQueue:
    scheduled: list[Resend] = field(default_factory=list)

    def schedule(self, resend: Resend) -> None:
        self.scheduled.append(resend)


@dataclass
class MemoryOwnerAlerts:
    published: list[tuple[str, str]] = field(default_factory=list)

    def publish(self, subject: str, message: str) -> None:
        self.published.append((subject, message))


@dataclass
class MemoryForwardQueue:
    """Parked forwards in memory, each with the delay it was parked for."""

    parked: list[tuple[ParkedForward, int]] = field(default_factory=list)
    dead: list[ParkedForward] = field(default_factory=list)

    def park(self, forward: ParkedForward, delay_seconds: int) -> None:
        self.parked.append((forward, delay_seconds))

    def dead_letter(self, forward: ParkedForward) -> None:
        self.dead.append(forward)

    def take(self) -> list[ParkedForward]:
        """Everything parked so far (a copy through JSON, as SQS would carry it)."""
        from masking.messaging.forwarding import ParkedForward

        taken = [ParkedForward.from_json(forward.to_json()) for forward, _ in self.parked]
        self.parked.clear()
        return taken


@dataclass
class MemoryOutbox:
    records: list[MirrorRecord] = field(default_factory=list)
    publishes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, records: list[MirrorRecord]) -> None:
        with self._lock:
            self.publishes += 1
            self.records.extend(records)


@dataclass
class MemoryHookQueue:
    """Hook deliveries in memory: queued now, retried with their delay, set aside."""

    queued: list[Delivery] = field(default_factory=list)
    retried: list[tuple[Delivery, int]] = field(default_factory=list)
    dead: list[Delivery] = field(default_factory=list)

    def send(self, deliveries: list[Delivery]) -> list[Delivery]:
        self.queued.extend(deliveries)
        return []

    def retry(self, delivery: Delivery, delay_seconds: int) -> None:
        self.retried.append((delivery, delay_seconds))

    def dead_letter(self, delivery: Delivery) -> None:
        self.dead.append(delivery)
