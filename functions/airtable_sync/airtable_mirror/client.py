"""pyairtable ``Api`` objects for the sync and for the one-off tools.

The sync paces and retries each request itself (``writer.AirtableMirror._request``,
which knows the Lambda's deadline), so its ``Api`` has no retry strategy. The tools
(schema, import) make a few dozen requests with no deadline: their session paces every
request with the same limiter and waits 30 s after a 429.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from .limiter import RATE_LIMIT_WAIT_SECONDS, SYSTEM_CLOCK, Backoff, Clock, RateLimiter

if TYPE_CHECKING:
    from pyairtable import Api

DEFAULT_ENDPOINT = "https://api.airtable.com"


def build_api(token: str, api_url: str | None = None, timeout_seconds: int = 10) -> Api:
    """An Api on ``api_url`` (e.g. the local stand-in) without pyairtable's own retries."""
    from pyairtable import Api

    return Api(token, endpoint_url=(api_url or DEFAULT_ENDPOINT).rstrip("/"), retry_strategy=None, timeout=(5, timeout_seconds))


class PacedSession(requests.Session):
    """A session that keeps to 5 requests per second, waits 30 s after a 429 and retries
    5xx and timeouts with backoff: for the tools, which have no deadline."""

    def __init__(
        self, limiter: RateLimiter, clock: Clock = SYSTEM_CLOCK, backoff: Backoff | None = None, max_rate_limited: int = 3
    ) -> None:
        super().__init__()
        self.limiter = limiter
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.max_rate_limited = max_rate_limited

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        retry = 0
        rate_limited = 0
        while True:
            self.limiter.acquire()
            try:
                response = super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
            except (requests.Timeout, requests.ConnectionError):
                retry += 1
                if retry >= self.backoff.attempts:
                    raise
                self.clock.sleep(self.backoff.delay(retry))
                continue
            if response.status_code == 429 and rate_limited < self.max_rate_limited:
                rate_limited += 1
                self.limiter.pause(RATE_LIMIT_WAIT_SECONDS)
                continue
            if response.status_code >= 500 and retry + 1 < self.backoff.attempts:
                retry += 1
                self.clock.sleep(self.backoff.delay(retry))
                continue
            return response


def build_paced_api(token: str, api_url: str | None = None, clock: Clock = SYSTEM_CLOCK, timeout_seconds: int = 30) -> Api:
    """An Api for the tools: one limiter, 429 and 5xx handled by the session."""
    api = build_api(token, api_url, timeout_seconds)
    api.session = PacedSession(RateLimiter(clock=clock), clock=clock)
    api.api_key = token  # sets the Authorization header on the new session
    return api
