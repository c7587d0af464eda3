"""What every airtable_sync invocation shares, in DynamoDB: field watermarks, the "quiet
until" time after a 429 or an outage, drifted tables, and the records set aside.

Items (the stack's single table, ``pk``/``sk``):

=============================================  ============================================
``AIRTABLE#WM#<kind>#<key>`` / ``WM``          per field ``f:<field name>`` = the highest
                                               version written to Airtable; a short lease
                                               (``lease_owner``, ``lease_until``) so one
                                               invocation at a time writes a key
``AIRTABLE#CONTROL`` / ``QUIET``               ``until`` (epoch seconds), ``reason``
``AIRTABLE#CONTROL`` / ``DRIFT#<kind>``        ``table``, ``field``, ``error``, ``since``,
                                               ``probed_at``: the table's records are parked
``AIRTABLE#PARKED#<kind>`` / ``<version>#<id>``  one record of a drifted table (its body)
``AIRTABLE#HELD`` / ``<version>#<id>``         one record held during an outage or a 429
=============================================  ============================================

One Query on ``AIRTABLE#CONTROL`` gives an invocation the quiet time and every drift.
The sort keys of parked and held records start with the zero-padded version, so a Query
returns them in version order. Parked and held items keep their body for up to 30 days
(``ttl``); the outbox queue holds the same bodies for 4 days, its DLQ for 14.

``MemoryMirrorState`` is the same contract in memory (unit tests, the benchmark).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

CONTROL_PK = "AIRTABLE#CONTROL"
HELD_PK = "AIRTABLE#HELD"
KEEP_SECONDS = 30 * 86_400


@dataclass(frozen=True, slots=True)
class Drift:
    kind: str
    table: str
    field: str
    error: str
    since: float
    probed_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Control:
    quiet_until: float = 0.0
    quiet_reason: str = ""
    drifts: Mapping[str, Drift] | None = None

    def drift(self, kind: str) -> Drift | None:
        return (self.drifts or {}).get(kind)


@dataclass(frozen=True, slots=True)
class SetAside:
    """A parked or held record: its sort key (for deleting it) and its body."""

    sort_key: str
    body: str


def set_aside_key(version: int, message_id: str) -> str:
    return f"{max(version, 0):020d}#{message_id}"


class MirrorState(Protocol):
    def control(self) -> Control: ...

    def raise_quiet(self, until: float, reason: str) -> None:
        """Sets "quiet until" to ``until`` unless it is already later."""

    def end_quiet(self) -> None: ...

    def claim(self, kind: str, key: str, owner: str, lease_until: float, now: float) -> dict[str, int] | None:
        """Takes the key's write lease; returns its field watermarks, or None when another
        invocation holds an unexpired lease."""

    def commit(self, kind: str, key: str, owner: str, versions: Mapping[str, int]) -> None:
        """Raises the watermarks of the written fields and gives the lease back."""

    def release(self, kind: str, key: str, owner: str) -> None: ...

    def mark_drift(self, drift: Drift) -> bool:
        """True when this call marked the table (so only one caller alerts)."""

    def touch_drift(self, kind: str, at: float) -> None: ...

    def clear_drift(self, kind: str) -> None: ...

    def park(self, kind: str, items: Iterable[tuple[str, str]]) -> None:
        """(sort key, body) pairs of a drifted table's records."""

    def parked(self, kind: str, limit: int | None = None) -> list[SetAside]: ...

    def unpark(self, kind: str, sort_key: str) -> None: ...

    def hold(self, items: Iterable[tuple[str, str]]) -> None: ...

    def held(self, limit: int | None = None) -> list[SetAside]: ...

    def unhold(self, sort_key: str) -> None: ...


