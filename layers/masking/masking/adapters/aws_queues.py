"""The AWS queues and topics the domain writes to, behind the ports it declares.

- ``SqsOutbox``: mirror records for airtable_sync (``masking.mirror.outbox.Outbox``); a
  failed or partially failed SendMessageBatch is retried (``Failed`` is checked even on
  HTTP 200: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html),
  what still fails is spilled to the table (``masking.store.spill``) and republished by
  the ``outbox_republisher`` schedule. Metrics: OutboxRetried, OutboxSpilled, OutboxRepublished;
- ``SqsRetryQueue``: the one timed resend (``masking.core.ports.RetryQueue``);
- ``SqsForwardQueue``: forwards parked after a transient Twilio failure, and their DLQ
  (``masking.core.ports.ForwardQueue``);
- ``SnsOwnerAlerts``: the owner topic (``masking.core.ports.OwnerAlerts``);
- ``SqsHookQueue``: hook deliveries, their delayed retries and their DLQ
  (``masking.hooks.delivery.HookQueue``).
Their in-memory twins are in ``masking.adapters.memory``. Clients are created on first use.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from masking.adapters.aws_client import AwsClientHolder
from masking.core.observability import count, logger
from masking.core.settings import SQS_MAX_DELAY_SECONDS
from masking.mirror.outbox import MirrorRecord

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

    from masking.hooks.delivery import Delivery
    from masking.messaging.failures import Resend  # the failure path: not imported with the webhook
    from masking.messaging.forwarding import ParkedForward
else:
    SNSClient = SQSClient = Any

SQS_BATCH_LIMIT = 10
OUTBOX_ATTEMPTS = 3  # per chunk of 10, on top of botocore's own retries
OUTBOX_BASE_DELAY = 0.05


class QueueMessage(Protocol):
    def to_json(self) -> str: ...


class OutboxSpill(Protocol):
    """Durable storage of records the outbox could not queue (``masking.store.spill``)."""

    def spill(self, records: list[MirrorRecord]) -> None: ...

    def pending(self, limit: int = 100) -> list[tuple[str, list[MirrorRecord]]]: ...

    def replace(self, sort_key: str, records: list[MirrorRecord]) -> None: ...


def sqs_config() -> Any:
    from botocore.config import Config

    return Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 3})


class SqsOutbox(AwsClientHolder[SQSClient]):
    aws_service = "sqs"
    sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, queue_url: str, client: SQSClient | None = None, spill: OutboxSpill | None = None) -> None:
        self.queue_url = queue_url
        self._client = client
        self.spill = spill

    def client_config(self) -> Any:
        return sqs_config()

    def publish(self, records: list[MirrorRecord]) -> None:
        """Queues every record; what SQS still refuses after the retries is spilled (raises
        only when the spill fails too, or when there is no spill)."""
        unsent = self.send(records)
        if not unsent:
            return
        if self.spill is None:
            raise RuntimeError(f"outbox: {len(unsent)} records could not be queued")
        self.spill.spill(unsent)
        count("OutboxSpilled", len(unsent))
        logger.warning("outbox: records spilled to the table for the republisher", extra={"records": len(unsent)})

    def send[M: QueueMessage](self, records: list[M]) -> list[M]:
        """Sends in batches of 10, retrying failed calls and failed entries; returns the
        records that still could not be queued."""
        unsent: list[M] = []
        for start in range(0, len(records), SQS_BATCH_LIMIT):
            unsent.extend(self._send_chunk(records[start : start + SQS_BATCH_LIMIT]))
        return unsent

    def _send_chunk[M: QueueMessage](self, chunk: list[M]) -> list[M]:
        pending = {str(i): record for i, record in enumerate(chunk)}
        for attempt in range(OUTBOX_ATTEMPTS):
            if attempt:
                count("OutboxRetried", len(pending))
                self.sleep(random.uniform(0, OUTBOX_BASE_DELAY * 2**attempt))
            entries = [{"Id": key, "MessageBody": record.to_json()} for key, record in pending.items()]
            try:
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as error:
                logger.warning("outbox: SendMessageBatch failed", extra={"error": type(error).__name__, "attempt": attempt + 1})
                continue
            failed = {str(f["Id"]) for f in response.get("Failed") or []}
            pending = {key: record for key, record in pending.items() if key in failed}
            if not pending:
                return []
        return list(pending.values())

    def republish_spilled(self, limit: int = 100) -> int:
        """Puts spilled records back on the outbox (the ``outbox_republisher`` schedule);
        returns how many were queued. What SQS still refuses stays spilled."""
        if self.spill is None:
            return 0
        queued = 0
        for sort_key, records in self.spill.pending(limit):
            unsent = self.send(records)
            self.spill.replace(sort_key, unsent)
            queued += len(records) - len(unsent)
        if queued:
            count("OutboxRepublished", queued)
        return queued


class SqsRetryQueue(AwsClientHolder[SQSClient]):
    aws_service = "sqs"

    def __init__(self, queue_url: str, delay_seconds: int, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.delay_seconds = delay_seconds
        self._client = client

    def schedule(self, resend: Resend) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=resend.to_json(), DelaySeconds=self.delay_seconds)


class SqsForwardQueue(AwsClientHolder[SQSClient]):
    """Parks a forward with SQS DelaySeconds (at most 900 s; ``ParkedForward.not_before``
    covers longer waits). A failed SendMessage raises: the webhook must not answer 200
    for a message it could neither send nor park."""

    aws_service = "sqs"

    def __init__(self, queue_url: str, dead_letter_queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.dead_letter_queue_url = dead_letter_queue_url
        self._client = client

    def park(self, forward: ParkedForward, delay_seconds: int) -> None:
        if not self.queue_url:
            raise RuntimeError("FORWARD_QUEUE_URL is not set: a failed forward cannot be parked")
        self.client.send_message(
            QueueUrl=self.queue_url, MessageBody=forward.to_json(), DelaySeconds=max(0, min(delay_seconds, SQS_MAX_DELAY_SECONDS))
        )

    def dead_letter(self, forward: ParkedForward) -> None:
        if not self.dead_letter_queue_url:
            logger.error("forward not set aside: FORWARD_DLQ_URL is not set", extra={"message_sid": forward.message_sid})
            return
        self.client.send_message(QueueUrl=self.dead_letter_queue_url, MessageBody=forward.to_json())


class SqsHookQueue:
    """Deliveries go out in batches of 10 with the outbox's retries; a retry waits on the
    queue (DelaySeconds); a delivery set aside goes to the DLQ (a failed send raises: the
    consumer then reports the record failed and SQS delivers it again)."""

    def __init__(self, queue_url: str, dead_letter_queue_url: str, client: SQSClient | None = None) -> None:
        self.batches = SqsOutbox(queue_url, client)
        self.dead_letter_queue_url = dead_letter_queue_url

    def send(self, deliveries: list[Delivery]) -> list[Delivery]:
        return self.batches.send(deliveries)

    def retry(self, delivery: Delivery, delay_seconds: int) -> None:
        body, delay = delivery.to_json(), max(0, min(delay_seconds, SQS_MAX_DELAY_SECONDS))
        self.batches.client.send_message(QueueUrl=self.batches.queue_url, MessageBody=body, DelaySeconds=delay)

    def dead_letter(self, delivery: Delivery) -> None:
        if not self.dead_letter_queue_url:
            raise RuntimeError("HOOKS_DLQ_URL is not set: a delivery cannot be set aside")
        self.batches.client.send_message(QueueUrl=self.dead_letter_queue_url, MessageBody=delivery.to_json())


class SnsOwnerAlerts(AwsClientHolder[SNSClient]):
    aws_service = "sns"

    def __init__(self, topic_arn: str, client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    def publish(self, subject: str, message: str) -> None:
        if not self.topic_arn:
            logger.error("owner alert not sent: OWNER_ALERT_TOPIC_ARN is not set")
            return
        self.client.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)
