"""The operator's Airtable base as the mirror sees it: one table per record kind.

docs/architecture.md ("The operator's Airtable base") gives the tables and their fields. The mirror adds a few
(``extra``, marked ``+`` in the field lists below):

=================  ======================  =================================================
table              upsert key              extra fields
=================  ======================  =================================================
Sitters            Provider ID             Provider ID, Email, Provisioning Error, Successor
Clients            Client ID               Client ID, External ID
Number Inventory   PhoneNumber (primary)   none
Messages           Message SID             Message SID, Forwarded SIDs, Media URLs, Content Flag
Audit Log          Event Key               Event Key
Calls (new)        Call ID (primary)       the whole table
Pool Stats (new)   Run (primary)           the whole table: one row per pool monitor run
=================  ======================  =================================================

Links (``multipleRecordLinks``) all point at Sitters and hold our provider id on the
outbox; the writer turns it into the Sitters row id: Messages.Sitter, Clients."Linked
Sitter", Number Inventory."Assigned Sitter", Calls.Sitter. Their inverse fields on
Sitters (Messages, Clients, Number Inventory, Calls) are created by Airtable with each
link. Messages.Client and Audit Log "Related Sitter" / "Related Client" are not links in
§5 (Sitters has no inverse field for them), so they stay text holding our ids.

Calls key on "Call ID", the outbox key, not on "Call SID": an inbound call's key is its
CallSid, but a click-to-call row's key is our session id while its "Call SID" (Twilio's)
arrives later; keying on it would split one call into two rows.

Table names are configurable (``AIRTABLE_TABLE_<KIND>``); field names are the defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TEXT = "singleLineText"
LONG_TEXT = "multilineText"
PHONE = "phoneNumber"
EMAIL = "email"
DATETIME = "dateTime"
NUMBER = "number"
SELECT = "singleSelect"
LINK = "multipleRecordLinks"
FORMULA = "formula"
CHECKBOX = "checkbox"

DATETIME_OPTIONS = {"dateFormat": {"name": "iso"}, "timeFormat": {"name": "24hour"}, "timeZone": "utc"}
# Types an operator may reasonably have chosen for a field instead of ours: not drift.
COMPATIBLE: dict[str, tuple[str, ...]] = {
    TEXT: (TEXT, LONG_TEXT, PHONE, EMAIL, "richText"),
    LONG_TEXT: (LONG_TEXT, TEXT, "richText"),
    PHONE: (PHONE, TEXT),
    EMAIL: (EMAIL, TEXT),
    DATETIME: (DATETIME, "date"),
    NUMBER: (NUMBER,),
    SELECT: (SELECT,),
    LINK: (LINK,),
    CHECKBOX: (CHECKBOX,),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str
    choices: tuple[str, ...] = ()
    link: str | None = None  # kind of the linked table (forward links only)
    inverse_of: str | None = None  # kind whose link to this table Airtable mirrors here
    formula: str | None = None  # computed: cannot be created through the API
    accepts: tuple[str, ...] = ()  # extra types --check accepts
    extra: bool = False  # not in the documented base (docs/architecture.md)

    @property
    def computed(self) -> bool:
        return self.formula is not None

    def accepted_types(self) -> tuple[str, ...]:
        return (*COMPATIBLE.get(self.type, (self.type,)), *self.accepts)

    def create_payload(self, table_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The metadata API's field model for creating this field."""
        payload: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == SELECT:
            payload["options"] = {"choices": [{"name": choice} for choice in self.choices]}
        elif self.type == DATETIME:
            payload["options"] = dict(DATETIME_OPTIONS)
        elif self.type == NUMBER:
            payload["options"] = {"precision": 0}
        elif self.type == CHECKBOX:
            payload["options"] = {"icon": "check", "color": "greenBright"}
        elif self.type == LINK:
            assert self.link and table_ids is not None
            payload["options"] = {"linkedTableId": table_ids[self.link]}
        return payload