# --------------------------------------------------------------------------- memory
class MemoryMirrorState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.quiet_until = 0.0
        self.quiet_reason = ""
        self.drifts: dict[str, Drift] = {}
        self.watermarks: dict[tuple[str, str], dict[str, int]] = {}
        self.leases: dict[tuple[str, str], tuple[str, float]] = {}
        self.parked_items: dict[str, dict[str, str]] = {}
        self.held_items: dict[str, str] = {}

    def control(self) -> Control:
        with self._lock:
            return Control(self.quiet_until, self.quiet_reason, dict(self.drifts))

    def raise_quiet(self, until: float, reason: str) -> None:
        with self._lock:
            if until > self.quiet_until:
                self.quiet_until, self.quiet_reason = until, reason

    def end_quiet(self) -> None:
        with self._lock:
            self.quiet_until, self.quiet_reason = 0.0, ""

    def claim(self, kind: str, key: str, owner: str, lease_until: float, now: float) -> dict[str, int] | None:
        with self._lock:
            holder = self.leases.get((kind, key))
            if holder is not None and holder[0] != owner and holder[1] >= now:
                return None
            self.leases[(kind, key)] = (owner, lease_until)
            return dict(self.watermarks.get((kind, key), {}))

    def commit(self, kind: str, key: str, owner: str, versions: Mapping[str, int]) -> None:
        with self._lock:
            marks = self.watermarks.setdefault((kind, key), {})
            for name, version in versions.items():
                marks[name] = max(marks.get(name, 0), version)
            if self.leases.get((kind, key), ("", 0.0))[0] == owner:
                del self.leases[(kind, key)]

    def release(self, kind: str, key: str, owner: str) -> None:
        with self._lock:
            if self.leases.get((kind, key), ("", 0.0))[0] == owner:
                del self.leases[(kind, key)]

    def mark_drift(self, drift: Drift) -> bool:
        with self._lock:
            if drift.kind in self.drifts:
                return False
            self.drifts[drift.kind] = drift
            return True

    def touch_drift(self, kind: str, at: float) -> None:
        with self._lock:
            if kind in self.drifts:
                old = self.drifts[kind]
                self.drifts[kind] = Drift(old.kind, old.table, old.field, old.error, old.since, at)

    def clear_drift(self, kind: str) -> None:
        with self._lock:
            self.drifts.pop(kind, None)

    def park(self, kind: str, items: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self.parked_items.setdefault(kind, {}).update(items)

    def parked(self, kind: str, limit: int | None = None) -> list[SetAside]:
        with self._lock:
            found = [SetAside(k, v) for k, v in sorted(self.parked_items.get(kind, {}).items())]
        return found[:limit] if limit else found

    def unpark(self, kind: str, sort_key: str) -> None:
        with self._lock:
            self.parked_items.get(kind, {}).pop(sort_key, None)

    def hold(self, items: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            self.held_items.update(items)

    def held(self, limit: int | None = None) -> list[SetAside]:
        with self._lock:
            found = [SetAside(k, v) for k, v in sorted(self.held_items.items())]
        return found[:limit] if limit else found

    def unhold(self, sort_key: str) -> None:
        with self._lock:
            self.held_items.pop(sort_key, None)


# --------------------------------------------------------------------------- DynamoDB
def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float, Decimal)) else 0.0


