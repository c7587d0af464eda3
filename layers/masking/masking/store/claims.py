"""The MessageSid claim (``MSG#<sid>``): idempotency of every inbound message.

A claim is written when the MessageSid is new, or when the item is the same invocation's
own earlier claim (``claim_token``, one per route call): a retried write whose first
attempt was applied but timed out carries on instead of calling the message a duplicate.
A claim another invocation left unfinished (outcome "received") is taken over once it is
stale (``STALE_CLAIM_SECONDS``): that invocation died, and Twilio sent the request to the
fallback URL, whose replay lands here.

A forward's claim carries its planned parts (outcome ``FORWARDING``) and the webhook writes
nothing after the send (``masking.messaging.parts``), so such a claim says "about to send,
or sent". It is a duplicate once status callbacks named every planned part; otherwise it
is in progress while fresh, and once stale it is taken over and raises
``UnconfirmedForward``: the taker delivers the *planned* parts, reconciling each with
Twilio first, instead of routing the message again (whose text could differ: the name
prefix of a lease's first message).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from masking.core.errors import ClaimInProgress, DuplicateMessage, StoreBusy, UnconfirmedForward
from masking.core.models import FORWARDING, ForwardedPart, MessageRecord, stale_claim
from masking.store.items import MESSAGE_RETENTION_SECONDS, DynamoTable, build_record, from_item, message_key, serializer, to_item


def take_over(existing: MessageRecord, attempt: MessageRecord) -> None:
    """What the claim ``attempt`` does about ``existing``, another invocation's claim of the
    same MessageSid: returns when it may take it over (stale and unfinished), else raises
    ``DuplicateMessage`` (finished) or ``ClaimInProgress`` (fresh). Both stores decide here."""
    if existing.outcome == FORWARDING:
        if set(range(len(existing.planned))) <= existing.named_parts().keys():
            raise DuplicateMessage(attempt.message_sid)  # Twilio reported every planned part
    elif existing.outcome != "received":
        raise DuplicateMessage(attempt.message_sid)
    if not stale_claim(existing, attempt):
        raise ClaimInProgress(attempt.message_sid, existing)


def unconfirmed(existing: MessageRecord) -> None:
    """After a takeover: a planned forward is delivered as planned, not routed again."""
    if existing.outcome == FORWARDING:
        raise UnconfirmedForward(existing)


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
        A finished message is a duplicate. An unfinished claim older than
        ``STALE_CLAIM_SECONDS`` belongs to an invocation that died (Twilio then called the
        fallback URL): this invocation takes it over, and the caller writes again (or, for
        a planned forward, delivers it: ``UnconfirmedForward``). A fresh unfinished claim
        raises ``ClaimInProgress`` (``take_over``)."""
        existing = self.get_message(record.message_sid)
        if existing is None:
            return  # released meanwhile: the caller's next write claims it
        take_over(existing, record)
        taken = self._conditional(
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=message_key(record.message_sid),
                UpdateExpression="SET claim_token = :mine",
                ConditionExpression="outcome = :outcome AND claim_token = :theirs",
                ExpressionAttributeValues={
                    ":mine": {"S": record.claim_token},
                    ":theirs": {"S": existing.claim_token},
                    ":outcome": {"S": existing.outcome},
                },
            )
        )
        if not taken:
            raise ClaimInProgress(record.message_sid)
        unconfirmed(existing)

    def get_message(self, message_sid: str) -> MessageRecord | None:
        response = self._idempotent(
            lambda: self.client.get_item(TableName=self.table_name, Key=message_key(message_sid), ConsistentRead=True)
        )
        item = response.get("Item")
        if not item:
            return None
        record = build_record(MessageRecord, from_item(item))
        record.delivery = {
            sid: {k: int(v) if isinstance(v, Decimal) else v for k, v in entry.items()} for sid, entry in record.delivery.items()
        }
        return record

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
