"""The AWS queues and topics the domain writes to, behind the ports it declares.

- ``SqsOutbox``: mirror records for airtable_sync (``masking.mirror.outbox.Outbox``);
- ``SqsRetryQueue``: the one timed resend (``masking.core.ports.RetryQueue``);
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
