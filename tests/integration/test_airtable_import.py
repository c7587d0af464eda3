"""tools.airtable_import: an operator's base (stand-in) into DynamoDB (moto).

Given a base with messy phones and a few bad rows, when it is imported, then providers,
clients and numbers land in DynamoDB in E.164, bad rows are reported with a reason, ids
are written back to the rows, and a second run changes nothing anywhere."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.airtable_sync.airtable_mirror.client import build_paced_api
from local.airtable_standin import DEFAULT_URL, AirtableStandin, VirtualClock, apply_mirror_schema
from masking.core.models import Lifecycle, NumberStatus
from masking.store.admin import DynamoAdminStore
from tools.airtable_import import AirtableImport

BASE = "appIMPORTTEST0000"


@pytest.fixture
def standin() -> AirtableStandin:
    standin = AirtableStandin(clock=VirtualClock())
    apply_mirror_schema(standin, BASE)
    return standin


@pytest.fixture
def store(aws) -> DynamoAdminStore:
    return DynamoAdminStore(aws.env["TABLE_NAME"])


def seed(standin: AirtableStandin) -> dict[str, str]:
    ids = {
        "sam": standin.insert(
            "Sitters", {"Full Name": "Sam Sitter", "Phone Number": "(303) 555-0101", "Twilio Number": "+1 720-555-0001"}, BASE
        ),
        "kim": standin.insert(
            "Sitters",
            {"Full Name": "Kim Keeper", "Sitter Phone (E.164)": "+13035550102", "Status": "Reserved Active", "Email": "kim@example.com"},
            BASE,
        ),
        "nobody": standin.insert("Sitters", {"Full Name": "No Phone"}, BASE),
        "bad": standin.insert("Sitters", {"Full Name": "Bad Phone", "Phone Number": "12"}, BASE),
        "twin": standin.insert("Sitters", {"Full Name": "Sam Again", "Sitter Phone (raw)": "303.555.0101"}, BASE),
    }
    ids["olivia"] = standin.insert("Clients", {"Name": "Olivia Owner", "Phone Number": "303-555-0201", "Linked Sitter": [ids["sam"]]}, BASE)
    ids["pete"] = standin.insert(
        "Clients", {"Name": "Pete Parent", "Client Phone (raw)": "+1 (303) 555-0202", "External ID": "ttp-1"}, BASE
    )
    ids["nophone"] = standin.insert("Clients", {"Name": "Quiet"}, BASE)
    ids["olivia2"] = standin.insert("Clients", {"Name": "Olivia Again", "Client Phone (E.164)": "+13035550201"}, BASE)
    reserved = {"PhoneNumber": "+17205550001", "Assigned Sitter": [ids["sam"]], "Lifecycle": "Reserved", "Status": "Reserved Active"}
    ids["reserved"] = standin.insert("Number Inventory", reserved, BASE)
    ids["pool"] = standin.insert("Number Inventory", {"PhoneNumber": "(720) 555-0100", "Lifecycle": "Pool", "Status": "Available"}, BASE)
    ids["standby"] = standin.insert("Number Inventory", {"PhoneNumber": "720 555 0200", "Status": "Standby Reserved"}, BASE)
    ids["unknown"] = standin.insert("Number Inventory", {"PhoneNumber": "+17205550300", "Status": "Pending"}, BASE)
    ids["garbage"] = standin.insert("Number Inventory", {"PhoneNumber": "call me", "Lifecycle": "Pool"}, BASE)
    ids["orphan"] = standin.insert(
        "Number Inventory", {"PhoneNumber": "+17205550400", "Lifecycle": "Reserved", "Assigned Sitter": [ids["bad"]]}, BASE
    )
    return ids


def importer(standin: AirtableStandin, store: DynamoAdminStore) -> AirtableImport:
    api = build_paced_api("token", DEFAULT_URL, clock=standin.clock)
    standin.mount(api.session)
    return AirtableImport(api, BASE, store)


def dynamo_items(table: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    items = client.scan(TableName=table)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def test_import_writes_providers_clients_and_numbers_in_e164_and_reports_skipped_rows(standin, store):
    ids = seed(standin)

    report = importer(standin, store).run()

    counts = report.counts()
    assert counts["Sitters"] == {"created": 2, "skipped": 3}
    assert counts["Clients"] == {"created": 2, "skipped": 2}
    assert counts["Number Inventory"] == {"created": 3, "skipped": 3}
    sam = store.get_provider(f"PR{ids['sam']}")
    assert sam and (sam.name, sam.phone, sam.reserved_number, sam.status) == ("Sam Sitter", "+13035550101", "+17205550001", "Active")
    kim = store.get_provider(f"PR{ids['kim']}")
    assert kim and (kim.phone, kim.email, kim.status) == ("+13035550102", "kim@example.com", "Active")
    olivia = store.find_client(phone="+13035550201")
    assert olivia and olivia.client_id == f"CL{ids['olivia']}"
    assert store.find_client(external_id="ttp-1").phone == "+13035550202"  # type: ignore[union-attr]
    reserved = store.get_number("+17205550001")
    assert reserved and (reserved.lifecycle, reserved.provider_id) == (Lifecycle.RESERVED, f"PR{ids['sam']}")
    pool = store.get_number("+17205550100")
    assert pool and (pool.lifecycle, pool.status) == (Lifecycle.POOL, NumberStatus.READY)
    assert store.get_number("+17205550200").lifecycle == Lifecycle.STANDBY  # type: ignore[union-attr]
    skipped = "\n".join(report.lines())
    assert "no phone" in skipped and "is not valid" in skipped and "already belongs to provider" in skipped
    assert "does not imply one" in skipped and "Assigned Sitter was not imported" in skipped
    assert "+13035550101" not in skipped  # phones are masked in the report


def test_ids_and_e164_numbers_are_written_back_so_the_mirror_upserts_onto_these_rows(standin, store):
    ids = seed(standin)

    importer(standin, store).run()

    sitters = {row["id"]: row["fields"] for row in standin.rows("Sitters", BASE)}
    assert sitters[ids["sam"]]["Provider ID"] == f"PR{ids['sam']}"
    assert "Provider ID" not in sitters[ids["bad"]]
    clients = {row["id"]: row["fields"] for row in standin.rows("Clients", BASE)}
    assert clients[ids["pete"]]["Client ID"] == f"CL{ids['pete']}"
    numbers = {row["id"]: row["fields"] for row in standin.rows("Number Inventory", BASE)}
    assert numbers[ids["pool"]]["PhoneNumber"] == "+17205550100"
    assert numbers[ids["garbage"]]["PhoneNumber"] == "call me"


def test_a_second_import_changes_nothing(standin, store, aws):
    seed(standin)
    importer(standin, store).run()
    dynamo_before = dynamo_items(aws.env["TABLE_NAME"])
    rows_before = {table: standin.rows(table, BASE) for table in ("Sitters", "Clients", "Number Inventory")}
    requests_before = len(standin.requests)

    report = importer(standin, store).run()

    assert report.counts() == {
        "Sitters": {"unchanged": 2, "skipped": 3},
        "Clients": {"unchanged": 2, "skipped": 2},
        "Number Inventory": {"unchanged": 3, "skipped": 3},
    }
    assert dynamo_items(aws.env["TABLE_NAME"]) == dynamo_before
    assert {table: standin.rows(table, BASE) for table in rows_before} == rows_before
    assert all(r.method == "GET" for r in standin.requests[requests_before:])


def test_a_dry_run_writes_nothing(standin, store, aws):
    seed(standin)
    before = dynamo_items(aws.env["TABLE_NAME"])
    standin.requests.clear()

    report = importer(standin, store).run(dry_run=True)

    assert report.counts() == {
        "Sitters": {"created": 2, "skipped": 3},
        "Clients": {"created": 2, "skipped": 2},
        "Number Inventory": {"created": 3, "skipped": 3},
    }
    assert dynamo_items(aws.env["TABLE_NAME"]) == before
    assert all(r.method == "GET" for r in standin.requests)
