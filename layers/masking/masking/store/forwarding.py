"""Parked-forward parts: exactly one send per (inbound MessageSid, part index).

A forward parked after a transient Twilio failure (``masking.messaging.forwarding``) is
sent part by part. Each part is claimed with a conditional write before it is sent, so a
redelivered or duplicated queue message never sends a part twice:

=========================  ====================  =====================================
pk                         sk                    what
=========================  ====================  =====================================
MSG#<MessageSid>           PART#<index>          state sending / sent / failed, the
                                                 attempt token holding it, its SID (TTL)
=========================  ====================  =====================================

A claim held by an attempt that started before ``stale_before`` (its Lambda died
mid-send) can be taken over; the taker reconciles with Twilio before sending, since the
dead attempt may have reached it. ``DynamoForwardParts`` and ``MemoryForwardParts`` are
mixins of the routing stores and keep the same conditions.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from masking.core.errors import StoreBusy
from masking.core.models import ForwardedPart, MessageRecord
from masking.core.ports import PartClaim
from masking.store.items import MESSAGE_RETENTION_SECONDS, DynamoTable, conditional_failed, from_item, message_key, serializer


def _part_key(message_sid: str, index: int) -> dict[str, Any]:
    return {"pk": {"S": f"MSG#{message_sid}"}, "sk": {"S": f"PART#{index}"}}


def _claim_from(old: dict[str, Any] | None, *, claimed: bool) -> PartClaim:
    """What a claim found: the previous state of the part item (None: never claimed)."""
    if old is None:
        return PartClaim("claimed" if claimed else "busy")
    state = str(old.get("state", ""))
    if state == "sent":
        part = ForwardedPart.from_map(str(old["sid"]), old["part"]) if old.get("part") else None
        return PartClaim("sent", part=part)
    if not claimed:
        return PartClaim("busy")
    # a failed attempt that may have reached Twilio, or one that died while sending
    return PartClaim("claimed", reconcile=bool(old.get("ambiguous")) or state == "sending")


class DynamoForwardParts(DynamoTable):
    def claim_forward_part(self, message_sid: str, index: int, token: str, now_epoch: int, stale_before: int) -> PartClaim:
        try:
            response = self._idempotent(
                lambda: self.client.put_item(
                    TableName=self.table_name,
                    Item={
                        **_part_key(message_sid, index),
                        "state": {"S": "sending"},
                        "token": {"S": token},
                        "at": {"N": str(now_epoch)},
                        "ttl": {"N": str(int(time.time()) + MESSAGE_RETENTION_SECONDS)},
                    },
                    ConditionExpression="attribute_not_exists(pk) OR #state = :failed OR (#state = :sending AND #at < :stale)",
                    ExpressionAttributeNames={"#state": "state", "#at": "at"},
                    ExpressionAttributeValues={
                        ":failed": {"S": "failed"},
                        ":sending": {"S": "sending"},
                        ":stale": {"N": str(stale_before)},
                    },
                    ReturnValues="ALL_OLD",
                )
            )
        except ClientError as error:
            if not conditional_failed(error):
                raise
            found = self._idempotent(
                lambda: self.client.get_item(TableName=self.table_name, Key=_part_key(message_sid, index), ConsistentRead=True)
            )
            return _claim_from(from_item(found["Item"]) if found.get("Item") else None, claimed=False)
        old = response.get("Attributes")
        return _claim_from(from_item(old) if old else None, claimed=True)

    def finish_forward_part(self, message_sid: str, index: int, token: str, part: ForwardedPart | None, ambiguous: bool = False) -> None:
        mine = {"ConditionExpression": "#token = :token", "ExpressionAttributeNames": {"#token": "token", "#state": "state"}}
        if part is None:
            self._idempotent(
                lambda: self.client.update_item(
                    TableName=self.table_name,
                    Key=_part_key(message_sid, index),
                    UpdateExpression="SET #state = :failed, ambiguous = :amb",
                    ExpressionAttributeValues={":failed": {"S": "failed"}, ":amb": {"BOOL": ambiguous}, ":token": {"S": token}},
                    **mine,  # type: ignore[arg-type]
                )
            )
            return
        data = serializer.serialize(part.as_map())
        codes = self._transact(
            [
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _part_key(message_sid, index),
                        "UpdateExpression": "SET #state = :sent, sid = :sid, part = :part",
                        "ExpressionAttributeValues": {
                            ":sent": {"S": "sent"},
                            ":sid": {"S": part.sid},
                            ":part": data,
                            ":token": {"S": token},
                        },
                        **mine,
                    }
                },
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": message_key(message_sid),
                        "UpdateExpression": "SET forwarded.#sid = :part",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": {"#sid": part.sid},
                        "ExpressionAttributeValues": {":part": data},
                    }
                },
            ]
        )
        if codes is not None:  # not this attempt's claim any more, or the message is gone
            raise StoreBusy(f"forward part {index}: finishing it was cancelled ({', '.join(codes)})")


class MemoryForwardParts:
    """The in-memory twin (mixed into ``MemoryRoutingStore``: same lock, same messages)."""

    _lock: threading.Lock
    messages: dict[str, MessageRecord]

    @property
    def forward_parts(self) -> dict[tuple[str, int], dict[str, Any]]:
        parts: dict[tuple[str, int], dict[str, Any]] | None = self.__dict__.get("_forward_parts")
        if parts is None:
            parts = self.__dict__["_forward_parts"] = {}
        return parts

    def claim_forward_part(self, message_sid: str, index: int, token: str, now_epoch: int, stale_before: int) -> PartClaim:
        with self._lock:
            old = self.forward_parts.get((message_sid, index))
            free = old is None or old["state"] == "failed" or (old["state"] == "sending" and int(old["at"]) < stale_before)
            if free:
                self.forward_parts[(message_sid, index)] = {"state": "sending", "token": token, "at": now_epoch}
            return _claim_from(dict(old) if old else None, claimed=free)

    def finish_forward_part(self, message_sid: str, index: int, token: str, part: ForwardedPart | None, ambiguous: bool = False) -> None:
        with self._lock:
            item = self.forward_parts.get((message_sid, index))
            if item is None or item["token"] != token:
                raise RuntimeError("forward part claimed by another attempt")
            if part is None:
                item.update(state="failed", ambiguous=ambiguous)
                return
            record = self.messages.get(message_sid)
            if record is None:
                raise RuntimeError("forward part of an unknown message")
            item.update(state="sent", sid=part.sid, part=part.as_map())
            record.forwarded[part.sid] = part.as_map()
