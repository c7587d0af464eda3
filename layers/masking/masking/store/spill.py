"""Mirror records the outbox could not queue, kept in the table until they are queued.

``SqsOutbox`` retries a failed or partially failed SendMessageBatch; what still fails is
written here (``OUTBOXSPILL`` / ``<time>#<uuid>``, up to 10 records an item, no TTL), and
the ``outbox_republisher`` schedule puts it back on the outbox and deletes the item. So a
mirror row is never dropped after a log line.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from masking.mirror.outbox import MirrorRecord
from masking.store.items import DynamoTable, item_key, to_item

SPILL_PK = "OUTBOXSPILL"
RECORDS_PER_ITEM = 10


class DynamoOutboxSpill(DynamoTable):
    def spill(self, records: list[MirrorRecord]) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for start in range(0, len(records), RECORDS_PER_ITEM):
            chunk = records[start : start + RECORDS_PER_ITEM]
            data = {"records": json.dumps([record.to_json() for record in chunk]), "entity": "outbox_spill"}
            self.client.put_item(TableName=self.table_name, Item=to_item(SPILL_PK, f"{stamp}#{uuid.uuid4().hex}", data))

    def pending(self, limit: int = 100) -> list[tuple[str, list[MirrorRecord]]]:
        """Spilled items, oldest first: (sort key, records)."""
        response = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": SPILL_PK}},
            ConsistentRead=True,
            Limit=limit,
        )
        found: list[tuple[str, list[MirrorRecord]]] = []
        for item in response.get("Items", []):
            texts: list[str] = json.loads(item["records"]["S"])
            found.append((item["sk"]["S"], [MirrorRecord.from_json(text) for text in texts]))
        return found

    def replace(self, sort_key: str, records: list[MirrorRecord]) -> None:
        """Keeps only ``records`` (what is still unqueued) under ``sort_key``; none deletes it."""
        key: dict[str, Any] = item_key(SPILL_PK, sort_key)
        if not records:
            self.client.delete_item(TableName=self.table_name, Key=key)
            return
        data = {"records": json.dumps([record.to_json() for record in records]), "entity": "outbox_spill"}
        self.client.put_item(TableName=self.table_name, Item=to_item(SPILL_PK, sort_key, data))
