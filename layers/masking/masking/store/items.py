"""DynamoDB plumbing shared by the stores: keys, (de)serialization, the table client.

Every key of the one table is built here (the layout is in ``masking.store``'s docstring).
``DynamoTable`` holds the client and the four ways the stores touch the table: BatchGetItem
(retrying unprocessed keys), TransactWriteItems (returning the cancellation reasons),
Query (all pages) and a conditional write that returns False when its condition failed.

Faults (docs/architecture.md; research: /work/research/aws.md section 4):

- the client uses botocore's ``adaptive`` retry mode (standard retries of throttling, 5xx
  and connection errors plus a client-side rate limiter) and bounded connect/read timeouts
  (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html);
- a ``TransactionConflict`` (or a throttle) only ever shows up as a cancellation reason
  inside ``TransactionCanceledException``, which botocore never retries
  (https://github.com/pynamodb/PynamoDB/issues/1264): ``_transact`` retries it with
  backoff. After an ambiguous failure (timeout, connection error, 5xx) it resends the same
  ``ClientRequestToken``, so an attempt that was applied is not applied twice
  ("multiple identical calls have the same effect as one single call", valid 10 minutes:
  https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/dynamodb/aws.sdk.kotlin.services.dynamodb.model/-transact-write-items-request/client-request-token.html);
  after a definite cancellation nothing was applied and it takes a fresh token;
- a failed condition is a lost race, an answer, never an error.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from masking.adapters.aws_client import AwsClientHolder
from masking.core.errors import StoreBusy
from masking.core.models import Lifecycle, NumberRecord, NumberStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

MESSAGE_RETENTION_SECONDS = 30 * 86400

# botocore client settings of every store (the webhook functions time out after 10 s)
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 3
TOTAL_MAX_ATTEMPTS = 4


def dynamo_config() -> Config:
    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "adaptive", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
        tcp_keepalive=True,
    )


# TransactWriteItems: how often _transact tries a contended or ambiguous transaction
TRANSACT_ATTEMPTS = 6
TRANSACT_BASE_DELAY = 0.02
TRANSACT_MAX_DELAY = 0.5
# cancellation reasons that are contention, not an answer
CONTENTION_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# request errors that leave the outcome unknown or say "slow down": retry with the same token
AMBIGUOUS_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        # "Operation was rejected because there is an ongoing transaction for the item."
        # (https://docs.aws.amazon.com/sdk-for-python/v1/reference/clients/dynamodb/errors/TransactionConflictException/)
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)

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


def contention_only(codes: list[str]) -> bool:
    """True when a cancelled transaction failed only for contention (no condition failed)."""
    return any(code in CONTENTION_REASONS for code in codes) and all(code in CONTENTION_REASONS or code in ("None", "") for code in codes)


def backoff_delay(attempt: int) -> float:
    """Full jitter: rand(0, min(max, base * 2**attempt))."""
    return random.uniform(0, min(TRANSACT_MAX_DELAY, TRANSACT_BASE_DELAY * (2**attempt)))


class DynamoTable(AwsClientHolder[DynamoDBClient]):
    """The table and its client (created on first use, so importing a store costs nothing)."""

    aws_service = "dynamodb"
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    def client_config(self) -> Config:
        return dynamo_config()

    # ---- helpers
    def _batch_get(self, keys: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        for attempt in range(5):
            response = self._idempotent(lambda keys=request: self.client.batch_get_item(RequestItems=keys))  # type: ignore[misc]
            for item in response.get("Responses", {}).get(self.table_name, []):
                found[(item["pk"]["S"], item["sk"]["S"])] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
            time.sleep(0.02 * (2**attempt))
        raise RuntimeError("DynamoDB left keys unprocessed after 5 attempts")

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Runs a transaction; returns None on success, else the per-item cancellation codes
        of a transaction whose conditions said no. Contention and ambiguous failures are
        retried (see the module docstring); when they outlast ``TRANSACT_ATTEMPTS`` it
        raises ``StoreBusy``, which the webhooks answer with a 500 (Twilio then calls the
        fallback URL, so the message is kept)."""
        from masking.core.observability import count

        token = str(uuid.uuid4())
        last = ""
        for attempt in range(TRANSACT_ATTEMPTS):
            if attempt:
                self.sleep(backoff_delay(attempt))
            try:
                self.client.transact_write_items(TransactItems=items, ClientRequestToken=token)
                return None
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code == "TransactionCanceledException":
                    codes = cancellation_codes(error)
                    if not contention_only(codes):
                        return codes
                    count("DynamoTransactionContention")
                    token = str(uuid.uuid4())  # cancelled: nothing applied, a new request
                    last = ",".join(codes)
                elif code in AMBIGUOUS_ERRORS:
                    count("DynamoAmbiguousRetry")
                    last = code
                else:
                    raise
            except (BotoConnectionError, HTTPClientError) as error:
                count("DynamoAmbiguousRetry")
                last = type(error).__name__
        raise StoreBusy(f"transaction not settled after {TRANSACT_ATTEMPTS} attempts ({last})")

    def _idempotent(self, call: Callable[[], Any]) -> Any:
        """Runs a read or an idempotent write, retrying throttles, timeouts and connection
        errors that outlast botocore's own retries (backoff); then raises ``StoreBusy``."""
        from masking.core.observability import count

        last = ""
        for attempt in range(TRANSACT_ATTEMPTS):
            if attempt:
                self.sleep(backoff_delay(attempt))
            try:
                return call()
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in AMBIGUOUS_ERRORS:
                    raise
                last = code
            except (BotoConnectionError, HTTPClientError) as error:
                last = type(error).__name__
            count("DynamoAmbiguousRetry")
        raise StoreBusy(f"DynamoDB call not settled after {TRANSACT_ATTEMPTS} attempts ({last})")

    def _query(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self._pages(self.client.query, **kwargs)

    def _scan(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every item of a filtered Scan of the table (erasure: the items naming a person)."""
        return self._pages(self.client.scan, **kwargs)

    def _pages(self, operation: Callable[..., Any], **kwargs: Any) -> list[dict[str, Any]]:
        """Every item of a consistent Query or Scan, page by page; throttles and timeouts retried (a read)."""
        items: list[dict[str, Any]] = []
        while True:
            response = self._idempotent(lambda: operation(TableName=self.table_name, ConsistentRead=True, **kwargs))
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _conditional(self, write: Callable[[], Any]) -> bool:
        """Runs one conditional write; False when its condition failed (a lost race).
        Throttles and timeouts are retried like any write (``_idempotent``)."""
        return self._unless_condition_fails(write) is not None

    def _put_if(self, **put: Any) -> bool:
        """A conditional ``put_item``; False when its condition failed."""
        return self._conditional(lambda: self.client.put_item(TableName=self.table_name, **put))

    def _update_if(self, key: dict[str, Any], **update: Any) -> bool:
        """A conditional ``update_item``; False when its condition failed."""
        return self._conditional(lambda: self.client.update_item(TableName=self.table_name, Key=key, **update))

    def _delete_if(self, key: dict[str, Any], **delete: Any) -> bool:
        """A conditional ``delete_item``; False when its condition failed."""
        return self._conditional(lambda: self.client.delete_item(TableName=self.table_name, Key=key, **delete))

    def _unless_condition_fails(self, write: Callable[[], Any]) -> Any:
        """The answer of one conditional write (True when it has none); None when its condition
        failed. Throttles and timeouts are retried (``_idempotent``)."""
        try:
            answer = self._idempotent(write)
        except ClientError as error:
            if conditional_failed(error):
                return None
            raise
        return True if answer is None else answer

    def _update_record[T](self, cls: type[T], key: dict[str, Any], **update: Any) -> T | None:
        """A conditional ``update_item``: the updated record, or None when the condition failed."""
        response = self._unless_condition_fails(
            lambda: self.client.update_item(TableName=self.table_name, Key=key, ReturnValues="ALL_NEW", **update)
        )
        return None if response is None else build_record(cls, from_item(response["Attributes"]))

    def take_counter(self, key: dict[str, Any], attribute: str, limit: int, expires_at: int) -> int | None:
        """Adds one to a counter item that expires at ``expires_at``: its new value, or None
        when it already stood at ``limit`` (nothing changed)."""
        response = self._unless_condition_fails(
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="ADD #count :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": attribute, "#ttl": "ttl"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": str(limit)}, ":ttl": {"N": str(expires_at)}},
                ReturnValues="UPDATED_NEW",
            )
        )
        return None if response is None else int(response["Attributes"][attribute]["N"])
