"""The base drives the service: Sitters rows in the Airtable stand-in become providers
through the scheduled provisioner (functions/airtable_sync/airtable_mirror/provisioner.py),
on DynamoDB (moto) with the Twilio sandbox, with no API call from outside."""

from __future__ import annotations

import sys
import threading
from importlib import import_module
from typing import Any

import boto3
import pytest

from local.airtable_standin import DEFAULT_URL, AirtableStandin, apply_mirror_schema
from local.backends import SECRETS_PATH
from masking.adapters.memory import MemoryOwnerAlerts
from masking.core.models import Lifecycle, NumberRecord, NumberStatus
from tests.support import BASE, Admin, FakeLambdaContext, load_handler

AIRBASE = "appPROVISION00000"
TOKEN = "provision-token-not-a-secret"
SITTER_PHONE = "+13035550177"


@pytest.fixture
def standin(aws, monkeypatch) -> AirtableStandin:
    monkeypatch.setenv("AIRTABLE_API_URL", DEFAULT_URL)
    monkeypatch.setenv("AIRTABLE_REQUESTS_PER_SECOND", "50")
    standin = AirtableStandin(token=TOKEN)
    apply_mirror_schema(standin, AIRBASE)
    standin.limits = False
    return standin


@pytest.fixture
def admin(aws) -> Admin:
    return Admin(aws.env["TABLE_NAME"])


def modules() -> Any:
    load_handler("airtable_sync")
    return (import_module("airtable_mirror.provisioner"), import_module("airtable_mirror.writer"), import_module("airtable_mirror.client"))


def make_provisioner(aws, admin: Admin, alerts: MemoryOwnerAlerts, welcome: str | None = None) -> Any:
    provisioner_module, writer, client = modules()
    state_module = import_module("airtable_mirror.state")
    mirror = writer.AirtableMirror(
        client.build_api(TOKEN, DEFAULT_URL), AIRBASE, state=state_module.DynamoMirrorState(aws.env["TABLE_NAME"])
    )
    return provisioner_module.Provisioner(mirror, lambda: admin.ctx, alerts, admin.outbox.publish, BASE, welcome_template=welcome)


def form_row(standin: AirtableStandin, phone: str = "(303) 555-0177", name: str = "Nina Newsitter") -> str:
    return standin.insert(
        "Sitters",
        {
            "Full Name": name,
            "Sitter Phone (raw)": phone,
            "Email": "nina@example.com",
            "Created via Form": "Yes",
            "Provisioning Status": "Pending",
        },
        AIRBASE,
    )


def row(standin: AirtableStandin, row_id: str) -> dict[str, Any]:
    return next(r["fields"] for r in standin.rows("Sitters", AIRBASE) if r["id"] == row_id)


def set_row(standin: AirtableStandin, row_id: str, fields: dict[str, Any]) -> None:
    _, _, client = modules()
    with standin.intercept(DEFAULT_URL):
        client.build_api(TOKEN, DEFAULT_URL).table(AIRBASE, "Sitters").batch_update([{"id": row_id, "fields": fields}], typecast=True)


def run(standin: AirtableStandin, provisioner: Any) -> Any:
    with standin.intercept(DEFAULT_URL):
        return provisioner.run(provisioner.mirror.clock.now() + 60)


def welcomes(admin: Admin) -> list[Any]:
    return [sms for sms in admin.sandbox.sent if sms.to_phone == SITTER_PHONE]


def test_a_pending_form_row_becomes_an_active_sitter_path_a(aws, standin, admin) -> None:
    admin.standby("+17205550050")
    row_id = form_row(standin)
    alerts = MemoryOwnerAlerts()

    report = run(standin, make_provisioner(aws, admin, alerts))

    fields = row(standin, row_id)
    assert (fields["Provisioning Status"], fields["Status"], fields["Twilio Number"]) == ("Active", "Active", "+17205550050")
    provider = admin.store.get_provider(fields["Provider ID"])
    assert provider and (provider.phone, provider.reserved_number, provider.status) == (SITTER_PHONE, "+17205550050", "Active")
    assert (report.provisioned, report.paths) == (1, {"A": 1})
    assert [subject for subject, _ in alerts.published] == ["Sitter provisioned: Nina Newsitter"]
    [welcome] = welcomes(admin)
    assert welcome.from_number == "+17205550050" and "+17205550050" in welcome.body and welcome.body.startswith("Hi Nina")


