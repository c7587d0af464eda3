"""Writes one SQS batch of mirror records to Airtable.

1. Parse every body (``MirrorRecord.from_json``); an unreadable one fails alone.
2. Merge records per (table, key): several records for one key become one row, fields of
   the later record (by ``at``, then queue order) winning.
3. Per table (Sitters first), resolve link fields to record ids, then upsert the rows in
   requests of at most 10 (``batch_upsert`` on the table's key field, ``typecast=True``
   so an unknown select option is added instead of losing the row).
4. Every request goes through the limiter (5 per second per base). A 429 pauses 30 s and
   retries; a 5xx, a timeout or a dropped connection is retried with exponential
   backoff; none of this runs past the Lambda's deadline.
5. A 422 (Airtable rejects a value) splits the request in halves until the rejected
   row is alone: only that row's SQS messages fail. 401/403, an outage that outlasts the
   backoff, or the deadline stop the batch: whatever is not written yet fails and SQS
   delivers it again (then, after maxReceiveCount, to the DLQ).

Nothing here logs a body or a phone number in clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from masking.core.observability import count, logger, mask_phone
from masking.mirror.outbox import MirrorRecord

from .limiter import RATE_LIMIT_WAIT_SECONDS, SYSTEM_CLOCK, Backoff, Clock, OutOfTime, RateLimiter
from .links import LinkCache, link_ids
from .tables import BY_KIND, TABLES, TableSpec, airtable_value, table_names

if TYPE_CHECKING:
    from pyairtable import Api, Table

T = TypeVar("T")

MAX_RECORDS_PER_REQUEST = 10
LOOKUP_IDS_PER_REQUEST = 25


class Unavailable(Exception):
    """Airtable kept failing (5xx, timeouts) past the backoff: stop this batch."""


class Unauthorized(Exception):
    """401/403: the token or the base id is wrong. Nothing will succeed: stop this batch."""


class Rejected(Exception):
    """Airtable refused the request itself (4xx other than 401/403/429)."""

    def __init__(self, status: int, error_type: str) -> None:
        super().__init__(f"Airtable {status} {error_type}")
        self.status = status
        self.error_type = error_type


@dataclass
class Row:
    spec: TableSpec
    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    message_ids: list[str] = field(default_factory=list)

    @property
    def safe_key(self) -> str:
        return mask_phone(self.key) if self.key.startswith("+") else self.key


@dataclass
class Outcome:
    """What one batch did. ``failures``: SQS message id -> reason (no PII)."""

    failures: dict[str, str] = field(default_factory=dict)
    rows_written: int = 0
    records: int = 0
    requests: int = 0

    def fail(self, message_ids: Iterable[str], reason: str) -> None:
        for message_id in message_ids:
            self.failures.setdefault(message_id, reason)


@dataclass
class Stats:
    """Counters across invocations of one container (the benchmark reads them)."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    rows_written: int = 0
    stubs_created: int = 0
    lookups: int = 0


