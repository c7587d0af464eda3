"""Mirror records for the operator's Airtable base, and the outbox they go on.

Webhook handlers never talk to Airtable. They describe what happened as records
(``kind`` + a stable ``key`` to upsert on + ``fields``, built by ``masking.mirror.rows``),
and ``airtable_sync`` writes them. One forwarded message publishes all its records in one
SendMessageBatch (``masking.adapters.aws_queues.SqsOutbox``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from masking.core.records import Record

RecordKind = Literal["message", "client", "provider", "number", "audit", "call", "pool_stats"]
Severity = Literal["Info", "Warning", "Error", "Critical"]
Category = Literal["Provisioning", "Messaging", "Error", "System", "Pool", "Standby", "Client Sync", "Delivery Error"]


@dataclass(slots=True, repr=False, eq=False)
class MirrorRecord(Record):
    """One record for the Airtable mirror, as it travels through the outbox queue."""

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


class Outbox(Protocol):
    def publish(self, records: list[MirrorRecord]) -> None: ...


def publish_records(outbox: Outbox, records: list[MirrorRecord]) -> None:
    """Publishes a webhook's mirror records. The message or call is already handled, so
    a failure is logged and counted, never raised: a lost mirror row must not fail it."""
    if not records:
        return
    from masking.core.observability import count, logger

    try:
        outbox.publish(records)
    except Exception:
        count("OutboxPublishFailed")
        logger.exception("outbox publish failed", extra={"records": len(records)})
