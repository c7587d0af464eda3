"""The HTTP POST of a hook delivery (``masking.hooks.delivery.HookPoster``), with
``requests`` (installed with the twilio library; imported on the first delivery only).

- Redirects are not followed: a 3xx is an answer like a 4xx (Zapier's hooks never
  redirect: "Zapier cannot 301 or 302 redirect you to a different URL",
  https://help.zapier.com/hc/en-us/articles/8496288690317).
- A connect timeout of 3 s and the read timeout given; the answer's body is not read.
- No answer at all (refused, reset, timed out, TLS failure, a name that does not resolve):
  ``HttpAnswer(None)``, retried.
- Before the POST the host is resolved, and when any of its addresses is not a public one
  (loopback, private, link-local such as the instance metadata 169.254.169.254, ...;
  ``masking.hooks.subscriptions.public_address``) nothing is sent: ``HttpAnswer(None,
  refused=True)``, set aside in the DLQ like a refusal. So a DNS name pointed at a private
  address after it was subscribed is not followed. ``requests`` resolves the name again to
  connect, so a DNS server answering a public address to the check and a private one a
  moment later (DNS rebinding) is not stopped; README "Hooks" says so.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from masking.hooks.delivery import HttpAnswer
from masking.hooks.subscriptions import public_address

CONNECT_TIMEOUT_SECONDS = 3.0
NON_PUBLIC_ADDRESS = "NonPublicAddress"

# socket.getaddrinfo's shape: (host, port, family, type, proto) -> [(family, type, proto, name, sockaddr)]
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


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


def check_resolved(url: str, resolve: Resolver | None = None, allow_loopback: bool = False) -> HttpAnswer | None:
    """None when every address the URL's host resolves to is public (loopback too where the
    local runner allows it); else the answer that stands for the POST."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = (resolve or socket.getaddrinfo)(parts.hostname or "", port, 0, socket.SOCK_STREAM)
        addresses = {ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found}
    except (OSError, UnicodeError, ValueError) as exc:
        return HttpAnswer(None, error=type(exc).__name__)
    if not addresses or not all(public_address(address, allow_loopback) for address in addresses):
        return HttpAnswer(None, error=NON_PUBLIC_ADDRESS, refused=True)
    return None


def post_json(
    url: str, body: bytes, headers: dict[str, str], timeout: float, resolve: Resolver | None = None, allow_loopback: bool = False
) -> HttpAnswer:
    """``resolve``: ``socket.getaddrinfo`` unless given (the tests give a fake one)."""
    import requests

    refused = check_resolved(url, resolve, allow_loopback)
    if refused is not None:
        return refused
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=(CONNECT_TIMEOUT_SECONDS, timeout), allow_redirects=False, stream=True
        )
    except requests.RequestException as exc:
        return HttpAnswer(None, error=type(exc).__name__)
    response.close()
    return HttpAnswer(response.status_code, retry_after(response.headers.get("Retry-After")))
