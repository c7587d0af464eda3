"""Mirror records for the operator's Airtable base, published on the SQS outbox.

Webhook handlers never talk to Airtable. They describe what happened as records
(``kind`` + a stable ``key`` to upsert on + ``fields``), and ``airtable_sync`` writes
them. One forwarded message publishes all its records in one SendMessageBatch.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

RecordKind = Literal["message", "client", "provider", "number", "audit", "call"]
Severity = Literal["Info", "Warning", "Error", "Critical"]
Category = Literal["Provisioning", "Messaging", "Error", "System", "Pool", "Standby", "Client Sync", "Delivery Error"]

SQS_BATCH_LIMIT = 10


@dataclass(slots=True)
class MirrorRecord:
    kind: RecordKind
    key: str  # stable upsert key: a MessageSid, a provider id, a client id, an E.164...
    fields: dict[str, Any]
    at: str = ""
    # Order across deliveries: the Airtable mirror never lets a lower version overwrite a
    # field a higher one wrote. Nanoseconds at creation, i.e. at the source write.
    version: int = field(default_factory=time.time_ns)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> MirrorRecord:
        data = json.loads(text)
        if isinstance(data, dict):
            data.setdefault("version", 0)  # published before versions existed: unordered
        return cls(**data)


def audit_record(
    event: str,
    description: str,
    *,
    category: Category,
    severity: Severity,
    at: str,
    key: str,
    provider_id: str | None = None,
    client_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> MirrorRecord:
    """An Audit Log row. ``key`` makes it idempotent (e.g. ``<MessageSid>:<event>``)."""
    return MirrorRecord(
        kind="audit",
        key=key,
        at=at,
        fields={
            "Event": event,
            "Description": description,
            "Timestamp": at,
            "Category": category,
            "Severity": severity,
            "Related Sitter": provider_id,
            "Related Client": client_id,
            "Details": details or {},
        },
    )


@dataclass(slots=True)
class AuditTrail:
    """Audit records about one inbound webhook (a message or a call), keyed on it so a
    retried webhook writes the same rows. Call it like ``audit_record`` without the keys."""

    records: list[MirrorRecord]
    ref_name: str  # "message_sid", "call_sid"
    ref: str
    at: str

    def __call__(
        self,
        event: str,
        description: str,
        category: Category,
        severity: Severity,
        provider_id: str | None = None,
        client_id: str | None = None,
        **details: object,
    ) -> None:
        self.records.append(
            audit_record(
                event,
                description,
                category=category,
                severity=severity,
                at=self.at,
                key=f"{self.ref}:{event}",
                provider_id=provider_id,
                client_id=client_id,
                details={self.ref_name: self.ref, **details},
            )
        )


class Outbox(Protocol):
    def publish(self, records: list[MirrorRecord]) -> None: ...


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


@dataclass
class MemoryOutbox:
    records: list[MirrorRecord] = field(default_factory=list)
    publishes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, records: list[MirrorRecord]) -> None:
        with self._lock:
            self.publishes += 1
            self.records.extend(records)


def publish_records(outbox: Outbox, records: list[MirrorRecord]) -> None:
    """Publishes a webhook's mirror records. The message or call is already handled, so
    a failure is logged and counted, never raised: a lost mirror row must not fail it."""
    if not records:
        return
    from masking.observability import count, logger

    try:
        outbox.publish(records)
    except Exception:
        count("OutboxPublishFailed")
        logger.exception("outbox publish failed", extra={"records": len(records)})
