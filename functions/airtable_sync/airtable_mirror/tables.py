"""The operator's Airtable base as the mirror sees it: one table per record kind.

docs/architecture.md ("The operator's Airtable base") gives the tables and their fields. The mirror adds a few (``extra=True``):

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


def _select(name: str, *choices: str, extra: bool = False) -> FieldSpec:
    return FieldSpec(name, SELECT, choices=choices, extra=extra)


PROVIDERS = TableSpec(
    kind="provider",
    default_name="Sitters",
    key_field="Provider ID",
    fields=(
        FieldSpec("Full Name", TEXT),
        _select("Status", "Active", "Inactive", "Reserved Active"),
        FieldSpec("Phone Number", PHONE),
        FieldSpec("Twilio Number", PHONE),
        FieldSpec("Date Added", DATETIME),
        FieldSpec("Messages", LINK, inverse_of="message"),
        FieldSpec("Label", TEXT),
        FieldSpec("Number Inventory", LINK, inverse_of="number"),
        FieldSpec("Clients", LINK, inverse_of="client"),
        _select("Created via Form", "Yes", "No"),
        _select("Provisioning Status", "Pending", "Active", "Inactive", "Error"),
        FieldSpec("Sitter Phone (E.164)", TEXT),
        FieldSpec("Sitter Phone (raw)", TEXT),
        FieldSpec("Provider ID", TEXT, extra=True),
        FieldSpec("Email", EMAIL, extra=True),
        FieldSpec("Calls", LINK, inverse_of="call", extra=True),
        FieldSpec("Provisioning Error", LONG_TEXT, extra=True),
        # a link to the Sitters row taking an Inactive sitter's clients over (the provisioner
        # reads it; the mirror never writes it). Airtable makes no inverse field for a link to
        # its own table.
        FieldSpec("Successor", LINK, link="provider", extra=True),
    ),
)

REASON_FIELD = "Provisioning Error"  # the provisioner's readable reason for an Error row

CLIENTS = TableSpec(
    kind="client",
    default_name="Clients",
    key_field="Client ID",
    fields=(
        FieldSpec("Name", TEXT),
        FieldSpec("Phone Number", PHONE),
        FieldSpec("Linked Sitter", LINK, link="provider"),
        FieldSpec("Last Active", DATETIME),
        FieldSpec("Session SID", TEXT),
        FieldSpec("Created At", DATETIME),
        FieldSpec("Email", EMAIL),
        FieldSpec("Created (Airtable)", FORMULA, formula="CREATED_TIME()", accepts=("createdTime",)),
        FieldSpec("Twilio Error Count", NUMBER),
        FieldSpec("Client Phone (raw)", TEXT),
        FieldSpec("Client Phone (E.164)", TEXT),
        _select("Preferred Contact Method", "SMS", "Email", "Phone Call"),
        FieldSpec("Client ID", TEXT, extra=True),
        FieldSpec("External ID", TEXT, extra=True),
    ),
)

NUMBERS = TableSpec(
    kind="number",
    default_name="Number Inventory",
    key_field="PhoneNumber",
    fields=(
        FieldSpec("PhoneNumber", TEXT),
        FieldSpec("Assigned Sitter", LINK, link="provider"),
        _select("Status", "Available", "Assigned", "Standby Reserved", "Reserved Active", "Pending", "Ready", "Failed", "Handover"),
        FieldSpec("Purchase Date", DATETIME),
        FieldSpec("Twilio SID", TEXT),
        FieldSpec("Created At", FORMULA, formula="CREATED_TIME()", accepts=("createdTime",)),
        FieldSpec("Updated At", FORMULA, formula="LAST_MODIFIED_TIME()", accepts=("lastModifiedTime",)),
        _select("Lifecycle", "Reserved", "Standby Reserved", "Pool", "Standby", "Handover"),
        _select("Attach Status", "Pending", "Ready", "Failed"),
        _select("Verification Status", "Not Sent", "Sent", "Verified", "Failed"),
        _select("Purpose", "Sitter Assignment", "Pool Expansion", "Standby Replenishment"),
    ),
)

AUDIT = TableSpec(
    kind="audit",
    default_name="Audit Log",
    key_field="Event Key",
    fields=(
        FieldSpec("Event", TEXT),
        FieldSpec("Description", LONG_TEXT),
        FieldSpec("Timestamp", DATETIME),
        FieldSpec("Related Sitter", TEXT),
        FieldSpec("Related Client", TEXT),
        FieldSpec("Details", LONG_TEXT),
        _select("Category", "Provisioning", "Messaging", "Error", "System", "Pool", "Standby", "Client Sync", "Delivery Error"),
        _select("Severity", "Info", "Warning", "Critical", "Error"),
        FieldSpec("Event Key", TEXT, extra=True),
    ),
    defaults={"Category": "System", "Severity": "Info"},
)

MESSAGES = TableSpec(
    kind="message",
    default_name="Messages",
    key_field="Message SID",
    fields=(
        FieldSpec("From", TEXT),
        FieldSpec("To", TEXT),
        FieldSpec("Body", LONG_TEXT),
        _select("Sender Type", "client", "sitter"),
        FieldSpec("Proxy Number", TEXT),
        FieldSpec("Timestamp", DATETIME),
        FieldSpec("Sitter", LINK, link="provider"),
        FieldSpec("Client", TEXT),
        FieldSpec("Session SID", TEXT),
        _select("Status", "received", "sent", "delivered", "failed", "undelivered", "pending"),
        _select("Twilio Status", "queued", "sent", "delivered", "failed", "undelivered"),
        FieldSpec("Twilio Error Code", TEXT, accepts=(NUMBER,)),
        FieldSpec("Message SID", TEXT, extra=True),
        FieldSpec("Forwarded SIDs", LONG_TEXT, extra=True),
        FieldSpec("Media URLs", LONG_TEXT, extra=True),
        FieldSpec("Content Flag", TEXT, extra=True),
    ),
)

CALLS = TableSpec(
    kind="call",
    default_name="Calls",
    key_field="Call ID",
    fields=(
        FieldSpec("Call ID", TEXT, extra=True),
        FieldSpec("Call SID", TEXT, extra=True),
        FieldSpec("Call Session ID", TEXT, extra=True),
        FieldSpec("Sitter", LINK, link="provider", extra=True),
        FieldSpec("Client", TEXT, extra=True),
        _select("Direction", "client_to_provider", "provider_to_client", "unrouted", "click-to-call", extra=True),
        _select(
            "Status",
            *("connecting", "queued", "initiated", "ringing", "answered", "completed", "busy", "no-answer", "failed", "canceled"),
            extra=True,
        ),
        FieldSpec("Duration", NUMBER, extra=True),
        _select("Client Leg Status", "completed", "answered", "busy", "no-answer", "failed", "canceled", extra=True),
        FieldSpec("Client Leg Duration", NUMBER, extra=True),
        FieldSpec("Caller ID", TEXT, extra=True),
        FieldSpec("Started", DATETIME, extra=True),
        FieldSpec("Reference", TEXT, extra=True),
        FieldSpec("Recorded", CHECKBOX, extra=True),
        _select("Whisper", "accepted", "declined", extra=True),
        FieldSpec("Voicemail Duration", NUMBER, extra=True),
        FieldSpec("Voicemail Link", TEXT, extra=True),
    ),
)

POOL_STATS = TableSpec(
    kind="pool_stats",
    default_name="Pool Stats",
    key_field="Run",
    fields=(
        FieldSpec("Run", TEXT, extra=True),
        FieldSpec("Timestamp", DATETIME, extra=True),
        FieldSpec("Ready Pool Numbers", NUMBER, extra=True),
        FieldSpec("Pending Pool Numbers", NUMBER, extra=True),
        FieldSpec("Active Leases", NUMBER, extra=True),
        FieldSpec("Busiest Provider Leases", NUMBER, extra=True),
        FieldSpec("Utilization (%)", NUMBER, extra=True),
        FieldSpec("Standby Ready", NUMBER, extra=True),
        FieldSpec("Decision", TEXT, extra=True),
    ),
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
