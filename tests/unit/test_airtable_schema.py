"""tools.airtable_schema against the stand-in: creates the mirror's tables and fields,
and ``--check`` lists drift without changing anything."""

from __future__ import annotations

import pytest

from functions.airtable_sync.airtable_mirror.client import build_paced_api
from functions.airtable_sync.airtable_mirror.tables import FORMULA, LINK, SELECT, TABLES, FieldSpec, parse_field
from local.airtable_standin import DEFAULT_URL, AirtableStandin, VirtualClock, apply_mirror_schema
from tools import airtable_schema
from tools.airtable_schema import apply_schema, check_schema

BASE = "appSCHEMATEST0000"
TOKEN = "schema-token"
FORMULAS = [
    ("Clients", {"name": "Created (Airtable)", "type": "formula", "options": {"formula": "CREATED_TIME()"}}),
    ("Number Inventory", {"name": "Created At", "type": "createdTime"}),
    ("Number Inventory", {"name": "Updated At", "type": "formula", "options": {"formula": "LAST_MODIFIED_TIME()"}}),
]


@pytest.fixture
def standin() -> AirtableStandin:
    return AirtableStandin(token=TOKEN, clock=VirtualClock())


def complete(standin: AirtableStandin) -> None:
    """The mirror's schema plus the formula fields an operator adds by hand."""
    apply_mirror_schema(standin, BASE)
    for table, spec in FORMULAS:
        standin.add_field(table, spec, BASE)


def run(standin: AirtableStandin, *args: str) -> int:
    """The command line, through any requests session. It paces itself in real time, so
    the stand-in's (virtual) rate limit is off here; the other tests keep it on."""
    with standin.intercept(DEFAULT_URL), standin.unlimited():
        return airtable_schema.main(["--token", TOKEN, "--base-id", BASE, "--api-url", DEFAULT_URL, *args])


def paced_base(standin: AirtableStandin):
    api = build_paced_api(TOKEN, DEFAULT_URL, clock=standin.clock)
    standin.mount(api.session)
    return api.base(BASE)


def test_creates_every_table_field_and_link_on_an_empty_base(standin):
    base = paced_base(standin)

    done = apply_schema(base)

    assert standin.table_names(BASE) == ["Sitters", "Clients", "Number Inventory", "Messages", "Calls", "Audit Log", "Pool Stats"]
    assert "created link Messages.Sitter -> Sitters" in done
    sitters = {f.name: f for f in base.schema(force=True).table("Sitters").fields}
    assert {"Messages", "Clients", "Number Inventory", "Calls", "Provider ID", "Email", "Provisioning Error"} <= set(sitters)
    assert sitters["Messages"].type == "multipleRecordLinks"
    left = [line for line in done if line.startswith("left to do by hand")]
    assert len(left) == 3 and all("formula" in line for line in left)
    assert all(r.status != 429 for r in standin.requests)


def test_a_complete_base_checks_clean_and_a_second_run_changes_nothing(standin, capsys):
    complete(standin)
    tables_before = {t.name: [f.name for f in t.fields] for t in standin.base(BASE).tables}

    assert run(standin, "--check") == 0
    assert run(standin) == 0

    assert "nothing to do" in capsys.readouterr().out
    assert {t.name: [f.name for f in t.fields] for t in standin.base(BASE).tables} == tables_before


def test_check_reports_a_missing_field_and_exits_1_without_changing_anything(standin, capsys):
    complete(standin)
    standin.remove_field("Messages", "Message SID", BASE)
    requests_before = len(standin.requests)

    assert run(standin, "--check") == 1

    out = capsys.readouterr().out
    assert "missing field: Messages.Message SID (singleLineText)" in out
    assert "1 difference(s)" in out
    assert all(r.method == "GET" for r in standin.requests[requests_before:])
    assert standin.base(BASE).table("Messages").field("Message SID") is None


def test_check_reports_missing_tables_and_wrong_types(standin, capsys):
    standin.add_table("Sitters", [{"name": "Full Name", "type": "singleLineText"}, {"name": "Date Added", "type": "number"}], BASE)

    assert run(standin, "--check") == 1

    out = capsys.readouterr().out
    assert "missing table: Messages" in out
    assert "wrong type: Sitters.Date Added (is number, expected dateTime or date)" in out
    assert "missing field: Sitters.Provider ID (singleLineText)" in out


def test_an_existing_operator_base_gets_only_what_it_lacks(standin):
    standin.add_table(
        "Sitters", [{"name": "Full Name", "type": "singleLineText"}, {"name": "Phone Number", "type": "singleLineText"}], BASE
    )
    standin.insert("Sitters", {"Full Name": "Sam Sitter", "Phone Number": "(303) 555-0101"}, BASE)
    base = paced_base(standin)

    done = apply_schema(base)

    assert "created table Sitters (12 fields)" not in done
    assert "created field Sitters.Provider ID (singleLineText)" in done
    assert standin.rows("Sitters", BASE)[0]["fields"]["Phone Number"] == "(303) 555-0101"  # a text phone is fine
    drift = [str(d) for d in check_schema(base)]
    assert not any("Sitters.Phone Number" in line for line in drift)


def test_table_names_come_from_the_environment(standin, monkeypatch):
    monkeypatch.setenv("AIRTABLE_TABLE_PROVIDER", "Pet Sitters")
    monkeypatch.setenv("AIRTABLE_TABLE_MESSAGE", "SMS Log")

    base = paced_base(standin)

    apply_schema(base)

    assert standin.table_names(BASE)[0] == "Pet Sitters"
    assert standin.base(BASE).table("Pet Sitters").field("SMS Log") is not None  # the inverse of "SMS Log".Sitter
    drift = check_schema(base)
    assert len(drift) == 3 and all(d.problem == "missing field" for d in drift)  # the hand-made formula fields
    assert len(TABLES) == 7


def test_a_field_line_reads_into_its_spec_and_a_malformed_one_is_refused():
    """tables.py declares the base as field lines; a typo must fail at import, not drift the base."""
    assert parse_field("+ Status: singleSelect a, b c; also multipleSelects") == FieldSpec(
        "Status", SELECT, choices=("a", "b c"), accepts=("multipleSelects",), extra=True
    )
    assert parse_field("Sitter: multipleRecordLinks to provider") == FieldSpec("Sitter", LINK, link="provider")
    assert parse_field("Calls: multipleRecordLinks from call").inverse_of == "call"
    assert parse_field("At: formula NOW(); also createdTime") == FieldSpec("At", FORMULA, formula="NOW()", accepts=("createdTime",))
    for line in ("Name singleLineText", "Name: text", "Status: singleSelect", "Sitter: multipleRecordLinks provider", "Name: number 3"):
        with pytest.raises(ValueError, match="not a field line"):
            parse_field(line)