@dataclass(frozen=True, slots=True)
class TableSpec:
    kind: str
    default_name: str
    key_field: str
    fields: tuple[FieldSpec, ...]  # the first one is the primary field
    defaults: Mapping[str, Any] = field(default_factory=dict)  # fields every row must carry

    @property
    def env_var(self) -> str:
        return f"AIRTABLE_TABLE_{self.kind.upper()}"

    @property
    def primary(self) -> FieldSpec:
        return self.fields[0]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def links(self) -> dict[str, str]:
        """Forward link field -> kind of the linked table."""
        return {f.name: f.link for f in self.fields if f.link}


def parse_field(line: str) -> FieldSpec:
    """One line of a table's field list (see ``_table``)."""
    extra = line.startswith("+ ")
    name, _, rest = line.removeprefix("+ ").partition(": ")
    declared, _, also = rest.partition("; also ")
    kind, _, detail = declared.partition(" ")
    direction, _, target = detail.partition(" ") if kind == LINK else ("", "", "")
    needs_detail = kind in (SELECT, LINK, FORMULA)
    bad_link = kind == LINK and (direction not in ("to", "from") or not target)
    if not name or kind not in (*COMPATIBLE, FORMULA) or needs_detail != bool(detail) or bad_link:
        raise ValueError(f"not a field line: {line!r}")
    return FieldSpec(
        name,
        kind,
        choices=tuple(detail.split(", ")) if kind == SELECT else (),
        link=target if direction == "to" else None,
        inverse_of=target if direction == "from" else None,
        formula=detail if kind == FORMULA else None,
        accepts=tuple(also.split(", ")) if also else (),
        extra=extra,
    )


def _table(kind: str, default_name: str, key_field: str, fields: str, defaults: Mapping[str, Any] | None = None) -> TableSpec:
    """A table from its field list, one field a line, the primary field first:
    ``[+ ]<name>: <Airtable type> [<detail>][; also <types>]``. ``+`` marks a field the mirror
    adds (``extra``); the detail is a select's choices (``a, b``), a link's ``to <kind>`` (a
    forward link holding our id) or ``from <kind>`` (the inverse Airtable keeps for that
    kind's link here), or a formula; ``also`` lists the other types ``--check`` accepts."""
    specs = tuple(parse_field(line.strip()) for line in fields.strip().splitlines())
    return TableSpec(kind, default_name, key_field, specs, dict(defaults or {}))


PROVIDERS = _table(
    "provider",
    "Sitters",
    "Provider ID",
    """
    Full Name: singleLineText
    Status: singleSelect Active, Inactive, Reserved Active
    Phone Number: phoneNumber
    Twilio Number: phoneNumber
    Date Added: dateTime
    Messages: multipleRecordLinks from message
    Label: singleLineText
    Number Inventory: multipleRecordLinks from number
    Clients: multipleRecordLinks from client
    Created via Form: singleSelect Yes, No
    Provisioning Status: singleSelect Pending, Active, Inactive, Error
    Sitter Phone (E.164): singleLineText
    Sitter Phone (raw): singleLineText
    + Provider ID: singleLineText
    + Email: email
    + Calls: multipleRecordLinks from call
    + Provisioning Error: multilineText
    + Successor: multipleRecordLinks to provider
    """,
)
# Successor: the Sitters row taking an Inactive sitter's clients over (the provisioner reads
# it, the mirror never writes it). Airtable makes no inverse field for a link to its own table.

REASON_FIELD = "Provisioning Error"  # the provisioner's readable reason for an Error row

CLIENTS = _table(
    "client",
    "Clients",
    "Client ID",
    """
    Name: singleLineText
    Phone Number: phoneNumber
    Linked Sitter: multipleRecordLinks to provider
    Last Active: dateTime
    Session SID: singleLineText
    Created At: dateTime
    Email: email
    Created (Airtable): formula CREATED_TIME(); also createdTime
    Twilio Error Count: number
    Client Phone (raw): singleLineText
    Client Phone (E.164): singleLineText
    Preferred Contact Method: singleSelect SMS, Email, Phone Call
    + Client ID: singleLineText
    + External ID: singleLineText
    """,
)

