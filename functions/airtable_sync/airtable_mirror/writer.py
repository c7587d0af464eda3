"""Writes one SQS batch of mirror records to Airtable, exactly.

1. Parse every body (``MirrorRecord.from_json``); an unreadable one fails alone (SQS
   delivers it again, then the DLQ keeps it: the scheduled redrive leaves it there).
2. Merge records per (table, key): one row, each field taking the value of the record
   with the highest ``version`` (then ``at``, then queue order).
3. Order across deliveries: before a row is written the writer takes the key's lease in
   ``state`` (one invocation at a time per key) and reads its watermarks, the highest
   version already written per field; older fields are dropped, a row with nothing newer
   is not sent. After Airtable answers 200 the watermarks rise and the lease goes.
   So a redelivered older batch, a DLQ redrive or a second consumer never puts an older
   value over a newer one (Airtable's PATCH is last-writer-wins).
4. Per table (Sitters first), resolve link fields to record ids, then upsert the rows in
   requests of at most 10 (``batch_upsert`` on the key field, ``typecast=True``), the
   widest rows first so the first request decides whether the table still fits.
5. Every request goes through the limiter. A 429 stores "quiet until now + 30 s" in
   ``state`` before anything else (every invocation and container reads it); a 5xx, a
   timeout or a dropped connection is retried with exponential backoff.
6. A permanent error (4xx other than 401/403/429: ``UNKNOWN_FIELD_NAME``,
   ``INVALID_MULTIPLE_CHOICE_OPTIONS``, ``INVALID_VALUE_FOR_COLUMN``, ``TABLE_NOT_FOUND``,
   ...) belongs to the table: no retry, no splitting. The table is marked drifted (one
   owner alert, one log line naming table and field, never a value) and its records,
   status-only updates too, are parked in ``state``; later batches park them without a
   request until the scheduled probe (``redrive.py``) finds the table fixed.
7. Airtable down (past the backoff) or quiet for longer than the invocation has left:
   the records not written yet are held in ``state`` and reported as done, so an outage
   or a 429 storm uses up no SQS receives; the schedule sends them back to the queue once
   Airtable answers. Only when ``state`` itself fails do records go back to SQS.

Nothing here logs a body or a phone number in clear.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from masking.core.observability import count, logger, mask_phone
from masking.mirror.outbox import MirrorRecord

from .limiter import RATE_LIMIT_WAIT_SECONDS, SYSTEM_CLOCK, Backoff, Clock, OutOfTime, RateLimiter
from .links import LinkCache, link_ids
from .state import Control, Drift, MemoryMirrorState, MirrorState, set_aside_key
from .tables import BY_KIND, SELECT, TABLES, TableSpec, airtable_value, table_names

if TYPE_CHECKING:
    from pyairtable import Api, Table

T = TypeVar("T")

MAX_RECORDS_PER_REQUEST = 10
LOOKUP_IDS_PER_REQUEST = 25
OUTAGE_QUIET_SECONDS = 60.0  # after the backoff gives up: no request for a minute
MIN_WORK_SECONDS = 10.0  # a quiet time ending later than deadline - this: hold instead of wait
LEASE_MARGIN_SECONDS = 30.0  # a key's lease outlives the invocation's deadline by this
BUSY_RETRY_SECONDS = 0.5


class Unavailable(Exception):
    """Airtable kept failing (5xx, timeouts) past the backoff: stop this batch."""


class Unauthorized(Exception):
    """401/403: the token or the base id is wrong. Nothing will succeed: stop this batch."""


class AirtableBusy(Exception):
    """Airtable is quiet (429), down, refusing the token, or the run is out of time."""


class Rejected(Exception):
    """Airtable refused the request itself (4xx other than 401/403/429)."""

    def __init__(self, status: int, error_type: str, field_name: str = "", option: str = "") -> None:
        super().__init__(f"Airtable {status} {error_type}")
        self.status = status
        self.error_type = error_type
        self.field_name = field_name  # schema, never a value
        self.option = option  # a select option Airtable quoted: used to find the field, never logged


@dataclass
class Row:
    spec: TableSpec
    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    message_ids: list[str] = field(default_factory=list)
    records: list[tuple[str, MirrorRecord]] = field(default_factory=list)
    committed: bool = False

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
    written: set[str] = field(default_factory=set)
    parked: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)
    stale_fields: int = 0

    def fail(self, message_ids: Iterable[str], reason: str) -> None:
        for message_id in message_ids:
            self.failures.setdefault(message_id, reason)


@dataclass
class Stats:
    """Request counters across invocations of one container (rows written, parked, held
    and stale are per batch, in ``Outcome``)."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    stubs_created: int = 0
    lookups: int = 0


