"""DynamoDB voice state: inbound-call answers, click-to-call sessions and their hourly
rate limit (``masking.core.ports.CallStore``).

Every write is conditional on a key: an inbound call's answer is stored with
``attribute_not_exists`` (a replayed CallSid gets the stored answer), in the same
transaction as the lease touch; a session's status only moves forward
(``status_rank < :rank``); a dial outcome is written once; the rate counter is an
``ADD`` under ``count < limit``, so concurrent requests cannot pass the limit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any

from botocore.exceptions import ClientError

from masking.core.call_records import CallRecord, CallSession, DialOutcome, StatusChange
from masking.core.errors import DuplicateCall, LeaseConflict
from masking.core.models import Client, InboundLookup, Lease
from masking.core.ports import CallStore
from masking.store.admin import DynamoAdminStore
from masking.store.items import (
    CALL_RETENTION_SECONDS,
    build_record,
    call_key,
    call_log_key,
    call_rate_key,
    call_session_key,
    conditional_failed,
    from_item,
    item_key,
    number_from,
    to_item,
)


class DynamoCallStore(DynamoAdminStore):
    # ---- inbound calls
    def _call_put(self, record: CallRecord) -> dict[str, Any]:
        data = asdict(record)
        data["ttl"] = int(time.time()) + CALL_RETENTION_SECONDS
        data["entity"] = "call"
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": to_item(f"VOICE#{record.call_sid}", "VOICE", data),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _log_put(self, provider_id: str | None, at: str, ref: dict[str, Any], client_id: str | None) -> list[dict[str, Any]]:
        """The call-history pointer of a call (none for a call that reached no provider)."""
        if not provider_id:
            return []
        data = {
            "ref_pk": ref["pk"]["S"],
            "ref_sk": ref["sk"]["S"],
            "client_id": client_id or "",
            "ttl": int(time.time()) + CALL_RETENTION_SECONDS,
        }
        key = call_log_key(provider_id, at, ref["pk"]["S"].split("#", 1)[1])
        return [{"Put": {"TableName": self.table_name, "Item": to_item(key["pk"]["S"], key["sk"]["S"], data)}}]

    def _call_log(self, record: CallRecord) -> list[dict[str, Any]]:
        return self._log_put(record.provider_id, record.received_at, call_key(record.call_sid), record.client_id)

    def lookup_call(self, to_number: str, from_phone: str, call_sid: str) -> tuple[InboundLookup, CallRecord | None]:
        keys = [item_key(f"NUMBER#{to_number}", "NUMBER"), item_key(f"CLIENTPHONE#{from_phone}", "CLIENTPHONE")]
        keys += [item_key(f"PROVIDERPHONE#{from_phone}", "PROVIDERPHONE"), call_key(call_sid)]
        found = self._batch_get(keys)
        number = found.get((f"NUMBER#{to_number}", "NUMBER"))
        client = found.get((f"CLIENTPHONE#{from_phone}", "CLIENTPHONE"))
        provider = found.get((f"PROVIDERPHONE#{from_phone}", "PROVIDERPHONE"))
        answered = found.get((f"VOICE#{call_sid}", "VOICE"))
        lookup = InboundLookup(
            number=number_from(from_item(number)) if number else None,
            client=build_record(Client, from_item(client)) if client else None,
            provider_id=from_item(provider)["provider_id"] if provider else None,
        )
        return lookup, (build_record(CallRecord, from_item(answered)) if answered else None)

    def touch_lease_for_call(self, lease: Lease, last_activity_at: str, expires_at: int, record: CallRecord) -> Lease:
        codes = self._transact(
            [self._call_put(record), *self.lease_touch_items(lease, last_activity_at, expires_at), *self._call_log(record)]
        )
        if codes is not None:
            if codes and codes[0] == "ConditionalCheckFailed":
                raise DuplicateCall(record.call_sid)
            raise LeaseConflict(lease.lease_id)
        return replace(lease, last_activity_at=last_activity_at, expires_at=expires_at)

    def claim_call(self, record: CallRecord) -> None:
        try:
            self.client.put_item(**self._call_put(record)["Put"])
        except ClientError as error:
            if conditional_failed(error):
                raise DuplicateCall(record.call_sid) from error
            raise
        for log in self._call_log(record):
            self.client.put_item(**log["Put"])

    def get_call(self, call_sid: str) -> CallRecord | None:
        item = self.client.get_item(TableName=self.table_name, Key=call_key(call_sid), ConsistentRead=True).get("Item")
        return build_record(CallRecord, from_item(item)) if item else None

    def record_call_dial(self, call_sid: str, outcome: DialOutcome) -> CallRecord | None:
        return self._record_dial(call_key(call_sid), outcome, CallRecord, with_call_sid=False)

    def update_call_once(self, call_sid: str, values: dict[str, object], once: str) -> CallRecord | None:
        names = {f"#f{i}": name for i, name in enumerate(values)}
        names["#once"] = once
        item = to_item("x", "x", dict(values))
        attrs = {f":v{i}": item[name] for i, name in enumerate(values)}
        return self._update_record(
            CallRecord,
            call_key(call_sid),
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#once)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attrs,
        )

    def list_calls(self, provider_id: str, client_id: str | None = None, limit: int = 50) -> list[CallRecord | CallSession]:
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"CALLLOG#{provider_id}"}},
            "ScanIndexForward": False,
        }
        if client_id:
            query["FilterExpression"] = "client_id = :cid"
            query["ExpressionAttributeValues"][":cid"] = {"S": client_id}
        pointers: list[dict[str, Any]] = []
        while len(pointers) < limit:
            page = self.client.query(**query)
            pointers += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        refs = [item_key(p["ref_pk"]["S"], p["ref_sk"]["S"]) for p in pointers[:limit]]
        found = self._batch_get(refs) if refs else {}
        calls: list[CallRecord | CallSession] = []
        for ref in refs:
            item = found.get((ref["pk"]["S"], ref["sk"]["S"]))
            if item is not None:
                session = ref["sk"]["S"] == "CALL"
                calls.append(build_record(CallSession, from_item(item)) if session else build_record(CallRecord, from_item(item)))
        return calls

    def _record_dial[T](self, key: dict[str, Any], outcome: DialOutcome, cls: type[T], with_call_sid: bool) -> T | None:
        names = {"#ds": "dial_status", "#at": "updated_at"}
        values: dict[str, Any] = {":ds": {"S": outcome.status}, ":at": {"S": outcome.at}}
        sets = ["#ds = :ds", "#at = :at"]
        if outcome.duration is not None:
            names["#dd"] = "dial_duration"
            values[":dd"] = {"N": str(outcome.duration)}
            sets.append("#dd = :dd")
        if with_call_sid and outcome.dial_call_sid:
            names["#dc"] = "dial_call_sid"
            values[":dc"] = {"S": outcome.dial_call_sid}
            sets.append("#dc = :dc")
        return self._update_record(
            cls,
            key,
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#ds)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    # ---- click-to-call sessions
    def take_call_slot(self, provider_id: str, hour: str, limit: int, expires_at: int) -> int | None:
        return self.take_counter(call_rate_key(provider_id, hour), "calls", limit, expires_at)

    def give_back_call_slot(self, provider_id: str, hour: str) -> None:
        self._update_if(
            call_rate_key(provider_id, hour),
            UpdateExpression="ADD #calls :minus",
            ConditionExpression="#calls > :zero",
            ExpressionAttributeNames={"#calls": "calls"},
            ExpressionAttributeValues={":minus": {"N": "-1"}, ":zero": {"N": "0"}},
        )

    def create_call_session(self, session: CallSession) -> None:
        data = asdict(session)
        data["ttl"] = int(time.time()) + CALL_RETENTION_SECONDS
        data["entity"] = "call_session"
        self.client.put_item(
            TableName=self.table_name,
            Item=to_item(f"CALL#{session.call_id}", "CALL", data),
            ConditionExpression="attribute_not_exists(pk)",
        )
        for log in self._log_put(session.provider_id, session.created_at, call_session_key(session.call_id), session.client_id):
            self.client.put_item(**log["Put"])

    def get_call_session(self, call_id: str) -> CallSession | None:
        item = self.client.get_item(TableName=self.table_name, Key=call_session_key(call_id), ConsistentRead=True).get("Item")
        return build_record(CallSession, from_item(item)) if item else None

    def set_call_session_sid(self, call_id: str, call_sid: str) -> None:
        self._update_if(
            call_session_key(call_id),
            UpdateExpression="SET call_sid = :sid",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(call_sid) OR call_sid = :sid)",
            ExpressionAttributeValues={":sid": {"S": call_sid}},
        )

    def update_call_status(self, change: StatusChange) -> CallSession | None:
        names = {"#status": "status", "#rank": "status_rank", "#at": "updated_at"}
        values: dict[str, Any] = {":status": {"S": change.status}, ":rank": {"N": str(change.rank)}, ":at": {"S": change.at}}
        sets = ["#status = :status", "#rank = :rank", "#at = :at"]
        if change.call_sid:
            names["#sid"] = "call_sid"
            values[":sid"] = {"S": change.call_sid}
            sets.append("#sid = if_not_exists(#sid, :sid)")
        if change.duration is not None:
            names["#duration"] = "duration"
            values[":duration"] = {"N": str(change.duration)}
            sets.append("#duration = :duration")
        return self._update_record(
            CallSession,
            call_session_key(change.call_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk) AND #rank < :rank",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def record_session_dial(self, call_id: str, outcome: DialOutcome) -> CallSession | None:
        return self._record_dial(call_session_key(call_id), outcome, CallSession, with_call_sid=True)


def call_store_for(store: Any) -> CallStore:
    """The call store behind an admin context's store (the same table)."""
    if hasattr(store, "create_call_session"):
        return store  # type: ignore[no-any-return]
    return DynamoCallStore(store.table_name, store.client)


# ---------------------------------------------------------------- in memory
