"""Imports an existing Airtable base into DynamoDB, once: Sitters, Clients, Number Inventory.

    python -m tools.airtable_import [--dry-run] [--no-write-back]

Reads the three tables in full (the only place the project scans Airtable), normalizes
every phone to E.164 and writes providers, clients and numbers with
``masking.store.admin.DynamoAdminStore`` (table ``--table-name`` or ``TABLE_NAME``).
Rows that cannot be imported are listed with the reason; phones are masked in the report.

Ids: a row's "Provider ID" / "Client ID" if it has one, else ``PR<record id>`` /
``CL<record id>``. Unless ``--no-write-back``, the ids (and E.164 "PhoneNumber" values)
are written back to the rows that lacked them, so the mirror's upserts later land on
these rows instead of adding new ones (run ``python -m tools.airtable_schema`` first so
the id fields exist).

Running it again changes nothing: unchanged items are not written, and rows that
already carry their ids are not updated.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "masking"
for _path in (ROOT, LAYER):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from functions.airtable_sync.airtable_mirror.tables import table_names  # noqa: E402
from masking.admin.adoption import save_provider_alias  # noqa: E402
from masking.core.models import NEW_CLIENT_NAME, Client, Lifecycle, NumberRecord, NumberStatus, Provider  # noqa: E402
from masking.core.observability import mask_phone  # noqa: E402
from masking.core.phones import InvalidPhoneNumber, normalize_e164  # noqa: E402

PROVIDER_STATUS = {"Active": "Active", "Reserved Active": "Active", "Inactive": "Inactive"}
PROVISIONING_STATUS = {"Pending", "Active", "Inactive", "Error"}
LIFECYCLE = {"Reserved": Lifecycle.RESERVED, "Pool": Lifecycle.POOL, "Standby": Lifecycle.STANDBY, "Standby Reserved": Lifecycle.STANDBY}
LIFECYCLE_FROM_STATUS = {
    "Reserved Active": Lifecycle.RESERVED,
    "Assigned": Lifecycle.RESERVED,
    "Standby Reserved": Lifecycle.STANDBY,
    "Available": Lifecycle.POOL,
}
NUMBER_STATUS = {"Pending": NumberStatus.PENDING, "Failed": NumberStatus.FAILED}


@dataclass
class TableReport:
    table: str
    counts: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)
    written_back: int = 0

    def skip(self, record_id: str, reason: str) -> None:
        self.counts["skipped"] += 1
        self.skipped.append(f"{record_id}: {reason}")

    def lines(self) -> list[str]:
        summary = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items())) or "no rows"
        out = [f"{self.table}: {summary}" + (f"; ids written back to {self.written_back} rows" if self.written_back else "")]
        out += [f"  skipped {line}" for line in self.skipped]
        return out


@dataclass
class ImportReport:
    tables: list[TableReport] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [line for table in self.tables for line in table.lines()]

    def counts(self) -> dict[str, dict[str, int]]:
        return {table.table: dict(table.counts) for table in self.tables}


def _phone(fields: dict[str, Any], *names: str) -> tuple[str | None, str]:
    """The first of ``names`` that holds a phone, normalized; (None, why) if none does."""
    raw = next((str(fields[n]).strip() for n in names if fields.get(n) and str(fields[n]).strip()), "")
    if not raw:
        return None, f"no phone ({' / '.join(names)} empty)"
    try:
        return normalize_e164(raw), ""
    except InvalidPhoneNumber as error:
        return None, f"phone {mask_phone(raw) if raw.startswith('+') else '***'} is not valid: {error.reason}"


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _row_id(row: dict[str, Any], field_name: str, prefix: str) -> tuple[str, bool]:
    """The row's id: its ``field_name`` if set, else ``prefix`` + its record id; and whether it is set."""
    own = _text(row["fields"], field_name)
    return own or f"{prefix}{row['id']}", own is not None


