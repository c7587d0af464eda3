"""Settings of the outbound hooks, read from the environment like ``masking.core.settings``
(same ``SettingsError``) and kept in their own module. ``clear_settings_cache`` resets them.

- ``HOOKS_QUEUE_URL`` / ``HOOKS_DLQ_URL``: the deliveries and the ones set aside. Without
  ``HOOKS_QUEUE_URL`` nothing is dispatched (a stack or test without hooks).
- ``HOOK_RETRY_DELAYS`` (default ``30,120,600,900,900,900``): the wait before each retry of a
  delivery answered 429 or 5xx or not answered; one more than the delays is the number of
  attempts. SQS delays a message 900 s at most, so no delay is longer.
- ``HOOK_TIMEOUT_SECONDS`` (default 10): how long a consumer may take to answer.
- ``HOOKS_ALLOW_LOOPBACK`` (default false): also accept ``http://127.0.0.1`` and
  ``http://localhost`` targets. Only the local runner and the tests set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from masking.core.settings import SQS_MAX_DELAY_SECONDS, SettingsError, _delays, _flag, _from_env, _whole

DEFAULT_HOOK_RETRY_DELAYS = (30, 120, 600, 900, 900, 900)  # 7 attempts over about 58 minutes


@dataclass(frozen=True, slots=True)
class HookSettings:
    queue_url: str = ""
    dead_letter_queue_url: str = ""
    retry_delays: tuple[int, ...] = DEFAULT_HOOK_RETRY_DELAYS
    timeout_seconds: int = 10
    allow_loopback: bool = False

    def __post_init__(self) -> None:
        delays = _delays("HOOK_RETRY_DELAYS", self.retry_delays)
        if max(delays) > SQS_MAX_DELAY_SECONDS:
            raise SettingsError(f"HOOK_RETRY_DELAYS: no delay may exceed {SQS_MAX_DELAY_SECONDS} s (SQS DelaySeconds)")
        object.__setattr__(self, "retry_delays", delays)
        object.__setattr__(self, "timeout_seconds", _whole("HOOK_TIMEOUT_SECONDS", self.timeout_seconds, 1, 20))
        object.__setattr__(self, "allow_loopback", _flag("HOOKS_ALLOW_LOOPBACK", self.allow_loopback))

    @property
    def attempts(self) -> int:
        return len(self.retry_delays) + 1


@lru_cache(maxsize=1)
def get_hook_settings() -> HookSettings:
    return _from_env(
        HookSettings,
        queue_url="HOOKS_QUEUE_URL",
        dead_letter_queue_url="HOOKS_DLQ_URL",
        retry_delays="HOOK_RETRY_DELAYS",
        timeout_seconds="HOOK_TIMEOUT_SECONDS",
        allow_loopback="HOOKS_ALLOW_LOOPBACK",
    )