class DynamoMirrorState:
    """The contract above on the stack's table (GetItem, PutItem, UpdateItem, Query,
    DeleteItem). Conditional writes make the lease, the drift mark and the quiet time
    safe with several invocations at once."""

    def __init__(self, table_name: str, resource: Any = None) -> None:
        if resource is None:
            import boto3
            from botocore.config import Config

            resource = boto3.resource(
                "dynamodb", config=Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=2, read_timeout=5)
            )
        self.table = resource.Table(table_name)

    @staticmethod
    def _ttl() -> int:
        return int(time.time()) + KEEP_SECONDS

    def _conditional_failed(self, error: Exception) -> bool:
        response = getattr(error, "response", None) or {}
        return bool(response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")

    def control(self) -> Control:
        items = self._query(CONTROL_PK)
        quiet_until, reason, drifts = 0.0, "", {}
        for item in items:
            if item["sk"] == "QUIET":
                quiet_until, reason = _number(item.get("until")), str(item.get("reason", ""))
            elif str(item["sk"]).startswith("DRIFT#"):
                kind = str(item["sk"]).removeprefix("DRIFT#")
                drifts[kind] = Drift(
                    kind,
                    str(item.get("table", "")),
                    str(item.get("field", "")),
                    str(item.get("error", "")),
                    _number(item.get("since")),
                    _number(item.get("probed_at")),
                )
        return Control(quiet_until, reason, drifts)

    def raise_quiet(self, until: float, reason: str) -> None:
        try:
            self.table.update_item(
                Key={"pk": CONTROL_PK, "sk": "QUIET"},
                UpdateExpression="SET #until = :until, #reason = :reason",
                ConditionExpression="attribute_not_exists(#until) OR #until < :until",
                ExpressionAttributeNames={"#until": "until", "#reason": "reason"},
                ExpressionAttributeValues={":until": Decimal(str(round(until, 3))), ":reason": reason},
            )
        except Exception as error:
            if not self._conditional_failed(error):
                raise

    def end_quiet(self) -> None:
        self.table.delete_item(Key={"pk": CONTROL_PK, "sk": "QUIET"})

    @staticmethod
    def _wm_key(kind: str, key: str) -> dict[str, str]:
        return {"pk": f"AIRTABLE#WM#{kind}#{key}", "sk": "WM"}

    def claim(self, kind: str, key: str, owner: str, lease_until: float, now: float) -> dict[str, int] | None:
        try:
            answer = self.table.update_item(
                Key=self._wm_key(kind, key),
                UpdateExpression="SET lease_owner = :owner, lease_until = :until, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now OR lease_owner = :owner",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":owner": owner,
                    ":until": Decimal(str(round(lease_until, 3))),
                    ":now": Decimal(str(round(now, 3))),
                    ":ttl": self._ttl(),
                },
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if self._conditional_failed(error):
                return None
            raise
        item = answer.get("Attributes") or {}
        return {name[2:]: int(value) for name, value in item.items() if name.startswith("f:")}

    def commit(self, kind: str, key: str, owner: str, versions: Mapping[str, int]) -> None:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":owner": owner}
        sets = []
        for i, (name, version) in enumerate(versions.items()):
            names[f"#f{i}"] = f"f:{name}"
            values[f":v{i}"] = version
            sets.append(f"#f{i} = :v{i}")
        expression = ("SET " + ", ".join(sets) + " " if sets else "") + "REMOVE lease_owner, lease_until"
        try:
            self.table.update_item(
                Key=self._wm_key(kind, key),
                UpdateExpression=expression,
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except Exception as error:
            if not self._conditional_failed(error):
                raise
            # The lease ran out and another invocation took it: it re-reads these marks.
            from masking.core.observability import logger

            logger.warning("watermark lease lost before commit", extra={"kind": kind})

    def release(self, kind: str, key: str, owner: str) -> None:
        try:
            self.table.update_item(
                Key=self._wm_key(kind, key),
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": owner},
            )
        except Exception as error:
            if not self._conditional_failed(error):
                raise

    def mark_drift(self, drift: Drift) -> bool:
        try:
            self.table.put_item(
                Item={
                    "pk": CONTROL_PK,
                    "sk": f"DRIFT#{drift.kind}",
                    "table": drift.table,
                    "field": drift.field,
                    "error": drift.error,
                    "since": Decimal(str(round(drift.since, 3))),
                    "probed_at": Decimal(str(round(drift.since, 3))),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as error:
            if self._conditional_failed(error):
                return False
            raise
        return True

    def touch_drift(self, kind: str, at: float) -> None:
        self.table.update_item(
            Key={"pk": CONTROL_PK, "sk": f"DRIFT#{kind}"},
            UpdateExpression="SET probed_at = :at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":at": Decimal(str(round(at, 3)))},
        )

    def clear_drift(self, kind: str) -> None:
        self.table.delete_item(Key={"pk": CONTROL_PK, "sk": f"DRIFT#{kind}"})

    def _put_all(self, pk: str, items: Iterable[tuple[str, str]]) -> None:
        ttl = self._ttl()
        for sort_key, body in items:
            self.table.put_item(Item={"pk": pk, "sk": sort_key, "body": body, "ttl": ttl})

    def _query(self, pk: str, limit: int | None = None) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk), "ConsistentRead": True}
        while True:
            if limit:
                kwargs["Limit"] = limit - len(items)
            page = self.table.query(**kwargs)
            items.extend(page.get("Items") or [])
            if "LastEvaluatedKey" not in page or (limit and len(items) >= limit):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _set_aside(self, pk: str, limit: int | None) -> list[SetAside]:
        return [SetAside(str(item["sk"]), str(item.get("body", ""))) for item in self._query(pk, limit)]

    def park(self, kind: str, items: Iterable[tuple[str, str]]) -> None:
        self._put_all(f"AIRTABLE#PARKED#{kind}", items)

    def parked(self, kind: str, limit: int | None = None) -> list[SetAside]:
        return self._set_aside(f"AIRTABLE#PARKED#{kind}", limit)

    def unpark(self, kind: str, sort_key: str) -> None:
        self.table.delete_item(Key={"pk": f"AIRTABLE#PARKED#{kind}", "sk": sort_key})

    def hold(self, items: Iterable[tuple[str, str]]) -> None:
        self._put_all(HELD_PK, items)

    def held(self, limit: int | None = None) -> list[SetAside]:
        return self._set_aside(HELD_PK, limit)

    def unhold(self, sort_key: str) -> None:
        self.table.delete_item(Key={"pk": HELD_PK, "sk": sort_key})
