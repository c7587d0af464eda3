"""Pacing for Airtable: a sliding-window limiter (5 requests per second per base), the
30-second pause after a 429, exponential backoff for 5xx and timeouts, and the clock
they all read, so tests and the benchmark can run them on a virtual clock."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

AIRTABLE_REQUESTS_PER_SECOND = 5
RATE_LIMIT_WAIT_SECONDS = 30.0  # Airtable: after a 429, wait 30 s before the next request


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock seconds: the "quiet until" time in DynamoDB is compared across
    containers, which share no monotonic clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class OutOfTime(Exception):
    """The Lambda's remaining time does not allow the next request (or the wait before it)."""


class RateLimiter:
    """At most ``rate`` request starts in any ``window`` seconds, plus explicit pauses.

    ``margin`` widens the window a little: Airtable counts arrivals, we count departures,
    and the two clocks never agree to the millisecond. One limiter per container; the
    template lets the event source mapping run at most 2 containers
    (``ScalingConfig.MaximumConcurrency``) at rate 2.5 each. ``rate`` counts whole
    requests in any sliding window, so 2.5 allows 2 per second each, 4 together: 3 each
    could meet in one second and make 6, over Airtable's 5.
    """

    def __init__(
        self,
        rate: float = AIRTABLE_REQUESTS_PER_SECOND,
        window: float = 1.0,
        margin: float = 0.02,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if rate < 1:  # below one per window: stretch the window instead
            window, rate = window / rate, 1
        self.rate = int(rate)
        self.window = window + margin
        self.clock = clock
        self._starts: deque[float] = deque(maxlen=self.rate)
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def next_start(self) -> float:
        now = self.clock.now()
        at = max(now, self._blocked_until)
        if len(self._starts) == self.rate:
            at = max(at, self._starts[0] + self.window)
        return at

    def acquire(self, deadline: float | None = None) -> None:
        """Waits for a slot and claims it; OutOfTime if the slot is after ``deadline``."""
        with self._lock:
            at = self.next_start()
            if deadline is not None and at > deadline:
                raise OutOfTime(f"next Airtable request slot is {at - self.clock.now():.1f} s away")
            self._starts.append(at)
            wait = at - self.clock.now()
        if wait > 0:
            self.clock.sleep(wait)

    def pause(self, seconds: float) -> None:
        """No request starts for ``seconds`` (after a 429)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock.now() + seconds)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff for 5xx and timeouts: 0.5, 1, 2, 4, 8 s (5 retries)."""

    first: float = 0.5
    factor: float = 2.0
    cap: float = 8.0
    attempts: int = 6  # the first try and 5 retries

    def delay(self, retry: int) -> float:
        return min(self.cap, self.first * self.factor ** (retry - 1))
