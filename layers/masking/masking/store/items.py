"""DynamoDB plumbing shared by the stores: keys, (de)serialization, the table client.

Every key of the one table is built here (the layout is in ``masking.store``'s docstring).
``DynamoTable`` holds the client and the four ways the stores touch the table: BatchGetItem
(retrying unprocessed keys), TransactWriteItems (returning the cancellation reasons),
Query (all pages) and a conditional write that returns False when its condition failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from masking.core.models import Lifecycle, NumberRecord, NumberStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

MESSAGE_RETENTION_SECONDS = 30 * 86400

serializer = TypeSerializer()

deserializer = TypeDeserializer()


def item_key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def to_item(pk: str, sk: str, data: dict[str, Any]) -> dict[str, Any]:
    item = item_key(pk, sk)
    for name, value in data.items():
        if value is None:
            continue
        item[name] = serializer.serialize(value)
    return item


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    data = {k: deserializer.deserialize(v) for k, v in item.items() if k not in ("pk", "sk", "ttl", "entity")}
    return {k: (int(v) if isinstance(v, Decimal) else v) for k, v in data.items()}


def build_record[T](cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def number_key(number: str) -> dict[str, Any]:
    return item_key(f"NUMBER#{number}", "NUMBER")


def provider_key(provider_id: str) -> dict[str, Any]:
    return item_key(f"PROVIDER#{provider_id}", "PROFILE")


def provider_phone_key(phone: str) -> dict[str, Any]:
    return item_key(f"PROVIDERPHONE#{phone}", "PROVIDERPHONE")


def client_key(client_id: str) -> dict[str, Any]:
    return item_key(f"CLIENT#{client_id}", "PROFILE")


def client_phone_key(phone: str) -> dict[str, Any]:
    return item_key(f"CLIENTPHONE#{phone}", "CLIENTPHONE")


def pair_key(provider_id: str, client_id: str) -> dict[str, Any]:
    return item_key(f"PROVIDER#{provider_id}", f"PAIR#{client_id}")


def slot_key(provider_id: str, pool_number: str) -> dict[str, Any]:
    return item_key(f"PROVIDER#{provider_id}", f"SLOT#{pool_number}")


def message_key(message_sid: str) -> dict[str, Any]:
    return item_key(f"MSG#{message_sid}", "MSG")


def number_from(data: dict[str, Any]) -> NumberRecord:
    record = build_record(NumberRecord, data)
    record.lifecycle = Lifecycle(record.lifecycle)
    record.status = NumberStatus(record.status)
    return record


def cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    if reasons:
        return [str(reason.get("Code") or "None") for reason in reasons]
    # moto and some SDK paths only put the reasons in the message: "[None, ConditionalCheckFailed]"
    message = error.response.get("Error", {}).get("Message", "")
    inside = message[message.find("[") + 1 : message.rfind("]")] if "[" in message else ""
    return [part.strip() for part in inside.split(",")] if inside else []


CALL_RETENTION_SECONDS = 30 * 86400  # inbound-call answers and call sessions are kept 30 days


def call_key(call_sid: str) -> dict[str, Any]:
    return item_key(f"VOICE#{call_sid}", "VOICE")


def call_session_key(call_id: str) -> dict[str, Any]:
    return item_key(f"CALL#{call_id}", "CALL")


def call_log_key(provider_id: str, at: str, call_id: str) -> dict[str, Any]:
    """A provider's call history: one pointer per inbound call or call session, sorted by time."""
    return item_key(f"CALLLOG#{provider_id}", f"{at}#{call_id}")


def call_rate_key(provider_id: str, hour: str) -> dict[str, Any]:
    return item_key(f"CALLRATE#{provider_id}", hour)


def conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoTable:
    """The table and its client (created on first use, so importing a store costs nothing)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    # ---- helpers
    def _batch_get(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(5):
            response = self.client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table_name, []):
                found[(item["pk"]["S"], item["sk"]["S"])] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            time.sleep(0.02 * (2**attempt))
        raise RuntimeError("DynamoDB left keys unprocessed after 5 attempts")

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Runs a transaction; returns None on success, else the per-item cancellation codes."""
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            return cancellation_codes(error)
        return None

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            response = self.client.query(TableName=self.table_name, ConsistentRead=True, **kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _conditional(self, write: Callable[[], Any]) -> bool:
        """Runs one conditional write; False when its condition failed (a lost race)."""
        try:
            write()
        except ClientError as error:
            if conditional_failed(error):
                return False
            raise
        return True