def test_path_b_emails_pending_then_ready_and_the_mirror_updates_the_same_row(aws, standin, admin) -> None:
    row_id = form_row(standin)
    alerts = MemoryOwnerAlerts()

    report = run(standin, make_provisioner(aws, admin, alerts))

    fields = row(standin, row_id)
    number = admin.store.get_number(fields["Twilio Number"])
    assert number and (number.lifecycle, number.status) == (Lifecycle.RESERVED, NumberStatus.READY)
    assert report.paths == {"B": 1}
    assert [s for s, _ in alerts.published] == ["Buying a number for Nina Newsitter", "Sitter number Ready: Nina Newsitter"]
    assert len(welcomes(admin)) == 1
    # the provider record published after the write-back upserts onto the form row (key Provider ID)
    assert [r.key for r in admin.outbox.records if r.kind == "provider"][-1] == fields["Provider ID"]


def test_overlapping_runs_provision_once(aws, standin) -> None:
    admins = [Admin(aws.env["TABLE_NAME"]), Admin(aws.env["TABLE_NAME"])]
    row_id = form_row(standin)
    barrier = threading.Barrier(2)
    alerts = MemoryOwnerAlerts()
    provisioners = []
    for one in admins:
        provisioner = make_provisioner(aws, one, alerts)

        def context(one: Admin = one) -> Any:
            barrier.wait(timeout=10)  # both runs have read the Pending row before either claims it
            return one.ctx

        provisioner.new_context = context
        provisioners.append(provisioner)
    reports: list[Any] = []
    with standin.intercept(DEFAULT_URL):
        threads = [threading.Thread(target=lambda p=p: reports.append(p.run(p.mirror.clock.now() + 60))) for p in provisioners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert sorted((r.provisioned, r.skipped) for r in reports) == [(0, 1), (1, 0)]
    assert sum(len(one.sandbox.bought) for one in admins) == 1
    assert row(standin, row_id)["Provisioning Status"] == "Active"
    assert sum(len([s for s in one.sandbox.sent if s.to_phone == SITTER_PHONE]) for one in admins) == 1


def test_a_bad_phone_becomes_error_with_a_reason_and_one_email(aws, standin, admin) -> None:
    row_id = form_row(standin, phone="555-not-a-phone")
    alerts = MemoryOwnerAlerts()
    provisioner = make_provisioner(aws, admin, alerts)

    report = run(standin, provisioner)
    set_row(standin, row_id, {"Provisioning Status": "Pending"})  # the operator retries without fixing it
    run(standin, provisioner)

    fields = row(standin, row_id)
    assert fields["Provisioning Status"] == "Error"
    assert fields["Provisioning Error"].startswith("Phone Number: ")
    assert report.errors == 1 and admin.sandbox.bought == []
    assert [s for s, _ in alerts.published] == ["Provisioning failed: Nina Newsitter"]
    assert "Phone Number: " in alerts.published[0][1]


def test_a_failed_verification_emails_the_owner_and_marks_the_row_error(aws, standin, admin) -> None:
    row_id = form_row(standin)
    alerts = MemoryOwnerAlerts()
    admin.sandbox.fail_next_matching("/Messages.json", code=21610)  # the verification SMS fails

    run(standin, make_provisioner(aws, admin, alerts))

    fields = row(standin, row_id)
    subjects = [s for s, _ in alerts.published]
    if fields["Provisioning Status"] == "Active":  # the sandbox verified anyway: nothing to assert here
        pytest.skip("verification failure not reachable through the sandbox")
    assert fields["Provisioning Status"] == "Error" and fields["Provisioning Error"]
    assert subjects[0] == "Buying a number for Nina Newsitter"
    assert subjects[-1] == "Provisioning failed: Nina Newsitter"
    assert any(s.startswith("Number failed verification: ") for s in subjects)


def test_inactive_runs_path_c_once(aws, standin, admin) -> None:
    admin.standby("+17205550050")
    row_id = form_row(standin)
    provisioner = make_provisioner(aws, admin, MemoryOwnerAlerts())
    run(standin, provisioner)
    provider_id = row(standin, row_id)["Provider ID"]
    set_row(standin, row_id, {"Status": "Inactive"})

    report = run(standin, provisioner)
    again = run(standin, provisioner)

    fields = row(standin, row_id)
    assert (fields["Provisioning Status"], fields["Status"], fields.get("Twilio Number")) == ("Inactive", "Inactive", None)
    provider = admin.store.get_provider(provider_id)
    assert provider and provider.status == "Inactive" and provider.reserved_number is None
    number = admin.store.get_number("+17205550050")
    assert number and number.lifecycle == Lifecycle.STANDBY and number.provider_id is None
    assert (report.removed, again.removed) == (1, 0)


def test_a_rerun_after_a_lost_write_back_sends_nothing_twice(aws, standin, admin) -> None:
    admin.standby("+17205550050")
    row_id = form_row(standin)
    alerts = MemoryOwnerAlerts()
    provisioner = make_provisioner(aws, admin, alerts)
    run(standin, provisioner)
    set_row(standin, row_id, {"Provisioning Status": "Pending"})  # as if the write-back had been lost
    admin.clock.advance(seconds=901)  # past the row's claim

    report = run(standin, provisioner)

    assert report.provisioned == 1 and report.paths == {"existing": 1}
    assert row(standin, row_id)["Provisioning Status"] == "Active"
    assert len(alerts.published) == 1
    assert len(welcomes(admin)) == 1


def test_the_welcome_text_is_configurable(aws, standin, admin) -> None:
    admin.standby("+17205550050")
    form_row(standin)

    run(standin, make_provisioner(aws, admin, MemoryOwnerAlerts(), welcome="{name}: clients see {number}. Reply from your phone."))

    assert [s.body for s in welcomes(admin)] == ["Nina: clients see +17205550050. Reply from your phone."]


def test_the_scheduled_handler_is_off_without_airtable(aws, monkeypatch) -> None:
    ssm = boto3.client("ssm")
    for name in ("token", "base_id"):
        ssm.delete_parameter(Name=f"{SECRETS_PATH}/airtable/{name}")
    app = load_handler("airtable_sync")
    sys.modules["airtable_mirror.handler"].get_mirror.cache_clear()

    assert app.provisioner_handler({}, FakeLambdaContext(function_name="masking-airtable-provisioner")) == {"skipped": "no airtable"}


def test_the_scheduled_handler_reads_ssm_and_publishes_on_the_outbox(aws, standin, monkeypatch) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=f"{SECRETS_PATH}/airtable/token", Value=TOKEN, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=f"{SECRETS_PATH}/airtable/base_id", Value=AIRBASE, Type="SecureString", Overwrite=True)
    monkeypatch.setenv("WEBHOOK_BASE_URL", BASE)
    app = load_handler("airtable_sync")
    sys.modules["airtable_mirror.handler"].get_mirror.cache_clear()
    row_id = form_row(standin, phone="+1 303 555 0178")

    with standin.intercept(DEFAULT_URL):
        result = app.provisioner_handler({}, FakeLambdaContext(function_name="masking-airtable-provisioner"))
    sys.modules["airtable_mirror.handler"].get_mirror.cache_clear()

    assert result["provisioned"] == 1 and result["paths"] == {"B": 1}
    assert row(standin, row_id)["Provisioning Status"] == "Active"
    messages = boto3.client("sqs").receive_message(QueueUrl=aws.env["OUTBOX_QUEUE_URL"], MaxNumberOfMessages=10).get("Messages", [])
    assert messages


