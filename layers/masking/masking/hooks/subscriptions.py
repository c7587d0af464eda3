"""Hook subscriptions: who wants which events, at which URL, signed with which secret.

Zapier's REST Hook convention (https://zapier.com/developer/documentation/v2/rest-hooks/):
the subscribe call sends a ``target_url`` and an ``event`` and gets ``201`` with an ``id``;
the unsubscribe call is ``DELETE /hooks/{id}``; a ``410`` answer to a delivery removes the
subscription (``masking.hooks.delivery``). Subscribing the same URL to the same events
again answers the existing subscription (``200``), so a replayed subscribe adds nothing.
"""

from __future__ import annotations

import ipaddress
import secrets
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


def _invalid(field: str, problem: str) -> Unprocessable:
    return Unprocessable("invalid request", [{"field": field, "problem": problem}])


def check_target(url: str, allow_loopback: bool = False) -> str:
    """An https URL on a public host (``http://127.0.0.1`` / ``localhost`` too when the
    local runner allows loopback). An IP literal must be a public address."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        raise _invalid("target_url", "not a valid URL") from None
    loopback = allow_loopback and parts.scheme in ("http", "https") and host in LOOPBACK_HOSTS
    if parts.scheme != "https" and not loopback:
        raise _invalid("target_url", "must be an https URL")
    if not host:
        raise _invalid("target_url", "has no host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise _invalid("target_url", "must not carry credentials or a fragment")
    if len(url) > MAX_URL_LENGTH:
        raise _invalid("target_url", f"longer than {MAX_URL_LENGTH} characters")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if not loopback and (host == "localhost" or (address is not None and not address.is_global)):
        raise _invalid("target_url", "must be a public host")
    return url


def check_events(names: list[str]) -> list[str]:
    """Known event names, each once, in the order given."""
    wanted = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not wanted:
        raise _invalid("events", f"at least one of {', '.join(EVENTS)}")
    unknown = [name for name in wanted if name not in EVENTS]
    if unknown:
        raise _invalid("events", f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENTS)}")
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
