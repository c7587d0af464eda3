"""From the outbox to the hooks queue: one delivery per (event, subscription that wants it).

``dispatch`` runs in the outbox consumer (``airtable_sync``) before it needs Airtable, so
hooks fire whether or not an Airtable base is configured, and nothing runs on a webhook:
the records it reads were published by the webhook's one SendMessageBatch anyway.

A record that is read twice (the outbox redelivers a batch, the mirror's redrive sends a
held record back) queues its deliveries again; the delivered marker
(``masking.hooks.delivery``) keeps a hook from receiving the event twice.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from masking.core.errors import UpstreamError
from masking.core.observability import count, logger
from masking.hooks.delivery import Delivery, HookQueue
from masking.hooks.events import EVENTS, HookEvent, event_from_record, sample
from masking.hooks.subscriptions import get_hook, invalid
from masking.mirror.outbox import MirrorRecord

if TYPE_CHECKING:
    from masking.core.ports import HookStore


def read_events(messages: list[tuple[str, str]]) -> list[tuple[str, HookEvent]]:
    """(SQS message id, event) for the outbox messages that stand for an event."""
    events = []
    for message_id, body in messages:
        try:
            record = MirrorRecord.from_json(body)
        except (ValueError, TypeError, KeyError):
            continue  # the mirror reports an unreadable body
        event = event_from_record(record)
        if event is not None:
            events.append((message_id, event))
    return events


def dispatch(messages: list[tuple[str, str]], store: HookStore, queue: HookQueue) -> dict[str, str]:
    """Queues the deliveries of the batch's events. Answers message id -> reason for the
    messages whose deliveries could not all be queued (SQS delivers those again)."""
    events = read_events(messages)
    if not events:
        return {}
    try:
        hooks = store.list_hooks()
    except Exception:
        logger.exception("hook subscriptions could not be read", extra={"events": len(events)})
        return {message_id: "hook subscriptions unreadable" for message_id, _ in events}
    pending = [(message_id, Delivery(hook.hook_id, event)) for message_id, event in events for hook in hooks if hook.wants(event)]
    count("HookEvents", len(events))
    if not pending:
        return {}
    try:
        unsent = queue.send([delivery for _, delivery in pending])
    except Exception:
        logger.exception("hook deliveries could not be queued", extra={"deliveries": len(pending)})
        unsent = [delivery for _, delivery in pending]
    count("HookDeliveriesQueued", len(pending) - len(unsent))
    return {message_id: "hook delivery not queued" for message_id, delivery in pending if delivery in unsent}


def send_test(store: HookStore, queue: HookQueue, hook_id: str, name: str | None, now: str) -> HookEvent:
    """Queues a sample event (``test: true``, a fresh id) to one hook: what a Catch Hook
    needs to show its fields in the Zap editor. ``name``: one of the hook's events."""
    hook = get_hook(store, hook_id)
    name = name or hook.events[0]
    if name not in EVENTS:
        raise invalid("event", f"unknown event; known: {', '.join(EVENTS)}")
    event = replace(sample(name), id=f"evt_test_{uuid.uuid4().hex[:24]}", occurred_at=now, test=True)
    if queue.send([Delivery(hook.hook_id, event)]):
        raise UpstreamError("the test delivery could not be queued; try again", {"hook": hook_id})
    return event