class _Stop(Exception):
    """Internal: the batch stops; ``hold`` says whether the rest is held in state."""

    def __init__(self, reason: str, hold: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hold = hold


Alert = Callable[[str, str], None]


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
        state: MirrorState | None = None,
        alert: Alert | None = None,
    ) -> None:
        self.api = api
        self.base_id = base_id
        self.names = names or table_names()
        self.clock = clock
        self.limiter = limiter or RateLimiter(clock=clock)
        self.backoff = backoff or Backoff()
        self.links = links if links is not None else LinkCache()
        self.state: MirrorState = state if state is not None else MemoryMirrorState()
        self.alert = alert
        self.stats = Stats()

    def table(self, spec: TableSpec) -> Table:
        return self.api.table(self.base_id, self.names[spec.kind])

    # ---- one SQS batch
    def write(self, messages: Sequence[tuple[str, str]], deadline: float, probing: frozenset[str] = frozenset()) -> Outcome:
        """Mirrors (message id, body) pairs; returns which message ids failed and why.
        ``probing``: drifted tables whose rows are sent anyway (the scheduled probe)."""
        outcome = Outcome(records=len(messages))
        requests_before = self.stats.requests
        rows = self._merge(messages, outcome)
        if not rows:
            return outcome
        owner = uuid.uuid4().hex
        pending = {id(row): row for table_rows in rows.values() for row in table_rows}
        try:
            control = self.state.control()
            self._respect_quiet(control, deadline)
            for spec in TABLES:
                table_rows = [row for row in rows.get(spec.kind) or [] if id(row) in pending]
                if not table_rows:
                    continue
                if control.drift(spec.kind) is not None and spec.kind not in probing:
                    self._park(spec, table_rows, outcome)
                else:
                    self._write_table(spec, table_rows, deadline, outcome, owner)
                for row in table_rows:
                    pending.pop(id(row), None)
        except _Stop as stop:
            rest = [row for row in pending.values() if not row.committed and not outcome.written.issuperset(row.message_ids)]
            if stop.hold:
                logger.warning(
                    "Airtable batch stopped; the rest is held until Airtable answers", extra={"reason": stop.reason, "rows": len(rest)}
                )
                self._hold(rest, outcome, stop.reason)
            else:
                logger.warning("Airtable batch stopped; the rest goes back to the queue", extra={"reason": stop.reason, "rows": len(rest)})
                for row in rest:
                    outcome.fail(row.message_ids, stop.reason)
        except Exception as error:  # the state store failed: SQS keeps what is not done
            reason = f"state: {type(error).__name__}"
            logger.exception("mirror state failed; the rest goes back to the queue")
            for row in pending.values():
                outcome.fail(row.message_ids, reason)
        outcome.requests = self.stats.requests - requests_before
        return outcome

    def _respect_quiet(self, control: Control, deadline: float) -> None:
        now = self.clock.now()
        if control.quiet_until <= now:
            return
        # Airtable's 30 s after a 429 is waited out when the invocation has the time; an
        # outage's quiet minute is not: the records are held and the next run tries.
        if control.quiet_reason != "429" or control.quiet_until > deadline - MIN_WORK_SECONDS:
            raise _Stop(f"quiet until {control.quiet_until - now:.0f} s from now ({control.quiet_reason})", hold=True)
        self.limiter.pause(control.quiet_until - now)

    def _merge(self, messages: Sequence[tuple[str, str]], outcome: Outcome) -> dict[str, list[Row]]:
        parsed: list[tuple[int, str, int, str, MirrorRecord]] = []
        for position, (message_id, body) in enumerate(messages):
            try:
                record = MirrorRecord.from_json(body)
                if record.kind not in BY_KIND:
                    raise ValueError(f"unknown kind {record.kind!r}")
                if not isinstance(record.key, str) or not record.key.strip():
                    raise ValueError(f"{record.kind} record without a key")
                if not isinstance(record.fields, dict):
                    raise ValueError("fields is not an object")
                if not isinstance(record.version, int):
                    raise ValueError("version is not an integer")
            except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
                count("AirtableRecordsUnreadable")
                logger.error("unreadable mirror record", extra={"message_id": message_id, "error": type(error).__name__})
                outcome.fail([message_id], f"unreadable mirror record: {type(error).__name__}")
                continue
            parsed.append((record.version, record.at or "", position, message_id, record))
        parsed.sort(key=lambda item: (item[0], item[1], item[2]))
        rows: dict[str, dict[str, Row]] = {}
        for version, _, _, message_id, record in parsed:
            spec = BY_KIND[record.kind]
            row = rows.setdefault(spec.kind, {}).setdefault(record.key, Row(spec=spec, key=record.key))
            row.fields.update(record.fields)
            row.versions.update(dict.fromkeys(record.fields, version))
            row.message_ids.append(message_id)
            row.records.append((message_id, record))
        for by_key in rows.values():
            for row in by_key.values():
                for name, default in row.spec.defaults.items():
                    if row.fields.get(name) in (None, ""):  # e.g. Audit Log rows always carry a Category
                        row.fields[name] = default
                        row.versions[name] = max(row.versions.values(), default=0)
        return {kind: list(by_key.values()) for kind, by_key in rows.items()}

    # ---- set aside
    def _park(self, spec: TableSpec, rows: list[Row], outcome: Outcome) -> None:
        items = [(set_aside_key(record.version, mid), record.to_json()) for row in rows for mid, record in row.records]
        self.state.park(spec.kind, items)
        for row in rows:
            outcome.parked.update(row.message_ids)
        count("AirtableRecordsParked", len(items))

    def _hold(self, rows: list[Row], outcome: Outcome, reason: str) -> None:
        items = [(set_aside_key(record.version, mid), record.to_json()) for row in rows for mid, record in row.records]
        try:
            self.state.hold(items)
        except Exception:
            logger.exception("cannot hold records; they go back to the queue")
            for row in rows:
                outcome.fail(row.message_ids, reason)
            return
        for row in rows:
            outcome.held.update(row.message_ids)
        count("AirtableRecordsHeld", len(items))

    # ---- one table
    def _write_table(self, spec: TableSpec, rows: list[Row], deadline: float, outcome: Outcome, owner: str) -> None:
        lease_until = deadline + LEASE_MARGIN_SECONDS
        claimed: list[Row] = []
        busy: list[Row] = []
        try:
            for row in rows:
                self._claim(spec, row, owner, lease_until, claimed, busy, outcome)
            if busy:  # another invocation is writing these keys right now: wait once
                self.clock.sleep(BUSY_RETRY_SECONDS)
                waiting, busy = busy, []
                for row in waiting:
                    self._claim(spec, row, owner, lease_until, claimed, busy, outcome)
                if busy:
                    self._hold(busy, outcome, "key busy in another invocation")
            sendable = sorted((row for row in claimed if row.fields), key=lambda row: -len(row.fields))
            for row in claimed:
                if not row.fields:  # nothing newer than what Airtable already has
                    outcome.written.update(row.message_ids)
            done = 0
            try:
                self._resolve_links(spec, sendable, deadline, outcome)
                for done in range(0, len(sendable), MAX_RECORDS_PER_REQUEST):
                    chunk = sendable[done : done + MAX_RECORDS_PER_REQUEST]
                    self._write_chunk(spec, chunk, deadline, outcome, owner, retry_links=True)
            except Rejected as error:
                self._drifted(spec, sendable[done : done + MAX_RECORDS_PER_REQUEST], error)
                self._park(spec, sendable[done:], outcome)
        finally:
            for row in claimed:
                if not row.committed:
                    self.state.release(spec.kind, row.key, owner)

    def _claim(
        self, spec: TableSpec, row: Row, owner: str, lease_until: float, claimed: list[Row], busy: list[Row], outcome: Outcome
    ) -> None:
        marks = self.state.claim(spec.kind, row.key, owner, lease_until, self.clock.now())
        if marks is None:
            busy.append(row)
            return
        claimed.append(row)
        for name in list(row.fields):
            version = row.versions.get(name, 0)
            if version and version <= marks.get(name, 0):  # 0: a record from before versions
                del row.fields[name]
                del row.versions[name]
                if version < marks.get(name, 0):
                    outcome.stale_fields += 1

    def _drifted(self, spec: TableSpec, chunk: list[Row], error: Rejected) -> None:
        table = self.names[spec.kind]
        name = error.field_name or self._field_for_option(chunk, error.option) or ""
        drift = Drift(spec.kind, table, name, error.error_type, self.clock.now())
        if self.state.mark_drift(drift):
            logger.error(
                "Airtable table does not match the mirror: its records are parked until it is fixed",
                extra={"table": table, "field": name or "(none)", "error": error.error_type},
            )
            count("AirtableTableDrifted")
            if self.alert is not None:
                where = f'field "{name}" of table "{table}"' if name else f'table "{table}"'
                self.alert(
                    "Masking service: Airtable table needs a fix",
                    f"Airtable refused the mirror's rows ({error.error_type}) on {where}. Its records are parked, "
                    "nothing is lost: fix the base (e.g. make airtable-schema ARGS=--check) and they are written "
                    "again within a few minutes.",
                )

    @staticmethod
    def _field_for_option(chunk: list[Row], option: str) -> str:
        """INVALID_MULTIPLE_CHOICE_OPTIONS quotes the option, not the field: find the
        select field that carries it."""
        if not option:
            return ""
        for row in chunk:
            for name, value in row.fields.items():
                spec = row.spec.field(name)
                if spec is not None and spec.type == SELECT and str(value) == option:
                    return name
        return ""

    # ---- links
    def _resolve_links(self, spec: TableSpec, rows: list[Row], deadline: float, outcome: Outcome) -> list[Row]:
        """Makes sure every id in the rows' link fields has a record id. A refused lookup
        raises Rejected: the table cannot be written as the mirror expects."""
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
                raise Rejected(error.status, error.error_type, error.field_name or field_name) from error
        return []

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
        return fields

    def _write_chunk(self, spec: TableSpec, chunk: list[Row], deadline: float, outcome: Outcome, owner: str, retry_links: bool) -> None:
        """One upsert request; a permanent refusal raises Rejected for the whole table
        (never split: a schema problem fails every row alike)."""
        table = self.table(spec)
        payload = [{"fields": self._airtable_fields(row)} for row in chunk]
        try:
            result = self._request(partial(table.batch_upsert, payload, key_fields=[spec.key_field], typecast=True), deadline)
        except Rejected as error:
            if retry_links and spec.links and error.error_type == "ROW_DOES_NOT_EXIST" and self._forget_links(spec, chunk):
                # A cached record id may point at a row someone deleted: look them up again.
                self._resolve_links(spec, chunk, deadline, outcome)
                self._write_chunk(spec, chunk, deadline, outcome, owner, retry_links=False)
                return
            raise
        if spec.kind == "provider":
            self._remember(spec, result["records"])
        for row in chunk:
            self.state.commit(spec.kind, row.key, owner, {name: v for name, v in row.versions.items() if v})
            row.committed = True
            outcome.written.update(row.message_ids)
        outcome.rows_written += len(chunk)
        count("AirtableRowsWritten", len(chunk))

    def _forget_links(self, spec: TableSpec, chunk: list[Row]) -> bool:
        forgotten = False
        for field_name, target_kind in spec.links.items():
            ids = [our_id for row in chunk for our_id in link_ids(row.fields.get(field_name))]
            if ids:
                self.links.forget(target_kind, ids)
                forgotten = True
        return forgotten

    # ---- another user of the base (the provisioner): the same budget
    def shared_request(self, call: Callable[[], T], deadline: float, check_quiet: bool = False) -> T:
        """One request through this mirror's limiter, backoff and the shared 429 "quiet
        until" in ``state``, so the provisioner and the sync together keep to Airtable's
        5 requests a second per base. Raises ``AirtableBusy`` when Airtable is quiet,
        down or out of time; ``Rejected`` for a 4xx."""
        try:
            if check_quiet:
                self._respect_quiet(self.state.control(), deadline)
            return self._request(call, deadline)
        except _Stop as stop:
            raise AirtableBusy(stop.reason) from stop

    # ---- the scheduled probe's own request
    def ping(self, deadline: float) -> None:
        """One small read (the first Sitters row's key): raises if Airtable does not answer."""
        spec = BY_KIND["provider"]
        saved, self.backoff = self.backoff, Backoff(attempts=1)  # a probe: no backoff, the schedule comes again
        try:
            self._request(partial(self.table(spec).first, fields=[spec.key_field]), deadline)
        finally:
            self.backoff = saved

    # ---- one request, paced and retried
    def _request(self, call: Callable[[], T], deadline: float) -> T:
        retry = 0
        while True:
            try:
                self.limiter.acquire(deadline)
            except OutOfTime as error:
                raise _Stop(f"OutOfTime: {error}", hold=True) from error
            self.stats.requests += 1
            try:
                return call()
            except requests.HTTPError as error:
                status = error.response.status_code if error.response is not None else 0
                if status == 429:
                    # First make the 30 s penalty everyone's (other invocations, other
                    # containers), then decide whether this invocation can wait it out.
                    until = self.clock.now() + RATE_LIMIT_WAIT_SECONDS
                    self.state.raise_quiet(until, "429")
                    self.limiter.pause(RATE_LIMIT_WAIT_SECONDS)
                    self.stats.rate_limited += 1
                    count("AirtableRateLimited")
                    if until > deadline - MIN_WORK_SECONDS:
                        raise _Stop("rate limited (429) with less than 30 s left", hold=True) from error
                    logger.warning("Airtable answered 429: waiting 30 s")
                    continue
                if status in (401, 403):
                    raise _Stop(f"Unauthorized: Airtable {status} {_error_type(error.response)}", hold=False) from error
                if status < 500:
                    raise _rejected(status, error.response) from error
                problem = f"HTTP {status}"
            except requests.RequestException as error:  # timeouts, refused or dropped connections
                problem = type(error).__name__
            retry += 1
            self.stats.retries += 1
            count("AirtableRetries")
            delay = self.backoff.delay(retry)
            if retry >= self.backoff.attempts or self.clock.now() + delay > deadline:
                self.state.raise_quiet(self.clock.now() + OUTAGE_QUIET_SECONDS, "outage")
                raise _Stop(f"Unavailable: {problem} after {retry} attempts", hold=True)
            logger.warning("Airtable request failed; backing off", extra={"problem": problem, "retry": retry, "delay": delay})
            self.clock.sleep(delay)


_FIELD_IN_MESSAGE = re.compile(r'(?:[Ff]ield(?: name)?:? )"([^"]+)"')
_OPTION_IN_MESSAGE = re.compile(r'select option "+([^"]*)"+')


def _rejected(status: int, response: requests.Response | None) -> Rejected:
    """Airtable's error type, the field its message names (schema) and the select option
    it quotes (only to find the field). The message itself is never kept: it can quote a
    value, i.e. a body or a phone number."""
    error_type = _error_type(response)
    message = ""
    try:
        body = response.json() if response is not None else {}
        error = body.get("error") if isinstance(body, dict) else None
        message = str(error.get("message") or "") if isinstance(error, dict) else ""
    except ValueError:
        pass
    field_match = _FIELD_IN_MESSAGE.search(message)
    option_match = _OPTION_IN_MESSAGE.search(message)
    return Rejected(status, error_type, field_match.group(1) if field_match else "", option_match.group(1) if option_match else "")


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
