"""The AWS queues and topics the domain writes to, behind the ports it declares.

- ``SqsOutbox``: mirror records for airtable_sync (``masking.mirror.outbox.Outbox``);
- ``SqsRetryQueue``: the one timed resend (``masking.core.ports.RetryQueue``);
- ``SqsForwardQueue``: forwards parked after a transient Twilio failure, and their DLQ
  (``masking.core.ports.ForwardQueue``);
- ``SnsOwnerAlerts``: the owner topic (``masking.core.ports.OwnerAlerts``);
and their in-memory twins for tests and benchmarks. Clients are created on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from masking.core.observability import logger
from masking.messaging.failures import Resend
from masking.mirror.outbox import MirrorRecord

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

    from masking.messaging.forwarding import ParkedForward
else:
    SNSClient = SQSClient = Any

SQS_BATCH_LIMIT = 10


class SqsOutbox:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def publish(self, records: list[MirrorRecord]) -> None:
        for start in range(0, len(records), SQS_BATCH_LIMIT):
            chunk = records[start : start + SQS_BATCH_LIMIT]
            entries = [{"Id": str(i), "MessageBody": record.to_json()} for i, record in enumerate(chunk)]
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = response.get("Failed") or []
            if failed:
                retry = [entries[int(f["Id"])] for f in failed]
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=retry)
                if response.get("Failed"):
                    raise RuntimeError(f"outbox: {len(response['Failed'])} records could not be queued")


class SqsRetryQueue:
    def __init__(self, queue_url: str, delay_seconds: int, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.delay_seconds = delay_seconds
        self._client = client

    def schedule(self, resend: Resend) -> None:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=resend.to_json(), DelaySeconds=self.delay_seconds)


class SqsForwardQueue:
    """Parks a forward with SQS DelaySeconds (at most 900 s; ``ParkedForward.not_before``
    covers longer waits). A failed SendMessage raises: the webhook must not answer 200
    for a message it could neither send nor park."""

    def __init__(self, queue_url: str, dead_letter_queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.dead_letter_queue_url = dead_letter_queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def park(self, forward: ParkedForward, delay_seconds: int) -> None:
        if not self.queue_url:
            raise RuntimeError("FORWARD_QUEUE_URL is not set: a failed forward cannot be parked")
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=forward.to_json(), DelaySeconds=max(0, min(delay_seconds, 900)))

    def dead_letter(self, forward: ParkedForward) -> None:
        if not self.dead_letter_queue_url:
            logger.error("forward not set aside: FORWARD_DLQ_URL is not set", extra={"message_sid": forward.message_sid})
            return
        self.client.send_message(QueueUrl=self.dead_letter_queue_url, MessageBody=forward.to_json())


class SnsOwnerAlerts:
    def __init__(self, topic_arn: str, client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    def publish(self, subject: str, message: str) -> None:
        if not self.topic_arn:
            logger.error("owner alert not sent: OWNER_ALERT_TOPIC_ARN is not set")
            return
        if self._client is None:
            import boto3

            self._client = boto3.client("sns")
        self._client.publish(TopicArn=self.topic_arn, Subject=subject, Message=message)


@dataclass
class MemoryRetryQueue:
    scheduled: list[Resend] = field(default_factory=list)

    def schedule(self, resend: Resend) -> None:
        self.scheduled.append(resend)


@dataclass
class MemoryOwnerAlerts:
    published: list[tuple[str, str]] = field(default_factory=list)

    def publish(self, subject: str, message: str) -> None:
        self.published.append((subject, message))


@dataclass
class MemoryForwardQueue:
    """Parked forwards in memory, each with the delay it was parked for."""

    parked: list[tuple[ParkedForward, int]] = field(default_factory=list)
    dead: list[ParkedForward] = field(default_factory=list)

    def park(self, forward: ParkedForward, delay_seconds: int) -> None:
        self.parked.append((forward, delay_seconds))

    def dead_letter(self, forward: ParkedForward) -> None:
        self.dead.append(forward)

    def take(self) -> list[ParkedForward]:
        """Everything parked so far (a copy through JSON, as SQS would carry it)."""
        from masking.messaging.forwarding import ParkedForward

        taken = [ParkedForward.from_json(forward.to_json()) for forward, _ in self.parked]
        self.parked.clear()
        return taken