class AirtableMirror:
    def __init__(
        self,
        api: Api,
        base_id: str,
        *,
        names: dict[str, str] | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock = SYSTEM_CLOCK,
        backoff: Backoff | None = None,
        links: LinkCache | None = None,
    ) -> None:
        self.api = api
        self.base_id = base_id
        self.names = names or table_names()
        self.clock = clock
        self.limiter = limiter or RateLimiter(clock=clock)
        self.backoff = backoff or Backoff()
        self.links = links if links is not None else LinkCache()
        self.stats = Stats()

    def table(self, spec: TableSpec) -> Table:
        return self.api.table(self.base_id, self.names[spec.kind])

    # ---- one SQS batch
    def write(self, messages: Sequence[tuple[str, str]], deadline: float) -> Outcome:
        """Mirrors (message id, body) pairs; returns which message ids failed and why."""
        outcome = Outcome(records=len(messages))
        requests_before = self.stats.requests
        rows = self._merge(messages, outcome)
        pending = {id(row): row for table_rows in rows.values() for row in table_rows}
        try:
            for spec in TABLES:
                table_rows = rows.get(spec.kind) or []
                if not table_rows:
                    continue
                for row in self._resolve_links(spec, table_rows, deadline, outcome):
                    pending.pop(id(row), None)
                for start in range(0, len(table_rows), MAX_RECORDS_PER_REQUEST):
                    chunk = [row for row in table_rows[start : start + MAX_RECORDS_PER_REQUEST] if id(row) in pending]
                    if chunk:
                        self._write_chunk(spec, chunk, deadline, outcome, retry_links=True)
                        for row in chunk:
                            pending.pop(id(row), None)
        except (Unavailable, Unauthorized, OutOfTime) as stop:
            reason = f"{type(stop).__name__}: {stop}"
            logger.warning("Airtable batch stopped; the rest goes back to the queue", extra={"reason": reason, "rows": len(pending)})
            for row in pending.values():
                outcome.fail(row.message_ids, reason)
        outcome.requests = self.stats.requests - requests_before
        return outcome

    def _merge(self, messages: Sequence[tuple[str, str]], outcome: Outcome) -> dict[str, list[Row]]:
        parsed: list[tuple[str, int, str, MirrorRecord]] = []
        for position, (message_id, body) in enumerate(messages):
            try:
                record = MirrorRecord.from_json(body)
                if record.kind not in BY_KIND:
                    raise ValueError(f"unknown kind {record.kind!r}")
                if not isinstance(record.key, str) or not record.key.strip():
                    raise ValueError(f"{record.kind} record without a key")
                if not isinstance(record.fields, dict):
                    raise ValueError("fields is not an object")
            except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
                count("AirtableRecordsUnreadable")
                logger.error("unreadable mirror record", extra={"message_id": message_id, "error": type(error).__name__})
                outcome.fail([message_id], f"unreadable mirror record: {type(error).__name__}")
                continue
            parsed.append((record.at or "", position, message_id, record))
        parsed.sort(key=lambda item: (item[0], item[1]))
        rows: dict[str, dict[str, Row]] = {}
        for _, _, message_id, record in parsed:
            spec = BY_KIND[record.kind]
            row = rows.setdefault(spec.kind, {}).setdefault(record.key, Row(spec=spec, key=record.key))
            row.fields.update(record.fields)
            row.message_ids.append(message_id)
        return {kind: list(by_key.values()) for kind, by_key in rows.items()}

    # ---- links
    def _resolve_links(self, spec: TableSpec, rows: list[Row], deadline: float, outcome: Outcome) -> list[Row]:
        """Makes sure every id in the rows' link fields has a record id; returns the rows
        that failed (their table's lookup was refused)."""
        failed: list[Row] = []
        for field_name, target_kind in spec.links.items():
            wanted = sorted({our_id for row in rows for our_id in link_ids(row.fields.get(field_name))})
            unknown = [our_id for our_id in wanted if self.links.get(target_kind, our_id) is None]
            if not unknown:
                continue
            target = BY_KIND[target_kind]
            try:
                self._lookup(target, unknown, deadline)
                missing = [our_id for our_id in unknown if self.links.peek(target_kind, our_id) is None]
                if missing:
                    self._create_stubs(target, missing, deadline)
            except Rejected as error:
                reason = f"link {field_name} -> {self.names[target_kind]}: {error}"
                logger.error("cannot resolve links", extra={"table": self.names[spec.kind], "reason": reason})
                for row in rows:
                    if any(self.links.peek(target_kind, i) is None for i in link_ids(row.fields.get(field_name))):
                        outcome.fail(row.message_ids, reason)
                        failed.append(row)
        return failed

    def _lookup(self, target: TableSpec, our_ids: list[str], deadline: float) -> None:
        from pyairtable.formulas import EQ, OR, Field, to_formula_str

        table = self.table(target)
        for start in range(0, len(our_ids), LOOKUP_IDS_PER_REQUEST):
            chunk = our_ids[start : start + LOOKUP_IDS_PER_REQUEST]
            formula = to_formula_str(OR(*[EQ(Field(target.key_field), our_id) for our_id in chunk]))
            self.stats.lookups += 1
            found = self._request(partial(table.all, formula=formula, fields=[target.key_field], page_size=100, max_records=100), deadline)
            for record in found:
                our_id = record["fields"].get(target.key_field)
                if our_id and self.links.peek(target.kind, our_id) is None:
                    self.links.put(target.kind, our_id, record["id"])

    def _create_stubs(self, target: TableSpec, our_ids: list[str], deadline: float) -> None:
        """Rows keyed on ids Airtable does not know yet, so links never wait. The real
        record (e.g. the provider's) later upserts onto the same row."""
        table = self.table(target)
        for start in range(0, len(our_ids), MAX_RECORDS_PER_REQUEST):
            chunk = our_ids[start : start + MAX_RECORDS_PER_REQUEST]
            payload = [{"fields": {target.key_field: our_id, target.primary.name: our_id}} for our_id in chunk]
            result = self._request(partial(table.batch_upsert, payload, key_fields=[target.key_field], typecast=True), deadline)
            self.stats.stubs_created += len(result["createdRecords"])
            count("AirtableLinkStubs", len(result["createdRecords"]))
            self._remember(target, result["records"])

    def _remember(self, spec: TableSpec, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            our_id = record.get("fields", {}).get(spec.key_field)
            if our_id:
                self.links.put(spec.kind, str(our_id), record["id"])

    # ---- upserts
    def _airtable_fields(self, row: Row) -> dict[str, Any]:
        spec = row.spec
        fields: dict[str, Any] = {}
        for name, value in row.fields.items():
            field_spec = spec.field(name)
            if field_spec is not None and field_spec.link:
                record_ids = [self.links.peek(field_spec.link, our_id) for our_id in link_ids(value)]
                fields[name] = [record_id for record_id in record_ids if record_id]
            else:
                fields[name] = airtable_value(field_spec, value)
        fields[spec.key_field] = row.key
        for name, default in spec.defaults.items():
            if fields.get(name) in (None, ""):
                fields[name] = default
        return fields

    def _write_chunk(self, spec: TableSpec, chunk: list[Row], deadline: float, outcome: Outcome, retry_links: bool) -> None:
        table = self.table(spec)
        payload = [{"fields": self._airtable_fields(row)} for row in chunk]
        try:
            result = self._request(partial(table.batch_upsert, payload, key_fields=[spec.key_field], typecast=True), deadline)
        except Rejected as error:
            if error.status == 404:  # the table itself is missing: every row of it fails
                self._reject(spec, chunk, error, outcome)
                return
            if retry_links and spec.links and self._forget_links(spec, chunk):
                # A cached record id may point at a row someone deleted: look them up again.
                self._resolve_links(spec, chunk, deadline, outcome)
                self._write_chunk(spec, [row for row in chunk if not self._failed(row, outcome)], deadline, outcome, retry_links=False)
                return
            if len(chunk) > 1:
                middle = len(chunk) // 2
                self._write_chunk(spec, chunk[:middle], deadline, outcome, retry_links=False)
                self._write_chunk(spec, chunk[middle:], deadline, outcome, retry_links=False)
                return
            self._reject(spec, chunk, error, outcome)
            return
        if spec.kind == "provider":
            self._remember(spec, result["records"])
        outcome.rows_written += len(chunk)
        self.stats.rows_written += len(chunk)
        count("AirtableRowsWritten", len(chunk))

    def _forget_links(self, spec: TableSpec, chunk: list[Row]) -> bool:
        forgotten = False
        for field_name, target_kind in spec.links.items():
            ids = [our_id for row in chunk for our_id in link_ids(row.fields.get(field_name))]
            if ids:
                self.links.forget(target_kind, ids)
                forgotten = True
        return forgotten

    @staticmethod
    def _failed(row: Row, outcome: Outcome) -> bool:
        return any(message_id in outcome.failures for message_id in row.message_ids)

    def _reject(self, spec: TableSpec, rows: list[Row], error: Rejected, outcome: Outcome) -> None:
        reason = f"{self.names[spec.kind]}: {error}"
        for row in rows:
            count("AirtableRowsRejected")
            logger.error("Airtable rejected a row", extra={"table": self.names[spec.kind], "key": row.safe_key, "error": error.error_type})
            outcome.fail(row.message_ids, reason)

    # ---- one request, paced and retried
    def _request(self, call: Callable[[], T], deadline: float) -> T:
        retry = 0
        while True:
            self.limiter.acquire(deadline)
            self.stats.requests += 1
            try:
                return call()
            except requests.HTTPError as error:
                status = error.response.status_code if error.response is not None else 0
                if status == 429:
                    self.stats.rate_limited += 1
                    count("AirtableRateLimited")
                    if self.clock.now() + RATE_LIMIT_WAIT_SECONDS > deadline:
                        raise OutOfTime("rate limited (429) with less than 30 s left") from error
                    logger.warning("Airtable answered 429: waiting 30 s")
                    self.limiter.pause(RATE_LIMIT_WAIT_SECONDS)
                    continue
                if status in (401, 403):
                    raise Unauthorized(f"Airtable {status} {_error_type(error.response)}") from error
                if status < 500:
                    raise Rejected(status, _error_type(error.response)) from error
                problem = f"HTTP {status}"
            except requests.RequestException as error:  # timeouts, refused or dropped connections
                problem = type(error).__name__
            retry += 1
            self.stats.retries += 1
            count("AirtableRetries")
            if retry >= self.backoff.attempts:
                raise Unavailable(f"{problem} after {retry} attempts")
            delay = self.backoff.delay(retry)
            if self.clock.now() + delay > deadline:
                raise Unavailable(f"{problem}; no time left to retry")
            logger.warning("Airtable request failed; backing off", extra={"problem": problem, "retry": retry, "delay": delay})
            self.clock.sleep(delay)


def _error_type(response: requests.Response | None) -> str:
    """Airtable's error type (``INVALID_VALUE_FOR_COLUMN``...), never its message: a
    message can quote the value, i.e. a body or a phone number."""
    if response is None:
        return "no response"
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return "unreadable error"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("type") or "error")
    if isinstance(error, str):
        return error
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("error") or "error")
    return "error"
