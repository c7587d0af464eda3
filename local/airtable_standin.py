"""An in-memory Airtable for tests, the benchmark and the local runner.

What it does, enough for ``airtable_sync``, ``tools.airtable_schema`` and
``tools.airtable_import`` (all through pyairtable):

- records per table: create, update, upsert on ``performUpsert.fieldsToMergeOn``
  (PATCH merges fields, PUT replaces), list with ``filterByFormula`` (OR/AND/NOT,
  ``{Field}='value'``, ``=``/``!=``), ``fields[]``, ``pageSize``, ``maxRecords``,
  ``offset``; field values checked per type, ``typecast`` casting and adding select
  options, link fields taking record ids;
- the metadata API: base schema, create table, create field (a link also creates its
  inverse field on the linked table, named after the linking table, as Airtable does);
- Airtable's limits: at most 5 requests per second per base (sliding window); one more
  answers 429 with Airtable's error body and locks the base for 30 s; more than 10
  records in one write answers 422;
- faults: ``outage("5xx" | "timeout", seconds)`` and ``fail_next(n, status)``;
- a clock you choose (``VirtualClock`` for tests: ``sleep`` advances it, nothing waits).

Two ways to use it:

- in-process: ``standin.mount(api.session)`` (a requests transport adapter) or
  ``with standin.intercept():`` (a ``responses`` mock for code that builds its own
  session, like the Lambda handler);
- over loopback HTTP for the local runner:
  ``python -m local.airtable_standin --port 8787 --schema``, then point the sync at it
  with ``AIRTABLE_API_URL=http://127.0.0.1:8787`` (any token, base id ``appLOCALSTANDIN``
  unless ``--base``). ``GET /_standin/<table>`` lists a table's rows,
  ``GET /_standin`` the tables and row counts, ``GET /_standin/_requests`` the request
  log, ``POST /_standin/_fault`` with ``{"mode": "5xx", "seconds": 60}`` starts an outage.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import re
import string
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter

DEFAULT_BASE = "appLOCALSTANDIN"
DEFAULT_URL = "http://airtable.standin"
RATE_LIMIT_BODY = {"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]}
COMPUTED = {
    "formula",
    "createdTime",
    "lastModifiedTime",
    "autoNumber",
    "count",
    "rollup",
    "lookup",
    "multipleLookupValues",
    "createdBy",
    "lastModifiedBy",
    "button",
}
TEXT_TYPES = {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber", "barcode"}
NUMBER_TYPES = {"number", "currency", "percent", "duration", "rating"}
REC_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")


# --------------------------------------------------------------------------- clocks
class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """Simulated seconds: ``sleep`` moves time forward at once. Shared by the code under
    test (its limiter and backoff) and the stand-in (its rate window and lockout)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._now += seconds
                self.slept += seconds

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


# --------------------------------------------------------------------------- errors
class AirtableError(Exception):
    def __init__(self, status: int, error_type: str, message: str = "") -> None:
        super().__init__(message or error_type)
        self.status = status
        self.error_type = error_type
        self.message = message or error_type

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.error_type, "message": self.message}}


def _new_id(prefix: str) -> str:
    return prefix + "".join(random.choices(string.ascii_letters + string.digits, k=14))


# --------------------------------------------------------------------------- formulas
_TOKEN = re.compile(
    r"\s*(?:(?P<field>\{[^}]*\})|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<op>!=|<=|>=|=|<|>|&)|(?P<punct>[(),])|(?P<name>[A-Za-z_][A-Za-z_0-9]*))"
)


