"""The MessageSid claim (``MSG#<sid>``): idempotency of every inbound message.

A claim is written when the MessageSid is new, or when the item is the same invocation's
own earlier claim (``claim_token``, one per route call): a retried write whose first
attempt was applied but timed out carries on instead of calling the message a duplicate.
A claim another invocation left unfinished (outcome "received") is taken over once it is
stale (``STALE_CLAIM_SECONDS``): that invocation died, and Twilio sent the request to the
fallback URL, whose replay lands here.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from masking.core.errors import ClaimInProgress, DuplicateMessage, StoreBusy
from masking.core.models import ForwardedPart, MessageRecord, stale_claim
from masking.store.items import MESSAGE_RETENTION_SECONDS, DynamoTable, build_record, from_item, message_key, serializer, to_item


class MessageClaims(DynamoTable):
    def _message_put(self, record: MessageRecord) -> dict[str, Any]:
        """The MessageSid claim: written when the MessageSid is new, or when the item is this
        invocation's own earlier claim (``claim_token``): a retried write whose first attempt
        was applied but timed out carries on instead of calling the message a duplicate."""
        data = asdict(record)
        data["ttl"] = int(time.time()) + MESSAGE_RETENTION_SECONDS
        data["entity"] = "message"
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": to_item(f"MSG#{record.message_sid}", "MSG", data),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if record.claim_token:
            put["ConditionExpression"] = "attribute_not_exists(pk) OR claim_token = :tok"
            put["ExpressionAttributeValues"] = {":tok": {"S": record.claim_token}}
        return {"Put": put}

    def _message_taken(self, record: MessageRecord) -> None:
        """The claim of ``record`` failed its condition: someone else holds the MessageSid.
        A finished message is a duplicate. An unfinished claim (outcome "received") older
        than ``STALE_CLAIM_SECONDS`` belongs to an invocation that died (Twilio then called
        the fallback URL): this invocation takes it over, and the caller writes again.
        A fresh unfinished claim raises ``ClaimInProgress``."""
        response = self._idempotent(
            lambda: self.client.get_item(TableName=self.table_name, Key=message_key(record.message_sid), ConsistentRead=True)
        )
        item = response.get("Item")
        if not item:
            return  # released meanwhile: the caller's next write claims it
        existing = build_record(MessageRecord, from_item(item))
        if existing.outcome != "received":
            raise DuplicateMessage(record.message_sid)
        if not stale_claim(existing, record):
            raise ClaimInProgress(record.message_sid)
        taken = self._conditional(
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=message_key(record.message_sid),
                UpdateExpression="SET claim_token = :mine",
                ConditionExpression="outcome = :received AND claim_token = :theirs",
                ExpressionAttributeValues={
                    ":mine": {"S": record.claim_token},
                    ":theirs": {"S": existing.claim_token},
                    ":received": {"S": "received"},
                },
            )
        )
        if not taken:
            raise ClaimInProgress(record.message_sid)

    def claim_message(self, record: MessageRecord) -> None:
        for _ in range(2):  # a second time after taking over a stale claim
            put = self._message_put(record)["Put"]
            # idempotent: a retry finds its own claim (claim_token) and succeeds
            if self._conditional(lambda put=put: self.client.put_item(**put)):  # type: ignore[misc]
                return
            self._message_taken(record)
        raise StoreBusy("message claim: the MessageSid claim changed hands twice")

    def set_message_outcome(self, message_sid: str, outcome: str, parts: list[ForwardedPart]) -> None:
        forwarded = {part.sid: part.as_map() for part in parts}
        self._idempotent(  # a SET: the same write twice is one write
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=message_key(message_sid),
                UpdateExpression="SET outcome = :o, forwarded = :f",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":o": {"S": outcome}, ":f": serializer.serialize(forwarded)},
            )
        )
