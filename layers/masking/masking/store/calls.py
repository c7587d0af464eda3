"""Voice state: inbound-call answers, click-to-call sessions and their hourly rate limit.

Adds to the key layout of ``store/dynamo.py`` and ``store/admin.py``:

=========================  ====================  =====================================
pk                         sk                    what
=========================  ====================  =====================================
VOICE#<CallSid>            VOICE                 an inbound call: the TwiML we answered
                                                 (idempotency), the dial outcome (TTL)
CALL#<call session id>     CALL                  a click-to-call session (TTL)
CALLRATE#<provider id>     <YYYY-MM-DDTHH>       calls started by the provider in that
                                                 clock hour (atomic counter, TTL)
=========================  ====================  =====================================

Every write is conditional on a key: an inbound call's answer is stored with
``attribute_not_exists`` (a replayed CallSid gets the stored answer), in the same
transaction as the lease touch; a session's status only moves forward
(``status_rank < :rank``); a dial outcome is written once; the rate counter is an
``ADD`` under ``count < limit``, so concurrent requests cannot pass the limit.

``MemoryCallStore`` is the in-memory twin for unit tests, with the same conditions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from masking.models import Client, Lease, Provider
from masking.store.admin import DynamoAdminStore
from masking.store.base import InboundLookup, LeaseConflict, RoutingStore
from masking.store.dynamo import _build, _from_item, _key, _number_from, _to_item
from masking.store.memory import MemoryRoutingStore

CALL_RETENTION_SECONDS = 30 * 86400  # inbound-call answers and call sessions are kept 30 days


class DuplicateCall(Exception):
    """This CallSid was answered already (Twilio retried, or a replay)."""


@dataclass(slots=True)
class CallRecord:
    """What we answered to one inbound call (``POST /twilio/voice``), by CallSid."""

    call_sid: str
    received_at: str
    direction: str  # client_to_provider, provider_to_client, unrouted
    outcome: str  # bridged, unknown_caller, unknown_number, expired, pool_exhausted, own_number...
    twiml: str
    provider_id: str | None = None
    client_id: str | None = None
    lease_id: str | None = None
    caller_id: str | None = None  # the number the dialed party sees
    dial_status: str | None = None  # from the <Dial> action: completed, busy, no-answer, failed, canceled
    dial_duration: int | None = None
    updated_at: str | None = None


@dataclass(slots=True)
class CallSession:
    """A click-to-call request: ring the provider, then bridge to the client."""

    call_id: str  # CS + 32 hex
    provider_id: str
    client_id: str
    client_name: str
    client_phone: str
    provider_phone: str
    reserved_number: str
    created_at: str
    expires_at: int  # epoch seconds: the bridge refuses the session after this
    status: str = "initiated"
    status_rank: int = 1
    reference: str | None = None
    call_sid: str | None = None  # the provider leg (what create_call returned)
    duration: int | None = None  # the provider leg, seconds
    dial_status: str | None = None  # the client leg (the <Dial> action)
    dial_duration: int | None = None
    dial_call_sid: str | None = None
    record: bool = False
    updated_at: str | None = None


@dataclass(slots=True)
class StatusChange:
    """One status update for a call session."""

    call_id: str
    status: str
    rank: int
    at: str
    call_sid: str | None = None
    duration: int | None = None


@dataclass(slots=True)
class DialOutcome:
    """How the <Dial> of a call ended (its action request)."""

    status: str
    at: str
    duration: int | None = None
    dial_call_sid: str | None = None


class CallStore(RoutingStore, Protocol):
    """What the voice flows need: the routing store (lease allocation) plus the items above."""

    # ---- people (admin reads)
    def get_provider(self, provider_id: str) -> Provider | None: ...

    def get_client(self, client_id: str) -> Client | None: ...

    def find_client(self, *, phone: str | None = None, external_id: str | None = None) -> Client | None: ...

    # ---- inbound calls
    def lookup_call(self, to_number: str, from_phone: str, call_sid: str) -> tuple[InboundLookup, CallRecord | None]:
        """One read: the number called, the caller as client and as provider, and our
        earlier answer to this CallSid if any."""
        ...

    def touch_lease_for_call(self, lease: Lease, last_activity_at: str, expires_at: int, record: CallRecord) -> Lease:
        """Extends an active lease and stores the call's answer, atomically.

        Raises DuplicateCall when the CallSid was answered, LeaseConflict when the lease moved.
        """
        ...

    def claim_call(self, record: CallRecord) -> None:
        """Stores the answer of a call that touches no lease. Raises DuplicateCall."""
        ...

    def get_call(self, call_sid: str) -> CallRecord | None: ...

    def record_call_dial(self, call_sid: str, outcome: DialOutcome) -> CallRecord | None:
        """Stores the dial outcome once; None when it was stored already or the call is unknown."""
        ...

    # ---- click-to-call sessions
    def take_call_slot(self, provider_id: str, hour: str, limit: int, expires_at: int) -> int | None:
        """Counts one call for the provider in ``hour``; the new count, or None at the limit."""
        ...

    def give_back_call_slot(self, provider_id: str, hour: str) -> None: ...

    def create_call_session(self, session: CallSession) -> None: ...

    def get_call_session(self, call_id: str) -> CallSession | None: ...

    def set_call_session_sid(self, call_id: str, call_sid: str) -> None: ...

    def update_call_status(self, change: StatusChange) -> CallSession | None:
        """Moves the session's status forward; None (nothing changed) for a status that
        is not later than the stored one, or an unknown session."""
        ...

    def record_session_dial(self, call_id: str, outcome: DialOutcome) -> CallSession | None:
        """Stores the client leg's outcome once; None when it was stored already."""
        ...