def test_each_pool_monitor_run_writes_one_pool_stats_row(aws, standin, admin) -> None:
    _, writer, client = modules()
    for number in ("+17205550100", "+17205550101", "+17205550102"):
        admin.store.put_number(NumberRecord(number=number, lifecycle=Lifecycle.POOL, status=NumberStatus.READY))
    admin.standby("+17205550050")
    app = load_handler("pool_monitor")
    mirror = writer.AirtableMirror(client.build_api(TOKEN, DEFAULT_URL), AIRBASE)

    app.lambda_handler({}, FakeLambdaContext(function_name="masking-pool-monitor"))
    messages = boto3.client("sqs").receive_message(QueueUrl=aws.env["OUTBOX_QUEUE_URL"], MaxNumberOfMessages=10).get("Messages", [])
    with standin.intercept(DEFAULT_URL):
        outcome = mirror.write([(m["MessageId"], m["Body"]) for m in messages], mirror.clock.now() + 60)

    assert outcome.failures == {}
    [row] = [r["fields"] for r in standin.rows("Pool Stats", AIRBASE)]
    assert (row["Ready Pool Numbers"], row["Standby Ready"], row["Decision"]) == (3, 1, "below_threshold")


def test_a_base_without_the_reason_field_still_gets_the_status(aws, standin, admin) -> None:
    standin.remove_field("Sitters", "Provisioning Error", AIRBASE)
    admin.standby("+17205550050")
    bad = form_row(standin, phone="not a phone", name="Bad Row")
    good = form_row(standin)

    report = run(standin, make_provisioner(aws, admin, MemoryOwnerAlerts()))

    assert (report.errors, report.provisioned) == (1, 1)
    assert row(standin, bad)["Provisioning Status"] == "Error"
    assert row(standin, good)["Provisioning Status"] == "Active"


# ---------------------------------------------------------------- handover from the base


