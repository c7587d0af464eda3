"""The HTTP POST of a hook delivery (``masking.hooks.delivery.HookPoster``), with
``requests`` (installed with the twilio library; imported on the first delivery only).

- Redirects are not followed: a 3xx is an answer like a 4xx (Zapier's hooks never
  redirect: "Zapier cannot 301 or 302 redirect you to a different URL",
  https://help.zapier.com/hc/en-us/articles/8496288690317).
- A connect timeout of 3 s and the read timeout given; the answer's body is not read.
- No answer at all (refused, reset, timed out, TLS failure): ``HttpAnswer(None)``, retried.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

from masking.hooks.delivery import HttpAnswer

CONNECT_TIMEOUT_SECONDS = 3.0


def retry_after(value: str | None, now: float | None = None) -> int | None:
    """A Retry-After header in seconds: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int(moment.timestamp() - (time.time() if now is None else now)))


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    import requests

    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=(CONNECT_TIMEOUT_SECONDS, timeout), allow_redirects=False, stream=True
        )
    except requests.RequestException as exc:
        return HttpAnswer(None, error=type(exc).__name__)
    response.close()
    return HttpAnswer(response.status_code, retry_after(response.headers.get("Retry-After")))
