"""Retention in the mirror: Messages rows older than ``MESSAGE_RETENTION_DAYS`` lose their body.

Run by the scheduled redrive (``handler.handle_schedule``, every minute) after its own
work, unless Airtable asked for quiet: one paced read per run lists at most 100 rows
whose Timestamp is before the cutoff and whose Body is neither blank nor already purged or
erased (``IS_BEFORE``, https://support.airtable.com/docs/formula-field-reference), and
puts a ``[purged after N days]`` record for each on the outbox queue. The consumers write
them like any record: paced to Airtable's 5 requests a second, versioned (a purge is newer
than the message it blanks, so a late redelivery of the message cannot bring the body
back). A backlog drains at 100 rows a minute; the same row listed twice before the
consumers wrote it is upserted twice, harmlessly.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import partial

from masking.core.observability import count
from masking.mirror import rows

from .redrive import Send
from .tables import BY_KIND
from .writer import AirtableMirror

ROWS_PER_RUN = 100
SQS_BATCH = 10


def retention_days() -> int:
    """``MESSAGE_RETENTION_DAYS`` (0 or unset: the mirror keeps bodies)."""
    raw = os.environ.get("MESSAGE_RETENTION_DAYS", "").strip()
    return int(raw) if raw.isdigit() else 0


def purge_formula(cutoff: str, days: int) -> str:
    purged = rows.PURGED_BODY.format(days=days).replace("'", "\\'")
    return f"AND(IS_BEFORE({{Timestamp}}, '{cutoff}'), {{Body}} != '', {{Body}} != '{purged}', {{Body}} != '{rows.ERASED_BODY}')"


def purge_old_bodies(mirror: AirtableMirror, send: Send, days: int, deadline: float) -> int:
    """Queues a purge for up to ``ROWS_PER_RUN`` old Messages rows; returns how many."""
    if days <= 0:
        return 0
    spec = BY_KIND["message"]
    now = datetime.fromtimestamp(mirror.clock.now(), UTC)
    cutoff = (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    found = mirror._request(
        partial(
            mirror.table(spec).all,
            formula=purge_formula(cutoff, days),
            fields=[spec.key_field],
            page_size=ROWS_PER_RUN,
            max_records=ROWS_PER_RUN,
        ),
        deadline,
    )
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    sids = [str(record["fields"][spec.key_field]) for record in found if record.get("fields", {}).get(spec.key_field)]
    bodies = [rows.purged_message(sid, days, stamp).to_json() for sid in sids]
    for start in range(0, len(bodies), SQS_BATCH):
        send(bodies[start : start + SQS_BATCH])
    count("MessageBodiesPurged", len(bodies))
    return len(bodies)