# ---------------------------------------------------------------- DynamoDB


def call_key(call_sid: str) -> dict[str, Any]:
    return _key(f"VOICE#{call_sid}", "VOICE")


def call_session_key(call_id: str) -> dict[str, Any]:
    return _key(f"CALL#{call_id}", "CALL")


def call_rate_key(provider_id: str, hour: str) -> dict[str, Any]:
    return _key(f"CALLRATE#{provider_id}", hour)


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoCallStore(DynamoAdminStore):
    # ---- inbound calls
    def _call_put(self, record: CallRecord) -> dict[str, Any]:
        data = asdict(record)
        data["ttl"] = int(time.time()) + CALL_RETENTION_SECONDS
        data["entity"] = "call"
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": _to_item(f"VOICE#{record.call_sid}", "VOICE", data),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def lookup_call(self, to_number: str, from_phone: str, call_sid: str) -> tuple[InboundLookup, CallRecord | None]:
        keys = [_key(f"NUMBER#{to_number}", "NUMBER"), _key(f"CLIENTPHONE#{from_phone}", "CLIENTPHONE")]
        keys += [_key(f"PROVIDERPHONE#{from_phone}", "PROVIDERPHONE"), call_key(call_sid)]
        found = self._batch_get(keys)
        number = found.get((f"NUMBER#{to_number}", "NUMBER"))
        client = found.get((f"CLIENTPHONE#{from_phone}", "CLIENTPHONE"))
        provider = found.get((f"PROVIDERPHONE#{from_phone}", "PROVIDERPHONE"))
        answered = found.get((f"VOICE#{call_sid}", "VOICE"))
        lookup = InboundLookup(
            number=_number_from(_from_item(number)) if number else None,
            client=_build(Client, _from_item(client)) if client else None,
            provider_id=_from_item(provider)["provider_id"] if provider else None,
        )
        return lookup, (_build(CallRecord, _from_item(answered)) if answered else None)

    def touch_lease_for_call(self, lease: Lease, last_activity_at: str, expires_at: int, record: CallRecord) -> Lease:
        codes = self._transact([self._call_put(record), *self.lease_touch_items(lease, last_activity_at, expires_at)])
        if codes is not None:
            if codes and codes[0] == "ConditionalCheckFailed":
                raise DuplicateCall(record.call_sid)
            raise LeaseConflict(lease.lease_id)
        return replace(lease, last_activity_at=last_activity_at, expires_at=expires_at)

    def claim_call(self, record: CallRecord) -> None:
        try:
            self.client.put_item(**self._call_put(record)["Put"])
        except ClientError as error:
            if _conditional_failed(error):
                raise DuplicateCall(record.call_sid) from error
            raise

    def get_call(self, call_sid: str) -> CallRecord | None:
        item = self.client.get_item(TableName=self.table_name, Key=call_key(call_sid), ConsistentRead=True).get("Item")
        return _build(CallRecord, _from_item(item)) if item else None

    def record_call_dial(self, call_sid: str, outcome: DialOutcome) -> CallRecord | None:
        return self._record_dial(call_key(call_sid), outcome, CallRecord, with_call_sid=False)

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
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#ds)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return _build(cls, _from_item(response["Attributes"]))

    # ---- click-to-call sessions
    def take_call_slot(self, provider_id: str, hour: str, limit: int, expires_at: int) -> int | None:
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=call_rate_key(provider_id, hour),
                UpdateExpression="ADD #calls :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#calls) OR #calls < :limit",
                ExpressionAttributeNames={"#calls": "calls", "#ttl": "ttl"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)}, ":ttl": {"N": str(expires_at)}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return int(response["Attributes"]["calls"]["N"])

    def give_back_call_slot(self, provider_id: str, hour: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=call_rate_key(provider_id, hour),
                UpdateExpression="ADD #calls :minus",
                ConditionExpression="#calls > :zero",
                ExpressionAttributeNames={"#calls": "calls"},
                ExpressionAttributeValues={":minus": {"N": "-1"}, ":zero": {"N": "0"}},
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise

    def create_call_session(self, session: CallSession) -> None:
        data = asdict(session)
        data["ttl"] = int(time.time()) + CALL_RETENTION_SECONDS
        data["entity"] = "call_session"
        self.client.put_item(
            TableName=self.table_name,
            Item=_to_item(f"CALL#{session.call_id}", "CALL", data),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_call_session(self, call_id: str) -> CallSession | None:
        item = self.client.get_item(TableName=self.table_name, Key=call_session_key(call_id), ConsistentRead=True).get("Item")
        return _build(CallSession, _from_item(item)) if item else None

    def set_call_session_sid(self, call_id: str, call_sid: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=call_session_key(call_id),
                UpdateExpression="SET call_sid = :sid",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(call_sid) OR call_sid = :sid)",
                ExpressionAttributeValues={":sid": {"S": call_sid}},
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise

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
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=call_session_key(change.call_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk) AND #rank < :rank",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return _build(CallSession, _from_item(response["Attributes"]))

    def record_session_dial(self, call_id: str, outcome: DialOutcome) -> CallSession | None:
        return self._record_dial(call_session_key(call_id), outcome, CallSession, with_call_sid=True)


def call_store_for(store: Any) -> CallStore:
    """The call store behind an admin context's store (the same table)."""
    if hasattr(store, "create_call_session"):
        return store  # type: ignore[no-any-return]
    return DynamoCallStore(store.table_name, store.client)


# ---------------------------------------------------------------- in memory


class MemoryCallStore(MemoryRoutingStore):
    """The in-memory twin: the routing store plus the voice items, same conditions."""

    def __init__(self) -> None:
        super().__init__()
        self.answered_calls: dict[str, CallRecord] = {}
        self.call_sessions: dict[str, CallSession] = {}
        self.call_rates: dict[tuple[str, str], int] = {}

    # ---- people
    def get_provider(self, provider_id: str) -> Provider | None:
        with self._lock:
            provider = self.providers.get(provider_id)
            return replace(provider) if provider else None

    def get_client(self, client_id: str) -> Client | None:
        with self._lock:
            client = self.clients.get(client_id)
            return replace(client) if client else None

    def find_client(self, *, phone: str | None = None, external_id: str | None = None) -> Client | None:
        with self._lock:
            if external_id:
                for client in self.clients.values():
                    if client.external_id == external_id:
                        return replace(client)
            client_id = self.client_by_phone.get(phone) if phone else None
            return replace(self.clients[client_id]) if client_id else None

    # ---- inbound calls
    def lookup_call(self, to_number: str, from_phone: str, call_sid: str) -> tuple[InboundLookup, CallRecord | None]:
        lookup = self.lookup_inbound(to_number, from_phone)
        with self._lock:
            answered = self.answered_calls.get(call_sid)
            return lookup, (replace(answered) if answered else None)

    def touch_lease_for_call(self, lease: Lease, last_activity_at: str, expires_at: int, record: CallRecord) -> Lease:
        with self._lock:
            self._count("touch_lease_for_call")
            if record.call_sid in self.answered_calls:
                raise DuplicateCall(record.call_sid)
            touched = self._touch_unlocked(lease, last_activity_at, expires_at)
            self.answered_calls[record.call_sid] = replace(record)
            return touched

    def claim_call(self, record: CallRecord) -> None:
        with self._lock:
            self._count("claim_call")
            if record.call_sid in self.answered_calls:
                raise DuplicateCall(record.call_sid)
            self.answered_calls[record.call_sid] = replace(record)

    def get_call(self, call_sid: str) -> CallRecord | None:
        with self._lock:
            record = self.answered_calls.get(call_sid)
            return replace(record) if record else None

    def record_call_dial(self, call_sid: str, outcome: DialOutcome) -> CallRecord | None:
        with self._lock:
            record = self.answered_calls.get(call_sid)
            if record is None or record.dial_status is not None:
                return None
            record.dial_status, record.updated_at = outcome.status, outcome.at
            if outcome.duration is not None:
                record.dial_duration = outcome.duration
            return replace(record)

    # ---- click-to-call sessions
    def take_call_slot(self, provider_id: str, hour: str, limit: int, expires_at: int) -> int | None:
        with self._lock:
            current = self.call_rates.get((provider_id, hour), 0)
            if current >= limit:
                return None
            self.call_rates[(provider_id, hour)] = current + 1
            return current + 1

    def give_back_call_slot(self, provider_id: str, hour: str) -> None:
        with self._lock:
            if self.call_rates.get((provider_id, hour), 0) > 0:
                self.call_rates[(provider_id, hour)] -= 1

    def create_call_session(self, session: CallSession) -> None:
        with self._lock:
            if session.call_id in self.call_sessions:
                raise ValueError(f"call session {session.call_id} exists")
            self.call_sessions[session.call_id] = replace(session)

    def get_call_session(self, call_id: str) -> CallSession | None:
        with self._lock:
            session = self.call_sessions.get(call_id)
            return replace(session) if session else None

    def set_call_session_sid(self, call_id: str, call_sid: str) -> None:
        with self._lock:
            session = self.call_sessions.get(call_id)
            if session is not None and session.call_sid is None:
                session.call_sid = call_sid

    def update_call_status(self, change: StatusChange) -> CallSession | None:
        with self._lock:
            session = self.call_sessions.get(change.call_id)
            if session is None or session.status_rank >= change.rank:
                return None
            session.status, session.status_rank, session.updated_at = change.status, change.rank, change.at
            if change.call_sid and session.call_sid is None:
                session.call_sid = change.call_sid
            if change.duration is not None:
                session.duration = change.duration
            return replace(session)

    def record_session_dial(self, call_id: str, outcome: DialOutcome) -> CallSession | None:
        with self._lock:
            session = self.call_sessions.get(call_id)
            if session is None or session.dial_status is not None:
                return None
            session.dial_status, session.updated_at = outcome.status, outcome.at
            if outcome.duration is not None:
                session.dial_duration = outcome.duration
            if outcome.dial_call_sid:
                session.dial_call_sid = outcome.dial_call_sid
            return replace(session)


__all__ = [
    "CallRecord",
    "CallSession",
    "CallStore",
    "DialOutcome",
    "DuplicateCall",
    "DynamoCallStore",
    "MemoryCallStore",
    "StatusChange",
    "call_store_for",
]