def _tokens(formula: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    formula = formula.strip()
    while position < len(formula):
        match = _TOKEN.match(formula, position)
        if not match or match.end() == position:
            raise AirtableError(422, "INVALID_FILTER_BY_FORMULA", "The formula for filtering records is invalid")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(formula) and formula[position].isspace():
            position += 1
    return tokens


class _Formula:
    """A recursive-descent evaluator for the filters pyairtable writes."""

    def __init__(self, formula: str) -> None:
        self.tokens = _tokens(formula)
        self.position = 0
        tree = self._expression()
        if self.position != len(self.tokens):
            raise AirtableError(422, "INVALID_FILTER_BY_FORMULA", "The formula for filtering records is invalid")
        self.tree = tree

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise AirtableError(422, "INVALID_FILTER_BY_FORMULA", "The formula for filtering records is invalid")
        self.position += 1
        return token

    def _expression(self) -> Any:
        left = self._primary()
        token = self._peek()
        if token and token[0] == "op":
            self._take()
            return ("op", token[1], left, self._primary())
        return left

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "field":
            return ("field", text[1:-1].replace("\\}", "}"))
        if kind == "str":
            return ("value", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "num":
            return ("value", float(text))
        if kind == "punct" and text == "(":
            inner = self._expression()
            self._take()
            return inner
        if kind == "name":
            args: list[Any] = []
            if self._take() != ("punct", "("):
                raise AirtableError(422, "INVALID_FILTER_BY_FORMULA", f"unknown name {text}")
            if self._peek() != ("punct", ")"):
                while True:
                    args.append(self._expression())
                    if self._peek() == ("punct", ","):
                        self._take()
                        continue
                    break
            self._take()
            return ("call", text.upper(), args)
        raise AirtableError(422, "INVALID_FILTER_BY_FORMULA", "The formula for filtering records is invalid")

    def evaluate(self, cell: Callable[[str], Any]) -> bool:
        return bool(_evaluate(self.tree, cell))


def _evaluate(node: Any, cell: Callable[[str], Any]) -> Any:
    kind = node[0]
    if kind == "value":
        return node[1]
    if kind == "field":
        return cell(node[1])
    if kind == "call":
        name, args = node[1], node[2]
        values = [_evaluate(arg, cell) for arg in args]
        functions: dict[str, Callable[[], Any]] = {
            "OR": lambda: any(values),
            "AND": lambda: all(values),
            "NOT": lambda: not values[0],
            "TRUE": lambda: True,
            "FALSE": lambda: False,
            "BLANK": lambda: "",
            "LOWER": lambda: str(values[0]).lower(),
            "UPPER": lambda: str(values[0]).upper(),
            "IS_BEFORE": lambda: _moment(values[0]) < _moment(values[1]),
        }
        if name not in functions:
            raise AirtableError(422, "INVALID_FILTER_BY_FORMULA", f"unknown function {name}")
        return functions[name]()
    _, op, left_node, right_node = node
    left, right = _evaluate(left_node, cell), _evaluate(right_node, cell)
    if op == "&":
        return f"{_text(left)}{_text(right)}"
    left, right = _comparable(left, right)
    return {
        "=": lambda: left == right,
        "!=": lambda: left != right,
        "<": lambda: left < right,
        ">": lambda: left > right,
        "<=": lambda: left <= right,
        ">=": lambda: left >= right,
    }[op]()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _moment(value: Any) -> datetime:
    """A date or date-time cell or literal, for IS_BEFORE (blank: the earliest moment)."""
    text = _text(value).strip()
    if not text:
        return datetime.min.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, (int, float)) and isinstance(right, (int, float)) and not isinstance(left, bool):
        return float(left), float(right)
    return _text(left), _text(right)


# --------------------------------------------------------------------------- model
@dataclass
class _Field:
    id: str
    name: str
    type: str
    options: dict[str, Any] | None = None
    description: str | None = None

    def model(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.options is not None:
            data["options"] = self.options
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class _Record:
    id: str
    created: str
    fields: dict[str, Any]
    modified: str = ""


@dataclass
class _Table:
    id: str
    name: str
    fields: list[_Field]
    records: dict[str, _Record] = field(default_factory=dict)
    description: str | None = None
    view_id: str = field(default_factory=lambda: _new_id("viw"))

    @property
    def primary(self) -> _Field:
        return self.fields[0]

    def field(self, name_or_id: str) -> _Field | None:
        return next((f for f in self.fields if name_or_id in (f.name, f.id)), None)

    def model(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "primaryFieldId": self.primary.id,
            "fields": [f.model() for f in self.fields],
            "views": [{"id": self.view_id, "name": "Grid view", "type": "grid"}],
        }
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class _Base:
    id: str
    tables: list[_Table] = field(default_factory=list)
    starts: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0

    def table(self, name_or_id: str) -> _Table | None:
        return next((t for t in self.tables if name_or_id in (t.name, t.id)), None)


@dataclass
class RequestEntry:
    at: float
    base: str
    method: str
    path: str
    status: int
    records: int


@dataclass
class _NewLinked:
    """A link value typecast from a name: a row to find or create in the linked table."""

    table: _Table
    name: str


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- the stand-in
class AirtableStandin:
    def __init__(
        self,
        *,
        token: str | None = None,
        clock: Any = None,
        requests_per_second: int = 5,
        window: float = 1.0,
        max_records: int = 10,
        lockout_seconds: float = 30.0,
        latency: float = 0.0,
    ) -> None:
        self.token = token
        self.clock = clock or RealClock()
        self.requests_per_second = requests_per_second
        self.window = window
        self.max_records = max_records
        self.lockout_seconds = lockout_seconds
        self.latency = latency
        self.limits = True
        # False: the token may not add select options (Airtable answers
        # INVALID_MULTIPLE_CHOICE_OPTIONS "Insufficient permissions to create new select
        # option" even with typecast), e.g. after the operator removed one.
        self.allow_new_options = True
        self.bases: dict[str, _Base] = {}
        self.requests: list[RequestEntry] = []
        self._outages: list[tuple[str, float, float]] = []  # (mode, from, until) on self.clock
        self._fail_next: list[int] = []
        self._lock = threading.RLock()

    # ---- setup and inspection (Python API)
    def base(self, base_id: str = DEFAULT_BASE) -> _Base:
        with self._lock:
            return self.bases.setdefault(base_id, _Base(id=base_id))

    def add_table(self, name: str, fields: list[dict[str, Any]], base_id: str = DEFAULT_BASE) -> dict[str, Any]:
        """Creates a table directly (no limits, any field type: for seeding a base)."""
        with self._lock:
            return self._create_table(self.base(base_id), {"name": name, "fields": fields}, seeding=True)

    def add_field(self, table: str, spec: dict[str, Any], base_id: str = DEFAULT_BASE) -> dict[str, Any]:
        with self._lock:
            target = self._table(self.base(base_id), table)
            return self._create_field(self.base(base_id), target, spec, seeding=True)

    def remove_field(self, table: str, name: str, base_id: str = DEFAULT_BASE) -> None:
        with self._lock:
            target = self._table(self.base(base_id), table)
            target.fields = [f for f in target.fields if f.name != name]
            for record in target.records.values():
                record.fields.pop(name, None)

    def rename_field(self, table: str, name: str, new_name: str, base_id: str = DEFAULT_BASE) -> None:
        """What an operator does in the base: values stay, the API name changes."""
        with self._lock:
            spec = self._table(self.base(base_id), table).field(name)
            assert spec is not None, name
            spec.name = new_name

    def remove_option(self, table: str, name: str, option: str, base_id: str = DEFAULT_BASE) -> None:
        with self._lock:
            spec = self._table(self.base(base_id), table).field(name)
            assert spec is not None and spec.options is not None, name
            spec.options["choices"] = [c for c in spec.options.get("choices", []) if c["name"] != option]

    def insert(self, table: str, fields: dict[str, Any], base_id: str = DEFAULT_BASE) -> str:
        """Adds a row directly (typecast, no limits); returns its record id."""
        with self._lock:
            base = self.base(base_id)
            target = self._table(base, table)
            return self._store(base, target, None, self._coerce_fields(base, target, fields, typecast=True), replace=False).id

    def rows(self, table: str, base_id: str = DEFAULT_BASE) -> list[dict[str, Any]]:
        """Every row of a table: ``{"id", "createdTime", "fields"}`` as the API lists them."""
        with self._lock:
            base = self.base(base_id)
            target = self._table(base, table)
            return [self._record_model(base, target, record) for record in target.records.values()]

    def table_names(self, base_id: str = DEFAULT_BASE) -> list[str]:
        return [t.name for t in self.base(base_id).tables]

    def outage(self, mode: str | None, seconds: float = 0.0, start: float | None = None) -> None:
        """``"5xx"`` answers 503, ``"timeout"`` never answers in time, for ``seconds`` from
        ``start`` (default now; windows add up). ``None`` ends every outage."""
        with self._lock:
            if mode is None:
                self._outages.clear()
                return
            begin = self.clock.now() if start is None else start
            self._outages.append((mode, begin, begin + seconds))

    def fail_next(self, times: int = 1, status: int = 503) -> None:
        with self._lock:
            self._fail_next.extend([status] * times)

    @contextlib.contextmanager
    def unlimited(self) -> Iterator[None]:
        """No rate limit inside (for setting a base up)."""
        saved, self.limits = self.limits, False
        try:
            yield
        finally:
            self.limits = saved

    # ---- transports
    def adapter(self) -> Any:
        return _StandinAdapter(self)

    def mount(self, session: Any, prefix: str = DEFAULT_URL) -> None:
        session.mount(prefix, self.adapter())

    @contextlib.contextmanager
    def intercept(self, url: str = DEFAULT_URL) -> Iterator[Any]:
        """Answers every request to ``url`` from any requests session (``responses``)."""
        import responses

        def callback(request: Any) -> tuple[int, dict[str, str], str]:
            timeout = getattr(request, "req_kwargs", {}).get("timeout")
            try:
                status, body = self.handle(request.method, request.url, dict(request.headers), request.body, timeout=timeout)
            except StandinTimeout as error:
                self.clock.sleep(error.seconds)
                raise requests.exceptions.ReadTimeout("stand-in: read timed out", request=request) from None
            return status, {"Content-Type": "application/json"}, json.dumps(body)

        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            pattern = re.compile(re.escape(url.rstrip("/")) + r"/.*")
            for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
                mock.add_callback(method, pattern, callback=callback)
            yield mock

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
        server = ThreadingHTTPServer((host, port), _handler_class(self))
        thread = threading.Thread(target=server.serve_forever, name="airtable-standin", daemon=True)
        thread.start()
        return server, thread

    # ---- one request
    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | str | None, timeout: Any = None) -> tuple[int, Any]:
        """Answers one HTTP request: (status, JSON body). Raises ``StandinTimeout`` in a
        ``timeout`` outage (the in-process transports turn it into a requests timeout)."""
        parts = urlsplit(url)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if path.startswith("/_standin"):
            return self._control(method, path, query, body)
        segments = [s for s in path.split("/") if s]
        if not segments or segments[0] != "v0":
            return 404, {"error": "NOT_FOUND"}
        segments = segments[1:]
        base_id = segments[2] if segments[:2] == ["meta", "bases"] and len(segments) > 2 else (segments[0] if segments else "")
        payload: dict[str, Any] = {}
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                return 422, AirtableError(422, "INVALID_REQUEST_UNKNOWN", "Invalid request: body is not JSON").body()
        with self._lock:
            now = self.clock.now()
            try:
                status, answer, records = self._admit(base_id, headers, now, timeout)
            except StandinTimeout:
                self.requests.append(RequestEntry(now, base_id, method, path, 0, 0))
                raise
            if status == 0:
                try:
                    status, answer, records = 200, *self._route(method, segments, query, payload)
                except AirtableError as error:
                    status, answer, records = error.status, error.body(), 0
            self.requests.append(RequestEntry(now, base_id, method, path, status, records))
        if self.latency:
            self.clock.sleep(self.latency)
        return status, answer

    def _admit(self, base_id: str, headers: dict[str, str], now: float, timeout: Any) -> tuple[int, Any, int]:
        """Auth, faults and the per-base rate limit. (0, None, 0) lets the request in."""
        if self.token is not None:
            auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
            if auth != f"Bearer {self.token}":
                return 401, {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}, 0
        outage = next((mode for mode, begin, until in self._outages if begin <= now < until), None)
        if outage == "timeout":
            raise StandinTimeout(timeout)
        if outage is not None:
            return 503, {"error": {"type": "SERVICE_UNAVAILABLE", "message": "Service Unavailable"}}, 0
        if self._fail_next:
            status = self._fail_next.pop(0)
            if status == 0:
                raise StandinTimeout(timeout)
            return status, {"error": {"type": "SERVER_ERROR", "message": "Server error"}}, 0
        if not self.limits or not base_id:
            return 0, None, 0
        base = self.base(base_id)
        if now < base.locked_until:
            return 429, RATE_LIMIT_BODY, 0
        while base.starts and base.starts[0] <= now - self.window:
            base.starts.popleft()
        if len(base.starts) >= self.requests_per_second:
            base.locked_until = now + self.lockout_seconds
            return 429, RATE_LIMIT_BODY, 0
        base.starts.append(now)
        return 0, None, 0

    def _route(self, method: str, segments: list[str], query: dict[str, list[str]], payload: dict[str, Any]) -> tuple[Any, int]:
        if segments[:2] == ["meta", "bases"] and len(segments) >= 4 and segments[3] == "tables":
            base = self.base(segments[2])
            if len(segments) == 4 and method == "GET":
                return {"tables": [t.model() for t in base.tables]}, 0
            if len(segments) == 4 and method == "POST":
                return self._create_table(base, payload), 0
            if len(segments) == 6 and segments[5] == "fields" and method == "POST":
                return self._create_field(base, self._table(base, segments[4]), payload), 0
            raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
        if len(segments) < 2:
            raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
        base = self.base(segments[0])
        table = self._table(base, segments[1])
        if len(segments) == 3 and segments[2] == "listRecords" and method == "POST":
            return self._list(base, table, payload), 0
        if len(segments) == 3 and method == "GET":
            record = table.records.get(segments[2])
            if record is None:
                raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
            return self._record_model(base, table, record), 0
        if len(segments) != 2:
            raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
        if method == "GET":
            options: dict[str, Any] = {
                name: next(iter(query.get(name) or []), None) for name in ("filterByFormula", "pageSize", "maxRecords", "offset")
            }
            options["fields"] = query.get("fields[]") or query.get("fields") or []
            return self._list(base, table, options), 0
        if method in ("POST", "PATCH", "PUT"):
            records = payload.get("records")
            if not isinstance(records, list) or not records:
                raise AirtableError(422, "INVALID_REQUEST_MISSING_FIELDS", 'Could not find field "records" in the request body')
            if len(records) > self.max_records:
                raise AirtableError(422, "INVALID_RECORDS", f"You can write at most {self.max_records} records per request")
            return self._write(base, table, method, payload), len(records)
        raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")

    # ---- records
    def _table(self, base: _Base, name_or_id: str) -> _Table:
        table = base.table(name_or_id)
        if table is None:
            raise AirtableError(404, "TABLE_NOT_FOUND", f"Could not find table {name_or_id} in application {base.id}")
        return table

    def _list(self, base: _Base, table: _Table, options: dict[str, Any]) -> dict[str, Any]:
        formula = options.get("filterByFormula") or ""
        wanted = options.get("fields") or []
        page_size = min(int(options.get("pageSize") or 100), 100)
        max_records = int(options["maxRecords"]) if options.get("maxRecords") else None
        start = int(str(options.get("offset") or "itr0").removeprefix("itr") or 0)
        records = list(table.records.values())
        if formula:
            parsed = _Formula(formula)
            records = [r for r in records if parsed.evaluate(partial(self._cell, base, table, r))]
        if max_records is not None:
            records = records[:max_records]
        page = records[start : start + page_size]
        answer: dict[str, Any] = {"records": [self._record_model(base, table, r, wanted) for r in page]}
        if start + page_size < len(records):
            answer["offset"] = f"itr{start + page_size}"
        return answer

    def _cell(self, base: _Base, table: _Table, record: _Record, name: str) -> Any:
        spec = table.field(name)
        if spec is None:
            raise AirtableError(422, "INVALID_FILTER_BY_FORMULA", f"Unknown field names: {name.lower()}")
        return self._value(base, table, record, spec)

    def _value(self, base: _Base, table: _Table, record: _Record, spec: _Field) -> Any:
        if spec.type == "createdTime" or (spec.type == "formula" and "CREATED_TIME" in str((spec.options or {}).get("formula"))):
            return record.created
        if spec.type == "lastModifiedTime" or (spec.type == "formula" and "LAST_MODIFIED_TIME" in str((spec.options or {}).get("formula"))):
            return record.modified or record.created
        if spec.type == "multipleRecordLinks":
            own = list(record.fields.get(spec.id) or [])
            inverse_id = (spec.options or {}).get("inverseLinkFieldId")
            linked = base.table((spec.options or {}).get("linkedTableId", ""))
            if inverse_id and linked is not None:
                for other in linked.records.values():
                    if record.id in (other.fields.get(inverse_id) or []) and other.id not in own:
                        own.append(other.id)
            return own or None
        return record.fields.get(spec.id)

    def _record_model(self, base: _Base, table: _Table, record: _Record, wanted: list[str] | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for spec in table.fields:
            if wanted and spec.name not in wanted and spec.id not in wanted:
                continue
            value = self._value(base, table, record, spec)
            if value not in (None, "", [], False):
                fields[spec.name] = value
        return {"id": record.id, "createdTime": record.created, "fields": fields}

    def _write(self, base: _Base, table: _Table, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        typecast = bool(payload.get("typecast"))
        upsert = payload.get("performUpsert")
        merge_on: list[str] = []
        if upsert is not None:
            merge_on = list((upsert or {}).get("fieldsToMergeOn") or [])
            if not merge_on:
                raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "performUpsert needs fieldsToMergeOn")
            for name in merge_on:
                spec = table.field(name)
                if spec is None or spec.type in COMPUTED or spec.type == "multipleRecordLinks":
                    raise AirtableError(422, "INVALID_FIELD_TO_MERGE_ON", f'Field "{name}" cannot be used to merge on')
        plan: list[tuple[_Record | None, dict[str, Any]]] = []
        seen_keys: set[tuple[str, ...]] = set()
        for item in payload["records"]:
            raw = item.get("fields") if isinstance(item, dict) else None
            if not isinstance(raw, dict):
                raise AirtableError(422, "INVALID_RECORDS", "Each record needs an object of fields")
            values = self._coerce_fields(base, table, raw, typecast)
            target: _Record | None = None
            if method == "POST":
                target = None
            elif item.get("id"):
                # An update by a record id this table does not have fails the whole request
                # with 404 (https://github.com/Airtable/airtable.js/issues/130: "results in
                # a 404"); nothing in the request is written.
                target = table.records.get(item["id"])
                if target is None:
                    raise AirtableError(404, "NOT_FOUND", f"Record ID {item['id']} does not exist in this table")
            elif upsert is not None:
                key = tuple(_text(values.get(self._field_id(table, name))) for name in merge_on)
                if key in seen_keys:
                    raise AirtableError(422, "INVALID_RECORDS", "Two records in one request have the same fieldsToMergeOn values")
                seen_keys.add(key)
                ids = [self._field_id(table, name) for name in merge_on]
                matches = [r for r in table.records.values() if tuple(_text(r.fields.get(i)) for i in ids) == key]
                if len(matches) > 1:
                    raise AirtableError(422, "INVALID_RECORDS", "More than one record matches the fieldsToMergeOn values")
                target = matches[0] if matches else None
            else:
                raise AirtableError(422, "INVALID_RECORDS", "Records to update need an id")
            plan.append((target, values))
        created: list[str] = []
        updated: list[str] = []
        written: list[_Record] = []
        for target, values in plan:
            record = self._store(base, table, target, values, replace=method == "PUT")
            (updated if target is not None else created).append(record.id)
            written.append(record)
        answer: dict[str, Any] = {"records": [self._record_model(base, table, r) for r in written]}
        if upsert is not None:
            answer["createdRecords"] = created
            answer["updatedRecords"] = updated
        return answer

    def _field_id(self, table: _Table, name: str) -> str:
        spec = table.field(name)
        assert spec is not None
        return spec.id

    def _store(self, base: _Base, table: _Table, target: _Record | None, values: dict[str, Any], replace: bool) -> _Record:
        resolved: dict[str, Any] = {}
        for field_id, value in values.items():
            if isinstance(value, list) and any(isinstance(item, _NewLinked) for item in value):
                value = [self._linked_row(base, item) if isinstance(item, _NewLinked) else item for item in value]
            resolved[field_id] = value
        stamp = _now_iso()
        if target is None:
            target = _Record(id=_new_id("rec"), created=stamp, fields={})
            table.records[target.id] = target
        elif replace:
            target.fields = {}
        target.modified = stamp
        for field_id, value in resolved.items():
            if value in (None, "", []):
                target.fields.pop(field_id, None)
            else:
                target.fields[field_id] = value
        return target

    def _linked_row(self, base: _Base, new: _NewLinked) -> str:
        primary = new.table.primary.id
        for record in new.table.records.values():
            if _text(record.fields.get(primary)) == new.name:
                return record.id
        return self._store(base, new.table, None, {primary: new.name}, replace=False).id

    def _coerce_fields(self, base: _Base, table: _Table, raw: dict[str, Any], typecast: bool) -> dict[str, Any]:
        """Field name (or id) -> value, checked and cast, keyed by field id."""
        out: dict[str, Any] = {}
        for name, value in raw.items():
            value = self._coerce(base, table, name, value, typecast)
            out[self._field_id(table, name)] = value
        return out

    def _coerce(self, base: _Base, table: _Table, name: str, value: Any, typecast: bool) -> Any:
        """The stored value of ``value`` in field ``name``."""
        spec = table.field(name)
        if spec is None:
            raise AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')
        bad = AirtableError(422, "INVALID_VALUE_FOR_COLUMN", f'Field "{spec.name}" cannot accept the provided value')
        if spec.type in COMPUTED:
            raise AirtableError(422, "INVALID_VALUE_FOR_COLUMN", f'Field "{spec.name}" cannot accept a value because the field is computed')
        if value is None:
            return None
        kind = spec.type
        if kind in TEXT_TYPES:
            if isinstance(value, str):
                return value
            if typecast and isinstance(value, (int, float, bool)):
                return str(value)
            raise bad
        if kind in NUMBER_TYPES:
            if isinstance(value, bool):
                raise bad
            if isinstance(value, (int, float)):
                return value
            if typecast and isinstance(value, str):
                if not value.strip():
                    return None
                try:
                    number = float(value)
                except ValueError:
                    raise bad from None
                return int(number) if number.is_integer() else number
            raise bad
        if kind == "checkbox":
            # A checkbox cell is true or empty (https://airtable.com/developers/web/api/field-model).
            # Typecast reads strings the way a paste does: "false" never checks the box, and
            # a string that says neither is refused rather than guessed.
            if isinstance(value, bool):
                return value or None
            if typecast and isinstance(value, (int, float)):
                return bool(value) or None
            if typecast and isinstance(value, str):
                text = value.strip().lower()
                if text in ("true", "checked", "yes", "1", "on", "x"):
                    return True
                if text in ("false", "unchecked", "no", "0", "off", ""):
                    return None
            raise bad
        if kind in ("singleSelect", "multipleSelects"):
            names = value if kind == "multipleSelects" else [value]
            if not isinstance(names, list) or not all(isinstance(n, (str, int, float)) for n in names):
                raise bad
            names = [str(n) for n in names if str(n) != ""]
            choices = (spec.options or {}).setdefault("choices", [])
            for choice_name in names:
                if not any(c["name"] == choice_name for c in choices):
                    if not typecast or not self.allow_new_options:
                        raise AirtableError(
                            422,
                            "INVALID_MULTIPLE_CHOICE_OPTIONS",
                            f'Insufficient permissions to create new select option ""{choice_name}""',
                        )
                    choices.append({"id": _new_id("sel"), "name": choice_name, "color": "grayLight2"})
            if kind == "singleSelect":
                return names[0] if names else None
            return names
        if kind in ("date", "dateTime"):
            if not isinstance(value, str):
                raise bad
            if not value:
                return None
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise bad from None
            if kind == "date":
                return moment.date().isoformat()
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if kind == "multipleRecordLinks":
            items = value if isinstance(value, list) else ([value] if typecast and isinstance(value, str) else None)
            if items is None:
                raise bad
            linked = base.table((spec.options or {}).get("linkedTableId", ""))
            if linked is None:
                raise bad
            out: list[Any] = []
            for item in items:
                if not isinstance(item, str):
                    raise bad
                if item in linked.records:
                    out.append(item)
                elif REC_ID.match(item):
                    raise AirtableError(422, "ROW_DOES_NOT_EXIST", f"Record ID {item} does not exist")
                elif typecast:
                    out.append(_NewLinked(linked, item))
                else:
                    raise bad
            return out
        return value

    # ---- metadata
    def _create_table(self, base: _Base, payload: dict[str, Any], seeding: bool = False) -> dict[str, Any]:
        name = str(payload.get("name") or "").strip()
        specs = payload.get("fields") or []
        if not name or base.table(name) is not None:
            raise AirtableError(422, "DUPLICATE_TABLE_NAME", f"A table named {name!r} already exists" if name else "Table name is empty")
        if not specs:
            raise AirtableError(422, "INVALID_REQUEST_UNKNOWN", "A table needs at least one field")
        table = _Table(id=_new_id("tbl"), name=name, fields=[], description=payload.get("description"))
        base.tables.append(table)
        try:
            for spec in specs:
                self._create_field(base, table, spec, seeding=seeding)
        except AirtableError:
            base.tables.remove(table)
            raise
        return table.model()

    def _create_field(self, base: _Base, table: _Table, spec: dict[str, Any], seeding: bool = False) -> dict[str, Any]:
        name = str(spec.get("name") or "").strip()
        kind = str(spec.get("type") or "")
        if not name or table.field(name) is not None:
            raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f"Field name {name!r} is empty or already used")
        if kind in COMPUTED and not seeding:
            raise AirtableError(422, "UNSUPPORTED_FIELD_TYPE_FOR_CREATE", f"Creating {kind} fields is not supported")
        options = dict(spec.get("options") or {}) or None
        new = _Field(id=_new_id("fld"), name=name, type=kind, description=spec.get("description"))
        if kind in ("singleSelect", "multipleSelects"):
            choices = [
                {"id": c.get("id") or _new_id("sel"), "name": c["name"], "color": c.get("color") or "blueLight2"}
                for c in (options or {}).get("choices", [])
            ]
            options = {"choices": choices}
        elif kind == "dateTime":
            date_name = ((options or {}).get("dateFormat") or {}).get("name", "iso")
            time_name = ((options or {}).get("timeFormat") or {}).get("name", "24hour")
            options = {
                "timeZone": (options or {}).get("timeZone", "utc"),
                "dateFormat": {"name": date_name, "format": "YYYY-MM-DD"},
                "timeFormat": {"name": time_name, "format": "HH:mm"},
            }
        elif kind == "date":
            options = {"dateFormat": {"name": ((options or {}).get("dateFormat") or {}).get("name", "iso"), "format": "YYYY-MM-DD"}}
        elif kind in ("number", "currency", "percent"):
            options = {"precision": int((options or {}).get("precision", 0)), **({"symbol": "$"} if kind == "currency" else {})}
        elif kind == "checkbox":
            options = {"icon": "check", "color": "greenBright"}
        elif kind == "formula":
            options = {"formula": (options or {}).get("formula", ""), "isValid": True, "referencedFieldIds": []}
        elif kind == "multipleRecordLinks":
            linked = base.table(str((options or {}).get("linkedTableId") or ""))
            if linked is None:
                raise AirtableError(422, "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE", "linkedTableId is not a table of this base")
            options = {"linkedTableId": linked.id, "isReversed": False, "prefersSingleRecordLink": False}
            if linked is not table:
                inverse_name = table.name
                for suffix in itertools.count(2):
                    if linked.field(inverse_name) is None:
                        break
                    inverse_name = f"{table.name} {suffix}"
                inverse = _Field(
                    id=_new_id("fld"),
                    name=inverse_name,
                    type="multipleRecordLinks",
                    options={
                        "linkedTableId": table.id,
                        "isReversed": False,
                        "prefersSingleRecordLink": False,
                        "inverseLinkFieldId": new.id,
                    },
                )
                linked.fields.append(inverse)
                options["inverseLinkFieldId"] = inverse.id
        elif kind in ("createdTime", "lastModifiedTime"):
            options = {"result": {"type": "dateTime", "options": _datetime_options()}}
            if kind == "lastModifiedTime":
                options.update({"isValid": True, "referencedFieldIds": []})
        new.options = options
        table.fields.append(new)
        return new.model()

    # ---- /_standin control endpoints
    def _control(self, method: str, path: str, query: dict[str, list[str]], body: bytes | str | None) -> tuple[int, Any]:
        base_id = (query.get("base") or [DEFAULT_BASE])[0]
        name = unquote(path.removeprefix("/_standin").strip("/"))
        with self._lock:
            if not name and method == "GET":
                return 200, {
                    "bases": {b.id: {t.name: len(t.records) for t in b.tables} for b in self.bases.values()},
                    "requests": len(self.requests),
                }
            if name == "_requests" and method == "GET":
                return 200, [vars(entry) for entry in self.requests[-500:]]
            if name == "_fault" and method == "POST":
                spec = json.loads(body or b"{}")
                self.outage(spec.get("mode"), float(spec.get("seconds") or 0))
                return 200, {"mode": spec.get("mode"), "seconds": spec.get("seconds")}
            if method == "GET":
                try:
                    return 200, self.rows(name, base_id)
                except AirtableError as error:
                    return error.status, error.body()
        return 404, {"error": "NOT_FOUND"}


def _datetime_options() -> dict[str, Any]:
    return {"timeZone": "utc", "dateFormat": {"name": "iso", "format": "YYYY-MM-DD"}, "timeFormat": {"name": "24hour", "format": "HH:mm"}}


class StandinTimeout(Exception):
    """The stand-in is in a ``timeout`` outage: the request gets no answer in time."""

    def __init__(self, timeout: Any) -> None:
        super().__init__("no answer in time")
        read = timeout[1] if isinstance(timeout, tuple) else timeout
        self.seconds = float(read) if read else 30.0


# --------------------------------------------------------------------------- transports
class _StandinAdapter(BaseAdapter):
    """A requests transport adapter that answers from the stand-in, no socket."""

    def __init__(self, standin: AirtableStandin) -> None:
        super().__init__()
        self.standin = standin

    def send(
        self, request: Any, stream: bool = False, timeout: Any = None, verify: Any = True, cert: Any = None, proxies: Any = None
    ) -> Any:
        from requests.structures import CaseInsensitiveDict

        try:
            status, body = self.standin.handle(request.method, request.url, dict(request.headers), request.body, timeout=timeout)
        except StandinTimeout as error:
            self.standin.clock.sleep(error.seconds)
            raise requests.exceptions.ReadTimeout("stand-in: read timed out", request=request) from None
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url
        response.request = request
        response.reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 422: "Unprocessable Entity", 429: "Too Many Requests"}.get(
            status, "Error"
        )
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def _handler_class(standin: AirtableStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            try:
                status, answer = standin.handle(self.command, self.path, dict(self.headers.items()), body)
            except StandinTimeout as error:
                time.sleep(error.seconds)
                status, answer = 504, {"error": {"type": "GATEWAY_TIMEOUT", "message": "Gateway Timeout"}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --------------------------------------------------------------------------- CLI
def apply_mirror_schema(standin: AirtableStandin, base_id: str = DEFAULT_BASE, token: str = "standin") -> list[str]:
    """Creates the mirror's tables and fields in a base (tools.airtable_schema, no limits)."""
    from pyairtable import Api

    from tools.airtable_schema import apply_schema

    api = Api(standin.token or token, endpoint_url=DEFAULT_URL, retry_strategy=None)
    standin.mount(api.session)
    with standin.unlimited():
        return apply_schema(api.base(base_id))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="In-memory Airtable stand-in on loopback HTTP")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--base", default=DEFAULT_BASE, help="base id to create the schema in")
    parser.add_argument("--token", default=None, help="require this bearer token (default: any)")
    parser.add_argument("--schema", action="store_true", help="create the mirror's tables and fields first")
    args = parser.parse_args(argv)
    standin = AirtableStandin(token=args.token)
    if args.schema:
        for line in apply_mirror_schema(standin, args.base):
            print(f"  {line}")
    server, thread = standin.serve(args.host, args.port)
    host, port = str(server.server_address[0]), server.server_address[1]
    print(f"Airtable stand-in on http://{host}:{port} (base {args.base}); rows: GET /_standin/<table>", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
