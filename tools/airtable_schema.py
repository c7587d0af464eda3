"""Creates the mirror's Airtable tables and fields, or checks a base against them.

    python -m tools.airtable_schema            # create what is missing, report the rest
    python -m tools.airtable_schema --check    # list drift, change nothing; exit 1 on drift

The schema is DESIGN.md §5 plus the mirror's key fields and the Calls table
(``airtable_mirror/tables.py``). Token and base id from ``--token``/``--base-id`` or
``AIRTABLE_TOKEN``/``AIRTABLE_BASE_ID``; ``--api-url`` (or ``AIRTABLE_API_URL``) for the
local stand-in; table names from ``AIRTABLE_TABLE_<KIND>`` like the sync.

What the metadata API cannot do is reported as a manual step, never guessed: formula
fields (Clients "Created (Airtable)", Number Inventory "Created At"/"Updated At") and a
link's inverse field on Sitters when the link exists without it. Fields are never
renamed, retyped or deleted: a wrong type is drift to fix by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "masking"
for _path in (ROOT, LAYER):  # the mirror package (functions/airtable_sync) imports masking (the layer)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from functions.airtable_sync.airtable_mirror.tables import LINK, TABLES, FieldSpec, TableSpec, table_names  # noqa: E402


@dataclass(frozen=True, slots=True)
class Drift:
    table: str
    field: str | None
    problem: str  # missing table | missing field | wrong type | wrong link | manual
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.table}.{self.field}" if self.field else self.table
        return f"{self.problem}: {where}" + (f" ({self.detail})" if self.detail else "")


def expected_fields(spec: TableSpec, names: dict[str, str]) -> list[FieldSpec]:
    """The table's fields, with inverse link fields named after the linking table."""
    out = []
    for field_spec in spec.fields:
        if field_spec.inverse_of:
            field_spec = FieldSpec(names[field_spec.inverse_of], LINK, inverse_of=field_spec.inverse_of, extra=field_spec.extra)
        out.append(field_spec)
    return out


def find_drift(schema: Any, names: dict[str, str]) -> list[Drift]:
    """Drift between a pyairtable ``BaseSchema`` and the mirror's tables."""
    tables = {table.name: table for table in schema.tables}
    drift: list[Drift] = []
    for spec in TABLES:
        name = names[spec.kind]
        table = tables.get(name)
        if table is None:
            drift.append(Drift(name, None, "missing table"))
            continue
        fields = {f.name: f for f in table.fields}
        for field_spec in expected_fields(spec, names):
            actual = fields.get(field_spec.name)
            if actual is None:
                if field_spec.computed:
                    detail = f"{field_spec.type} {field_spec.formula}: create it by hand, the API cannot"
                elif field_spec.inverse_of:
                    detail = f"link to {names[field_spec.inverse_of]}, created with that table's link field"
                else:
                    detail = field_spec.type
                drift.append(Drift(name, field_spec.name, "missing field", detail))
                continue
            actual_type = str(getattr(actual.type, "value", actual.type))  # pyairtable gives a FieldType enum
            if actual_type not in field_spec.accepted_types():
                expected = " or ".join(field_spec.accepted_types())
                drift.append(Drift(name, field_spec.name, "wrong type", f"is {actual_type}, expected {expected}"))
                continue
            target_kind = field_spec.link or field_spec.inverse_of
            if target_kind:
                target = tables.get(names[target_kind])
                linked = getattr(actual.options, "linked_table_id", None)
                if target is not None and linked != target.id:
                    drift.append(Drift(name, field_spec.name, "wrong link", f"links to {linked}, expected {names[target_kind]}"))
    return drift


def check_schema(base: Any, names: dict[str, str] | None = None) -> list[Drift]:
    return find_drift(base.schema(force=True), names or table_names())


def apply_schema(base: Any, names: dict[str, str] | None = None) -> list[str]:
    """Creates missing tables, fields and links; returns what it did and what is left."""
    names = names or table_names()
    done: list[str] = []
    schema = base.schema(force=True)
    existing = {table.name for table in schema.tables}
    for spec in TABLES:
        name = names[spec.kind]
        if name not in existing:
            plain = [f.create_payload() for f in spec.fields if not f.computed and f.type != LINK]
            base.create_table(name, plain)
            done.append(f"created table {name} ({len(plain)} fields)")
    if done:
        schema = base.schema(force=True)
    tables = {table.name: table for table in schema.tables}
    table_ids = {kind: tables[names[kind]].id for kind in names}
    for spec in TABLES:
        table = tables[names[spec.kind]]
        have = {f.name for f in table.fields}
        for field_spec in spec.fields:
            if field_spec.name in have or field_spec.computed or field_spec.inverse_of:
                continue
            payload = field_spec.create_payload(table_ids)
            base.table(table.id).create_field(field_spec.name, field_spec.type, options=payload.get("options"))
            have.add(field_spec.name)
            what = (
                f"link {table.name}.{field_spec.name} -> {names[field_spec.link]}"
                if field_spec.link
                else (f"field {table.name}.{field_spec.name} ({field_spec.type})")
            )
            done.append(f"created {what}")
    for drift in check_schema(base, names):
        done.append(f"left to do by hand: {drift}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.airtable_schema", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list drift without changing anything; exit 1 on drift")
    parser.add_argument("--token", default=os.environ.get("AIRTABLE_TOKEN"), help="Airtable token (default: $AIRTABLE_TOKEN)")
    parser.add_argument("--base-id", default=os.environ.get("AIRTABLE_BASE_ID"), help="base id (default: $AIRTABLE_BASE_ID)")
    parser.add_argument("--api-url", default=os.environ.get("AIRTABLE_API_URL"), help="another endpoint, e.g. the local stand-in")
    args = parser.parse_args(argv)
    if not args.token or not args.base_id:
        parser.error("an Airtable token and base id are needed (--token/--base-id or AIRTABLE_TOKEN/AIRTABLE_BASE_ID)")
    from functions.airtable_sync.airtable_mirror.client import build_paced_api

    base = build_paced_api(args.token, args.api_url).base(args.base_id)
    names = table_names()
    if args.check:
        drift = check_schema(base, names)
        for item in drift:
            print(item)
        print(f"{len(drift)} difference(s) from the mirror's schema" if drift else "schema matches the mirror's")
        return 1 if drift else 0
    lines = apply_schema(base, names)
    for line in lines:
        print(line)
    if not lines:
        print("nothing to do: schema matches the mirror's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