class AirtableImport:
    def __init__(self, api: Any, base_id: str, store: Any, *, names: dict[str, str] | None = None, write_back: bool = True) -> None:
        self.api = api
        self.base_id = base_id
        self.store = store
        self.names = names or table_names()
        self.write_back = write_back
        self.dry_run = False
        self.provider_ids: dict[str, str] = {}  # Sitters record id -> provider id
        self.claimed: dict[tuple[str, str], str] = {}  # (kind, phone) -> id, for this run (and a dry run)
        self._field_names: dict[str, set[str]] | None = None

    def run(self, dry_run: bool = False) -> ImportReport:
        self.dry_run = dry_run
        report = ImportReport()
        report.tables.append(self.import_providers())
        report.tables.append(self.import_clients())
        report.tables.append(self.import_numbers())
        return report

    def table(self, kind: str) -> Any:
        return self.api.table(self.base_id, self.names[kind])

    def has_field(self, kind: str, name: str) -> bool:
        if self._field_names is None:
            schema = self.api.base(self.base_id).schema(force=True)
            self._field_names = {t.name: {f.name for f in t.fields} for t in schema.tables}
        return name in self._field_names.get(self.names[kind], set())

    def _import_table(self, kind: str, key_field: str, import_row: Callable[[dict[str, Any], TableReport], str | None]) -> TableReport:
        """Every row of one table through ``import_row``, which counts or skips it in the report
        and returns the value to write back to the row's ``key_field`` (None: nothing to write)."""
        report = TableReport(self.names[kind])
        updates: list[dict[str, Any]] = []
        for row in self.table(kind).all():
            value = import_row(row, report)
            if value is not None:
                updates.append({"id": row["id"], "fields": {key_field: value}})
        report.written_back = self._write_back(kind, key_field, updates)
        return report

    # ---- Sitters -> providers
    def import_providers(self) -> TableReport:
        return self._import_table("provider", "Provider ID", self._import_provider)

    def _import_provider(self, row: dict[str, Any], report: TableReport) -> str | None:
        fields = row["fields"]
        provider_id, has_id = _row_id(row, "Provider ID", "PR")
        name = _text(fields, "Full Name")
        phone, why = _phone(fields, "Sitter Phone (E.164)", "Phone Number", "Sitter Phone (raw)")
        if not name:
            report.skip(row["id"], "no Full Name")
            return None
        if phone is None:
            report.skip(row["id"], why)
            return None
        reserved, _ = _phone(fields, "Twilio Number")
        provider = Provider(
            provider_id=provider_id,
            name=name,
            phone=phone,
            reserved_number=reserved,
            email=_text(fields, "Email"),
            status=PROVIDER_STATUS.get(_text(fields, "Status") or "Active", "Active"),
            provisioning_status=p if (p := _text(fields, "Provisioning Status")) in PROVISIONING_STATUS else "Active",
            created_at=_text(fields, "Date Added") or row.get("createdTime"),
        )
        outcome = self._save_provider(provider)
        if outcome.startswith("skipped"):
            report.skip(row["id"], outcome.removeprefix("skipped: "))
            return None
        report.counts[outcome] += 1
        self.provider_ids[row["id"]] = provider_id
        if not self.dry_run and hasattr(self.store, "client"):  # the old Zaps send sitters as rec... ids
            save_provider_alias(self.store, row["id"], provider_id)
        return None if has_id else provider_id

    def _save_provider(self, provider: Provider) -> str:
        existing = self.store.get_provider(provider.provider_id)
        if existing == provider:
            return "unchanged"
        if existing is not None:
            if existing.phone != provider.phone:
                return "skipped: phone differs from the provider in DynamoDB; change it through the admin API"
            if not self.dry_run:
                self.store.save_provider(provider)
            return "updated"
        owner = self.store.find_provider_id_by_phone(provider.phone) or self.claimed.get(("provider", provider.phone))
        if owner is not None and owner != provider.provider_id:
            return f"skipped: phone {mask_phone(provider.phone)} already belongs to provider {owner}"
        if not self.dry_run and not self.store.create_provider(provider):
            return f"skipped: phone {mask_phone(provider.phone)} already belongs to another provider"
        self.claimed[("provider", provider.phone)] = provider.provider_id
        return "created"

    # ---- Clients
    def import_clients(self) -> TableReport:
        return self._import_table("client", "Client ID", self._import_client)

    def _import_client(self, row: dict[str, Any], report: TableReport) -> str | None:
        fields = row["fields"]
        client_id, has_id = _row_id(row, "Client ID", "CL")
        phone, why = _phone(fields, "Client Phone (E.164)", "Phone Number", "Client Phone (raw)")
        if phone is None:
            report.skip(row["id"], why)
            return None
        client = Client(
            client_id=client_id,
            name=_text(fields, "Name") or NEW_CLIENT_NAME,
            phone=phone,
            external_id=_text(fields, "External ID"),
            email=_text(fields, "Email"),
            created_at=_text(fields, "Created At") or _text(fields, "Created (Airtable)") or row.get("createdTime"),
        )
        existing = self.store.get_client(client_id)
        if existing == client:
            report.counts["unchanged"] += 1
        else:
            found = self.store.find_client(phone=phone)
            owner = found.client_id if found else self.claimed.get(("client", phone))
            if owner is not None and owner != client_id:
                report.skip(row["id"], f"phone {mask_phone(phone)} already belongs to client {owner}")
                return None
            if not self.dry_run and not self.store.save_client(client, existing):
                report.skip(row["id"], "phone or External ID already belongs to another client")
                return None
            report.counts["updated" if existing else "created"] += 1
            self.claimed[("client", phone)] = client_id
        return None if has_id else client_id

    # ---- Number Inventory
    def import_numbers(self) -> TableReport:
        return self._import_table("number", "PhoneNumber", self._import_number)

    def _import_number(self, row: dict[str, Any], report: TableReport) -> str | None:
        fields = row["fields"]
        number, why = _phone(fields, "PhoneNumber")
        if number is None:
            report.skip(row["id"], why)
            return None
        status = _text(fields, "Status") or ""
        lifecycle = LIFECYCLE.get(_text(fields, "Lifecycle") or "") or LIFECYCLE_FROM_STATUS.get(status)
        if lifecycle is None:
            report.skip(row["id"], f"{mask_phone(number)}: no Lifecycle, and Status {status or '(empty)'} does not imply one")
            return None
        sitters = fields.get("Assigned Sitter") or []
        provider_id = next((self.provider_ids[s] for s in sitters if s in self.provider_ids), None)
        if sitters and provider_id is None:
            report.skip(row["id"], f"{mask_phone(number)}: its Assigned Sitter was not imported")
            return None
        record = NumberRecord(
            number=number,
            lifecycle=lifecycle,
            status=NUMBER_STATUS.get(status, NumberStatus.READY),
            provider_id=provider_id,
            twilio_sid=_text(fields, "Twilio SID"),
            purpose=_text(fields, "Purpose"),
            purchased_at=_text(fields, "Purchase Date"),
            attach_status=_text(fields, "Attach Status"),
            verification_status=_text(fields, "Verification Status"),
        )
        existing = self.store.get_number(number)
        if existing is not None:
            record.updated_at = existing.updated_at
        if existing == record:
            report.counts["unchanged"] += 1
        else:
            if not self.dry_run:
                self.store.put_number(record)
            report.counts["updated" if existing else "created"] += 1
        return number if fields.get("PhoneNumber") != number else None

    def _write_back(self, kind: str, field_name: str, updates: list[dict[str, Any]]) -> int:
        if not updates or not self.write_back or self.dry_run:
            return 0
        if not self.has_field(kind, field_name):
            print(f"note: {self.names[kind]} has no {field_name!r} field; run python -m tools.airtable_schema, then import again")
            return 0
        self.table(kind).batch_update(updates, typecast=True)
        return len(updates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.airtable_import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--token", default=os.environ.get("AIRTABLE_TOKEN"), help="Airtable token (default: $AIRTABLE_TOKEN)")
    parser.add_argument("--base-id", default=os.environ.get("AIRTABLE_BASE_ID"), help="base id (default: $AIRTABLE_BASE_ID)")
    parser.add_argument("--api-url", default=os.environ.get("AIRTABLE_API_URL"), help="another endpoint, e.g. the local stand-in")
    parser.add_argument("--table-name", default=os.environ.get("TABLE_NAME"), help="DynamoDB table (default: $TABLE_NAME)")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    parser.add_argument("--no-write-back", action="store_true", help="do not write ids back to the Airtable rows")
    args = parser.parse_args(argv)
    if not args.token or not args.base_id or not args.table_name:
        parser.error("need an Airtable token and base id and a DynamoDB table (flags or AIRTABLE_TOKEN, AIRTABLE_BASE_ID, TABLE_NAME)")
    from functions.airtable_sync.airtable_mirror.client import build_paced_api
    from masking.store.admin import DynamoAdminStore

    importer = AirtableImport(
        build_paced_api(args.token, args.api_url), args.base_id, DynamoAdminStore(args.table_name), write_back=not args.no_write_back
    )
    for line in importer.run(dry_run=args.dry_run).lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