def two_sitters(aws, standin, admin) -> tuple[Any, str, str]:
    """Nina and Otto provisioned from form rows; returns the provisioner and both row ids."""
    admin.standby("+17205550050")
    nina, otto = form_row(standin), form_row(standin, phone="(303) 555-0178", name="Otto Other")
    provisioner = make_provisioner(aws, admin, MemoryOwnerAlerts())
    assert run(standin, provisioner).provisioned == 2
    return provisioner, nina, otto


def test_inactive_with_a_successor_holds_the_number_for_the_handover(aws, standin, admin) -> None:
    provisioner, nina, otto = two_sitters(aws, standin, admin)
    number, otto_id = row(standin, nina)["Twilio Number"], row(standin, otto)["Provider ID"]
    set_row(standin, nina, {"Status": "Inactive", "Successor": [otto]})

    report = run(standin, provisioner)

    assert report.removed == 1
    fields = row(standin, nina)
    assert (fields["Provisioning Status"], fields["Status"], fields.get("Twilio Number")) == ("Inactive", "Inactive", None)
    held = admin.store.get_number(number)
    assert held and held.lifecycle == Lifecycle.HANDOVER and held.successor_id == otto_id
    assert held.successor_number == row(standin, otto)["Twilio Number"]
    assert "Handover started" in admin.events()


def test_a_successor_without_provider_id_leaves_the_sitter_active_with_a_reason(aws, standin, admin) -> None:
    provisioner, nina, otto = two_sitters(aws, standin, admin)
    unprovisioned = standin.insert("Sitters", {"Full Name": "Una Unready"}, AIRBASE)
    set_row(standin, nina, {"Status": "Inactive", "Successor": [unprovisioned]})

    report = run(standin, provisioner)

    fields = row(standin, nina)
    assert fields["Provisioning Status"] == "Error" and report.errors == 1 and report.removed == 0
    assert fields["Provisioning Error"] == "Successor: the Successor has no Provider ID yet: provision them first"
    provider = admin.store.get_provider(fields["Provider ID"])
    assert provider and provider.status == "Active"
    set_row(standin, nina, {"Successor": [otto]})  # the operator fixes it
    assert run(standin, provisioner).removed == 1
    assert admin.store.get_number(fields["Twilio Number"]).lifecycle == Lifecycle.HANDOVER  # type: ignore[union-attr]


def test_a_base_without_the_successor_field_still_runs_path_c(aws, standin, admin, monkeypatch) -> None:
    import requests

    provisioner, nina, _ = two_sitters(aws, standin, admin)
    number = row(standin, nina)["Twilio Number"]
    set_row(standin, nina, {"Status": "Inactive"})
    real_all = provisioner.table.all

    def all_rows(**options: Any) -> Any:  # what Airtable answers for a field the base lacks
        if "Successor" in (options.get("fields") or []):
            response = requests.Response()
            response.status_code = 422
            response._content = b'{"error": {"type": "UNKNOWN_FIELD_NAME", "message": "Unknown field name: \\"Successor\\""}}'
            raise requests.HTTPError(response=response)
        return real_all(**options)

    monkeypatch.setattr(provisioner.table, "all", all_rows)

    assert run(standin, provisioner).removed == 1
    standby = admin.store.get_number(number)
    assert standby and standby.lifecycle == Lifecycle.STANDBY


# ---------------------------------------------------------------- SSM unreadable is an error, not "no Airtable"


@pytest.mark.parametrize(
    ("code", "message"),
    [("AccessDeniedException", "not authorized to perform ssm:GetParameters"), ("InvalidKeyId", "the KMS key cannot be used")],
)
def test_the_scheduled_handler_fails_loudly_when_ssm_cannot_be_read(aws, monkeypatch, code: str, message: str) -> None:
    from aws_lambda_powertools.utilities.parameters import ssm as powertools_ssm
    from botocore.stub import Stubber

    client = boto3.client("ssm")
    stubber = Stubber(client)
    stubber.add_client_error("get_parameters", service_error_code=code, service_message=message, http_status_code=400)
    stubber.activate()
    monkeypatch.setitem(powertools_ssm.DEFAULT_PROVIDERS, "ssm", powertools_ssm.SSMProvider(boto3_client=client))
    app = load_handler("airtable_sync")
    sys.modules["airtable_mirror.handler"].get_mirror.cache_clear()

    with pytest.raises(Exception) as failed:
        app.provisioner_handler({}, FakeLambdaContext(function_name="masking-airtable-provisioner"))

    assert "no airtable" not in str(failed.value)
    stubber.assert_no_pending_responses()
