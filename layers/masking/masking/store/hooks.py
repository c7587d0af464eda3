"""Hook subscriptions and delivered markers (``masking.core.ports.HookStore``), on the
table and in memory.

=========================  ====================  =====================================
pk                         sk                    what
=========================  ====================  =====================================
HOOKS                      <hook id>             a subscription: target URL, events,
                                                 signing secret, created at
HOOKSENT#<hook id>         <event id>            the hook acknowledged the event (TTL)
=========================  ====================  =====================================

Listing the subscriptions is one Query on ``HOOKS`` (at most ``MAX_HOOKS`` items).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from masking.hooks.subscriptions import Subscription
from masking.store.items import DynamoTable, build_record, from_item, item_key, to_item

HOOKS_PK = "HOOKS"


def _sent_key(hook_id: str, event_id: str) -> dict[str, Any]:
    return item_key(f"HOOKSENT#{hook_id}", event_id)


def _hook(item: dict[str, Any]) -> Subscription:
    return build_record(Subscription, from_item(item))


class DynamoHookStore(DynamoTable):
    def put_hook(self, hook: Subscription) -> None:
        item = to_item(HOOKS_PK, hook.hook_id, {**asdict(hook), "entity": "hook"})
        self._idempotent(lambda: self.client.put_item(TableName=self.table_name, Item=item))

    def get_hook(self, hook_id: str) -> Subscription | None:
        key = item_key(HOOKS_PK, hook_id)
        item = self._idempotent(lambda: self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)).get("Item")
        return _hook(item) if item else None

    def list_hooks(self) -> list[Subscription]:
        items = self._query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": HOOKS_PK}})
        return [_hook(item) for item in items]

    def delete_hook(self, hook_id: str) -> Subscription | None:
        key = item_key(HOOKS_PK, hook_id)
        answer = self._idempotent(lambda: self.client.delete_item(TableName=self.table_name, Key=key, ReturnValues="ALL_OLD"))
        old = answer.get("Attributes")
        return _hook(old) if old else None

    def delivered(self, hook_id: str, event_id: str) -> bool:
        key = _sent_key(hook_id, event_id)
        return "Item" in self._idempotent(lambda: self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True))

    def mark_delivered(self, hook_id: str, event_id: str, expires_at: int) -> bool:
        """False when the marker was there already (two copies of a delivery raced)."""
        item = {**_sent_key(hook_id, event_id), "entity": {"S": "hook_sent"}, "ttl": {"N": str(expires_at)}}
        return self._put_if(Item=item, ConditionExpression="attribute_not_exists(pk)")


@dataclass
class MemoryHookStore:
    hooks: dict[str, Subscription] = field(default_factory=dict)
    sent: dict[tuple[str, str], int] = field(default_factory=dict)

    def put_hook(self, hook: Subscription) -> None:
        self.hooks[hook.hook_id] = hook

    def get_hook(self, hook_id: str) -> Subscription | None:
        return self.hooks.get(hook_id)

    def list_hooks(self) -> list[Subscription]:
        return sorted(self.hooks.values(), key=lambda hook: hook.hook_id)

    def delete_hook(self, hook_id: str) -> Subscription | None:
        return self.hooks.pop(hook_id, None)

    def delivered(self, hook_id: str, event_id: str) -> bool:
        return (hook_id, event_id) in self.sent

    def mark_delivered(self, hook_id: str, event_id: str, expires_at: int) -> bool:
        if (hook_id, event_id) in self.sent:
            return False
        self.sent[(hook_id, event_id)] = expires_at
        return True
