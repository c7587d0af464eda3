"""Hook subscriptions: who wants which events, at which URL, signed with which secret.

Zapier's REST Hook convention (https://zapier.com/developer/documentation/v2/rest-hooks/):
the subscribe call sends a ``target_url`` and an ``event`` and gets ``201`` with an ``id``;
the unsubscribe call is ``DELETE /hooks/{id}``; a ``410`` answer to a delivery removes the
subscription (``masking.hooks.delivery``). Subscribing the same URL to the same events
again answers the existing subscription (``200``), so a replayed subscribe adds nothing.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from masking.core.errors import Conflict, NotFound, Unprocessable
from masking.hooks.events import EVENTS, HookEvent

if TYPE_CHECKING:
    from masking.core.ports import HookStore

MAX_HOOKS = 100  # every event is read against every subscription
MAX_URL_LENGTH = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Names that never reach a public host: RFC 6761 (localhost, invalid, test, example), RFC 6762
# (local), RFC 8375 (home.arpa), ICANN's private-use TLD (internal), and the usual /etc/hosts
# aliases. A single-label name (no dot) goes through the resolver's search list: refused too.
PRIVATE_NAMES = ("localhost", "localdomain", "local", "internal", "home.arpa", "invalid", "test", "example")
HOSTS_FILE_ALIASES = frozenset({"ip6-localhost", "ip6-loopback"})
HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: an IPv4 address behind a NAT64
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True)
class Subscription:
    hook_id: str
    target_url: str
    events: list[str]
    secret: str  # the HMAC key of the X-Masking-Signature header; answered on subscribe only
    created_at: str

    def view(self) -> dict[str, Any]:
        """What the API lists (never the secret)."""
        return {"id": self.hook_id, "target_url": self.target_url, "events": list(self.events), "created_at": self.created_at}

    def wants(self, event: HookEvent) -> bool:
        """An event it subscribed to that happened after it subscribed (a record redriven
        days later does not reach a hook that did not exist then)."""
        return event.name in self.events and self.created_at <= event.occurred_at


def invalid(field: str, problem: str) -> Unprocessable:
    return Unprocessable("invalid request", [{"field": field, "problem": problem}])


def ip_literal(host: str) -> IPAddress | None:
    """The address a resolver reads in ``host`` without asking DNS: an IPv6 literal, or
    anything ``inet_aton`` takes for IPv4 (``2130706433``, ``0x7f000001``, ``127.1``,
    ``0177.0.0.1``, as glibc's resolver does); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def public_address(address: IPAddress, allow_loopback: bool = False) -> bool:
    """A global unicast address, also the IPv4 one an IPv6 address carries (mapped, 6to4,
    Teredo, NAT64); a loopback address too when the local runner allows it."""
    if allow_loopback and address.is_loopback:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if inner is None and address in NAT64:
            inner = ipaddress.IPv4Address(address.packed[-4:])
        if inner is not None and not public_address(inner):
            return False
    return address.is_global and not address.is_multicast


def public_host(host: str) -> bool:
    """Whether ``host`` (a URL's host name, any case, maybe with a trailing dot) names a
    public host: a public IP literal, or a dotted DNS name outside the private-use names.
    Where the name resolves is checked again at send time (``masking.adapters.hook_http``)."""
    host = host.lower().rstrip(".")
    address = ip_literal(host)
    if address is not None:
        return public_address(address)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    if not HOST_NAME.fullmatch(host) or host in HOSTS_FILE_ALIASES:
        return False
    return not any(host == name or host.endswith("." + name) for name in PRIVATE_NAMES)


def check_target(url: str, allow_loopback: bool = False) -> str:
    """An https URL on a public host (``http://127.0.0.1`` / ``localhost`` too when the
    local runner allows loopback). An IP literal, in any form, must be a public address."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        raise invalid("target_url", "not a valid URL") from None
    loopback = allow_loopback and parts.scheme in ("http", "https") and host in LOOPBACK_HOSTS
    if parts.scheme != "https" and not loopback:
        raise invalid("target_url", "must be an https URL")
    if not host:
        raise invalid("target_url", "has no host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise invalid("target_url", "must not carry credentials or a fragment")
    if len(url) > MAX_URL_LENGTH:
        raise invalid("target_url", f"longer than {MAX_URL_LENGTH} characters")
    if not loopback and not public_host(host):
        raise invalid("target_url", "must be a public host")
    return url


def check_events(names: list[str]) -> list[str]:
    """Known event names, each once, in the order given."""
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        raise invalid("events", f"at least one of {', '.join(EVENTS)}")
    unknown = [name for name in wanted if name not in EVENTS]
    if unknown:
        raise invalid("events", f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENTS)}")
    return wanted


def subscribe(store: HookStore, target_url: str, events: list[str], now: str, allow_loopback: bool = False) -> tuple[Subscription, bool]:
    """The subscription, and whether it is new (the same URL and events: the existing one)."""
    url, names = check_target(target_url, allow_loopback), check_events(events)
    hooks = store.list_hooks()
    for hook in hooks:
        if hook.target_url == url and set(hook.events) == set(names):
            return hook, False
    if len(hooks) >= MAX_HOOKS:
        raise Conflict(f"at most {MAX_HOOKS} hooks; delete one first", {"hooks": len(hooks)})
    hook = Subscription(f"HK{uuid.uuid4().hex}", url, names, secrets.token_urlsafe(32), now)
    store.put_hook(hook)
    return hook, True


def unsubscribe(store: HookStore, hook_id: str) -> Subscription:
    removed = store.delete_hook(hook_id)
    if removed is None:
        raise NotFound("no such hook", {"hook": hook_id})
    return removed


def get_hook(store: HookStore, hook_id: str) -> Subscription:
    hook = store.get_hook(hook_id)
    if hook is None:
        raise NotFound("no such hook", {"hook": hook_id})
    return hook