NUMBERS = _table(
    "number",
    "Number Inventory",
    "PhoneNumber",
    """
    PhoneNumber: singleLineText
    Assigned Sitter: multipleRecordLinks to provider
    Status: singleSelect Available, Assigned, Standby Reserved, Reserved Active, Pending, Ready, Failed, Handover
    Purchase Date: dateTime
    Twilio SID: singleLineText
    Created At: formula CREATED_TIME(); also createdTime
    Updated At: formula LAST_MODIFIED_TIME(); also lastModifiedTime
    Lifecycle: singleSelect Reserved, Standby Reserved, Pool, Standby, Handover
    Attach Status: singleSelect Pending, Ready, Failed
    Verification Status: singleSelect Not Sent, Sent, Verified, Failed
    Purpose: singleSelect Sitter Assignment, Pool Expansion, Standby Replenishment
    """,
)

AUDIT = _table(
    "audit",
    "Audit Log",
    "Event Key",
    """
    Event: singleLineText
    Description: multilineText
    Timestamp: dateTime
    Related Sitter: singleLineText
    Related Client: singleLineText
    Details: multilineText
    Category: singleSelect Provisioning, Messaging, Error, System, Pool, Standby, Client Sync, Delivery Error
    Severity: singleSelect Info, Warning, Critical, Error
    + Event Key: singleLineText
    """,
    defaults={"Category": "System", "Severity": "Info"},
)

MESSAGES = _table(
    "message",
    "Messages",
    "Message SID",
    """
    From: singleLineText
    To: singleLineText
    Body: multilineText
    Sender Type: singleSelect client, sitter
    Proxy Number: singleLineText
    Timestamp: dateTime
    Sitter: multipleRecordLinks to provider
    Client: singleLineText
    Session SID: singleLineText
    Status: singleSelect received, sent, delivered, failed, undelivered, pending
    Twilio Status: singleSelect queued, sent, delivered, failed, undelivered
    Twilio Error Code: singleLineText; also number
    + Message SID: singleLineText
    + Forwarded SIDs: multilineText
    + Media URLs: multilineText
    + Content Flag: singleLineText
    """,
)

CALLS = _table(
    "call",
    "Calls",
    "Call ID",
    """
    + Call ID: singleLineText
    + Call SID: singleLineText
    + Call Session ID: singleLineText
    + Sitter: multipleRecordLinks to provider
    + Client: singleLineText
    + Direction: singleSelect client_to_provider, provider_to_client, unrouted, click-to-call
    + Status: singleSelect connecting, queued, initiated, ringing, answered, completed, busy, no-answer, failed, canceled
    + Duration: number
    + Client Leg Status: singleSelect completed, answered, busy, no-answer, failed, canceled
    + Client Leg Duration: number
    + Caller ID: singleLineText
    + Started: dateTime
    + Reference: singleLineText
    + Recorded: checkbox
    + Whisper: singleSelect accepted, declined
    + Voicemail Duration: number
    + Voicemail Link: singleLineText
    """,
)

POOL_STATS = _table(
    "pool_stats",
    "Pool Stats",
    "Run",
    """
    + Run: singleLineText
    + Timestamp: dateTime
    + Ready Pool Numbers: number
    + Pending Pool Numbers: number
    + Active Leases: number
    + Busiest Provider Leases: number
    + Utilization (%): number
    + Standby Ready: number
    + Decision: singleLineText
    """,
)

# Write order: Sitters first, so rows that link to a sitter find the row written in the
# same batch instead of creating a stub.
TABLES: tuple[TableSpec, ...] = (PROVIDERS, CLIENTS, NUMBERS, MESSAGES, CALLS, AUDIT, POOL_STATS)
BY_KIND: dict[str, TableSpec] = {spec.kind: spec for spec in TABLES}


def table_names(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """kind -> table name, from ``AIRTABLE_TABLE_<KIND>`` or the defaults."""
    source = os.environ if env is None else env
    return {spec.kind: (source.get(spec.env_var) or spec.default_name).strip() for spec in TABLES}


def airtable_value(spec: FieldSpec | None, value: Any) -> Any:
    """A mirror field value as Airtable takes it (links are resolved by the writer)."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) if value else ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(item) for item in value)
    if spec is not None and spec.type == SELECT and value == "":
        return None
    return value
