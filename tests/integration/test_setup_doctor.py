"""tools.setup and tools.doctor on the embedded backends: moto (DynamoDB, SSM, SQS,
CloudFormation), the Twilio sandbox and the Airtable stand-in.

The operator this was built for: 34 reserved numbers, 20 pool numbers and 1 standby
number, all inside a Twilio Proxy Service, their roles in the Airtable Number Inventory.
Given that account, `tools.setup --apply` adopts all 55 in one command, a second run has
nothing to change, and `tools.doctor` finds each kind of drift afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import boto3
import pytest

from functions.airtable_sync.airtable_mirror.client import build_paced_api
from local.airtable_standin import DEFAULT_URL, AirtableStandin, VirtualClock, apply_mirror_schema
from local.backends import AIRTABLE_BASE_ID, SECRETS_PATH
from masking.adapters.twilio_admin_sandbox import AdminSandboxHttpClient
from masking.admin.adoption import import_lease
from masking.admin.context import AdminContext
from masking.core.models import Lifecycle, NumberStatus
from masking.core.settings import InventorySettings, RoutingSettings, TwilioSettings
from masking.store.admin import DynamoAdminStore
from tests.support import AUTH_TOKEN, load_handler
from tools import doctor, setup
from tools.stack_env import read_stack

ACCOUNT_SID = "AC" + "1" * 32  # local.backends.DEMO_ACCOUNT_SID, in SSM
API = "https://abc123.execute-api.us-east-1.amazonaws.com/local"
PROXY = "KS" + "a" * 32
MESSAGING = "MG" + "b" * 32
PROXY_WEBHOOK = "https://webhooks.twilio.com/v1/Accounts/AC/Proxy/KS/PhoneNumbers/PN"
RESERVED = [f"+1720555{1000 + i}" for i in range(34)]
POOL = [f"+1720555{2000 + i}" for i in range(20)]
STANDBY = ["+17205553000"]
UNKNOWN = ["+13035559000", "+13035559001"]  # the operator's office lines: not ours to touch
SITTER_PHONES = [f"+1303555{1000 + i}" for i in range(34)]
DOCTOR_HANDLER = load_handler("doctor").lambda_handler  # at import, as the other handler tests: the Tracer opens a socket


@dataclass
class Account:
    sandbox: AdminSandboxHttpClient
    standin: AirtableStandin
    outputs: str
    deps: setup.Deps
    store: DynamoAdminStore
    sitters: list[str]  # Airtable record ids


def write_outputs(tmp_path: Path, aws, messaging: str = "", **extra: str) -> str:
    outputs = {
        "ApiUrl": API,
        "TwilioSmsWebhookUrl": f"{API}/twilio/sms",
        "TwilioVoiceWebhookUrl": f"{API}/twilio/voice",
        "TableName": aws.env["TABLE_NAME"],
        "OutboxQueueUrl": aws.env["OUTBOX_QUEUE_URL"],
        "OutboxDeadLetterQueueUrl": aws.env["OUTBOX_DLQ_URL"],
        "Parameters": {"Environment": "local", "MessagingServiceSid": messaging},
        **extra,
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return str(path)


@pytest.fixture
def account(aws, tmp_path) -> Account:
    """The operator's account before setup: 55 numbers in a Proxy Service, 2 office lines,
    a Messaging Service that defers to each number's webhook, the roles in Airtable."""
    sandbox = AdminSandboxHttpClient(credentials=(ACCOUNT_SID, AUTH_TOKEN))
    sids = [sandbox.own_number(n, sms_url=PROXY_WEBHOOK, voice_url=PROXY_WEBHOOK) for n in RESERVED + POOL + STANDBY]
    for number in UNKNOWN:
        sandbox.own_number(number, sms_url="https://office.example.com/sms", voice_url="https://office.example.com/voice")
    sandbox.add_proxy_service(PROXY, sids)
    sandbox.add_messaging_service(MESSAGING, use_inbound_webhook_on_number=True)
    standin = AirtableStandin(clock=VirtualClock())
    apply_mirror_schema(standin, AIRTABLE_BASE_ID)
    sitters = [
        standin.insert("Sitters", {"Full Name": f"Sitter {i}", "Phone Number": phone, "Twilio Number": RESERVED[i]}, AIRTABLE_BASE_ID)
        for i, phone in enumerate(SITTER_PHONES)
    ]
    for i, number in enumerate(RESERVED):
        standin.insert(
            "Number Inventory",
            {"PhoneNumber": number, "Lifecycle": "Reserved", "Status": "Reserved Active", "Assigned Sitter": [sitters[i]]},
            AIRTABLE_BASE_ID,
        )
    for number in POOL:
        standin.insert("Number Inventory", {"PhoneNumber": number, "Lifecycle": "Pool", "Status": "Available"}, AIRTABLE_BASE_ID)
    standin.insert("Number Inventory", {"PhoneNumber": STANDBY[0], "Status": "Standby Reserved"}, AIRTABLE_BASE_ID)
    api = build_paced_api("local-standin-token", DEFAULT_URL, clock=standin.clock)
    standin.mount(api.session)
    deps = setup.Deps(twilio_http_client=sandbox, airtable_api=api)
    store = DynamoAdminStore(aws.env["TABLE_NAME"])
    return Account(sandbox, standin, write_outputs(tmp_path, aws, MESSAGING), deps, store, sitters)


def run_setup(account: Account, *args: str) -> setup.Report:
    return setup.run_setup(setup.parse_args(["--outputs-json", account.outputs, *args]), account.deps)


def run_doctor(account: Account, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = doctor.main(["--outputs-json", account.outputs], account.deps)
    return code, capsys.readouterr().out


def numbers_state(sandbox: AdminSandboxHttpClient) -> dict[str, tuple[str, str]]:
    return {r["phone_number"]: (r["sms_url"], r["voice_url"]) for r in sandbox.numbers.values()}


def test_a_dry_run_reports_every_change_and_changes_nothing(account, aws):
    before = numbers_state(account.sandbox)

    report = run_setup(account, "--from-proxy", PROXY)

    assert len(report.rows) == 57
    adopted = [r for r in report.rows if r.role != "unknown"]
    assert len(adopted) == 55 and all(r.changes for r in adopted)
    first = next(r for r in report.rows if r.number == RESERVED[0])
    assert first.role == f"Reserved (PR{account.sitters[0]})"  # dry run: the sitter is not imported yet
    assert first.changes == ["register", "remove from Proxy", "point SMS + voice", "add to Messaging Service"]
    assert numbers_state(account.sandbox) == before
    assert account.store.list_numbers() == []
    assert len(account.sandbox.proxy_services[PROXY]) == 55
    assert account.sandbox.messaging_services[MESSAGING] == set()
    assert aws.drain_outbox() == []
    assert "dry run: run again with --apply" in report.render()


def test_apply_adopts_the_55_numbers_in_one_command_and_a_second_run_has_nothing_to_change(account, aws):
    report = run_setup(account, "--from-proxy", PROXY, "--apply")

    assert report.failed == 0, report.render()
    numbers = {n.number: n for n in account.store.list_numbers()}
    assert len(numbers) == 55
    assert sum(n.lifecycle == Lifecycle.RESERVED for n in numbers.values()) == 34
    assert sum(n.lifecycle == Lifecycle.POOL for n in numbers.values()) == 20
    assert [n.number for n in numbers.values() if n.lifecycle == Lifecycle.STANDBY] == STANDBY
    assert all(n.status == NumberStatus.READY and n.twilio_sid for n in numbers.values())
    sitter = account.store.get_provider(numbers[RESERVED[5]].provider_id or "")
    assert sitter and (sitter.phone, sitter.reserved_number) == (SITTER_PHONES[5], RESERVED[5])
    state = numbers_state(account.sandbox)
    assert all(state[n] == (f"{API}/twilio/sms", f"{API}/twilio/voice") for n in numbers)
    assert all(state[n][0] == "https://office.example.com/sms" for n in UNKNOWN)  # left alone
    assert account.sandbox.proxy_services[PROXY] == []
    assert len(account.sandbox.messaging_services[MESSAGING]) == 55
    unknown = [r for r in report.rows if r.role == "unknown"]
    assert [r.number for r in unknown] == UNKNOWN and all("left alone" in r.note for r in unknown)
    assert any('"PhoneNumber"' in body for body in aws.drain_outbox())  # Number Inventory mirrored

    requests_before = len(account.sandbox.requests)
    again = run_setup(account, "--from-proxy", PROXY, "--apply")

    assert again.changed == 0 and again.failed == 0, again.render()
    assert "nothing to change" in again.render()
    assert all(r.method == "GET" for r in account.sandbox.requests[requests_before:])


def test_doctor_is_clean_after_setup_and_finds_each_drift(account, aws, capsys):
    run_setup(account, "--from-proxy", PROXY, "--apply")
    code, out = run_doctor(account, capsys)
    assert code == 0, out
    assert "WARNING opt_out" in out  # a Messaging Service: STOP applies to all of it

    sandbox = account.sandbox
    # someone edits a number in the console
    sandbox.numbers[sandbox.sid_of(RESERVED[3])]["sms_url"] = "https://old-fastapi.example.com/sms"
    # a number leaves the Messaging Service
    sandbox.messaging_services[MESSAGING].discard(sandbox.sid_of(POOL[0]))
    # a number is released in the console
    del sandbox.numbers[sandbox.sid_of(POOL[19])]
    # the service stops deferring to the numbers' webhooks
    sandbox.services[MESSAGING].use_inbound_webhook_on_number = False
    # a mirror record died in the DLQ
    boto3.client("sqs").send_message(QueueUrl=aws.env["OUTBOX_DLQ_URL"], MessageBody="{}")
    # an Airtable field was deleted by hand
    account.standin.remove_field("Number Inventory", "Twilio SID", AIRTABLE_BASE_ID)

    code, out = run_doctor(account, capsys)

    assert code == 1
    assert f"webhooks: {RESERVED[3]}: SMS webhook points at https://old-fastapi.example.com/sms" in out
    assert f"messaging_service: {POOL[0]}: not in Messaging Service" in out
    assert f"missing_at_twilio: {POOL[19]}" in out
    assert "Defer to sender's webhook" in out
    assert "dead_letters: OutboxDeadLetterQueueUrl: 1 message(s) waiting" in out
    assert "missing field: Number Inventory.Twilio SID" in out


def admin_context(store: DynamoAdminStore) -> AdminContext:
    return AdminContext(store, None, RoutingSettings(), InventorySettings(), TwilioSettings())  # type: ignore[arg-type]


def test_doctor_finds_missing_secrets_and_a_pool_smaller_than_the_busiest_provider(account, capsys):
    run_setup(account, "--from-proxy", PROXY, "--apply")
    store = account.store
    ctx = admin_context(store)
    provider = store.get_provider(store.find_provider_id_by_phone(SITTER_PHONES[0]) or "")
    assert provider
    for i, pool_number in enumerate(POOL[2:]):  # 18 leases for one provider, 20 Ready pool numbers
        assert import_lease(ctx, provider, f"+1303555{7000 + i}", f"Client {i}", pool_number)[1] == "created"
    code, out = run_doctor(account, capsys)
    assert code == 0 and "pool:" not in out, out

    for number in POOL[:3]:  # 17 Ready pool numbers < 18 leases
        record = store.get_number(number)
        assert record and store.assign_number(record, replace(record, status=NumberStatus.FAILED))
    boto3.client("ssm").delete_parameter(Name=f"{SECRETS_PATH}/twilio/auth_token")

    code, out = run_doctor(account, capsys)

    assert code == 1
    assert f"secrets: {SECRETS_PATH}/twilio/auth_token: missing" in out
    assert "17 Ready pool numbers, fewer than the busiest provider's 18 active leases" in out


def test_wrong_twilio_credentials_stop_setup_before_anything_is_written(account, capsys):
    code = setup.main(["--outputs-json", account.outputs, "--twilio-auth-token", "wrong-token", "--apply"], account.deps)

    assert code == 2
    assert "Twilio refused the account SID and auth token (error 20003)" in capsys.readouterr().err
    assert (
        boto3.client("ssm").get_parameter(Name=f"{SECRETS_PATH}/twilio/auth_token", WithDecryption=True)["Parameter"]["Value"] == AUTH_TOKEN
    )
    assert account.store.list_numbers() == []


def test_setup_writes_new_secrets_only_with_apply_and_once(account):
    ssm = boto3.client("ssm")
    ssm.delete_parameter(Name=f"{SECRETS_PATH}/airtable/token")
    ssm.delete_parameter(Name=f"{SECRETS_PATH}/airtable/base_id")
    args = ["--twilio-account-sid", ACCOUNT_SID, "--twilio-auth-token", AUTH_TOKEN, "--pool", ",".join(POOL)]

    dry = run_setup(account, *args)
    assert not any("SSM" in line and "write" in line for line in dry.lines)  # same values: nothing to write
    assert any("airtable/token: not set" in line for line in dry.lines)

    rotated = "rotated-token-0000"
    account.sandbox.credentials = (ACCOUNT_SID, rotated)
    dry = run_setup(account, "--twilio-auth-token", rotated, "--pool", ",".join(POOL))
    assert any(line.endswith("would write (SecureString), replacing the old value") for line in dry.lines)
    assert ssm.get_parameter(Name=f"{SECRETS_PATH}/twilio/auth_token", WithDecryption=True)["Parameter"]["Value"] == AUTH_TOKEN

    run_setup(account, "--twilio-auth-token", rotated, "--pool", ",".join(POOL), "--apply")
    parameter = ssm.get_parameter(Name=f"{SECRETS_PATH}/twilio/auth_token", WithDecryption=True)["Parameter"]
    assert (parameter["Value"], parameter["Type"]) == (rotated, "SecureString")
    again = run_setup(account, "--twilio-auth-token", rotated, "--pool", ",".join(POOL), "--apply")
    assert again.changed == 0, again.render()


def test_without_airtable_roles_come_from_flags_and_unlisted_numbers_are_left_alone(account, tmp_path):
    ssm = boto3.client("ssm")
    ssm.delete_parameter(Name=f"{SECRETS_PATH}/airtable/token")
    account.deps.airtable_api = None
    roles = tmp_path / "roles.csv"
    roles.write_text(
        "number,role,provider_id,provider_name,provider_phone\n"
        f"{RESERVED[0]},reserved,,Sam Sitter,(303) 555-1000\n"
        f"{STANDBY[0]},Standby,,,\n"
    )

    report = run_setup(account, "--roles", str(roles), "--pool", f"{POOL[0]},{POOL[1]}", "--apply")

    assert report.failed == 0, report.render()
    assert sorted(n.number for n in account.store.list_numbers()) == sorted([RESERVED[0], STANDBY[0], POOL[0], POOL[1]])
    sam = account.store.get_provider(account.store.find_provider_id_by_phone("+13035551000") or "")
    assert sam and sam.name == "Sam Sitter" and sam.reserved_number == RESERVED[0]
    row = next(r for r in report.rows if r.number == RESERVED[0])
    assert row.role == "Reserved (Sam Sitter)" and row.changes[0] == "create provider"
    untouched = [r for r in report.rows if r.role == "unknown"]
    assert len(untouched) == 57 - 4
    assert account.sandbox.numbers[account.sandbox.sid_of(RESERVED[1])]["sms_url"] == PROXY_WEBHOOK

    again = run_setup(account, "--roles", str(roles), "--pool", f"{POOL[0]},{POOL[1]}", "--apply")
    assert again.changed == 0, again.render()


def test_setup_makes_the_messaging_service_defer_to_each_numbers_webhook(account):
    account.sandbox.services[MESSAGING].use_inbound_webhook_on_number = False

    dry = run_setup(account)
    assert any("would set incoming messages to 'Defer to sender's webhook'" in line for line in dry.lines)
    assert account.sandbox.services[MESSAGING].use_inbound_webhook_on_number is False

    run_setup(account, "--apply")
    assert account.sandbox.services[MESSAGING].use_inbound_webhook_on_number is True
    assert run_setup(account, "--apply").changed == 0


def test_fallback_urls_are_set_when_the_stack_has_them(account, aws, tmp_path):
    account.outputs = write_outputs(
        tmp_path, aws, MESSAGING, TwilioSmsFallbackUrl=f"{API}/twilio/sms/fallback", TwilioVoiceFallbackUrl=f"{API}/twilio/voice/fallback"
    )

    run_setup(account, "--apply")

    resource = account.sandbox.numbers[account.sandbox.sid_of(POOL[4])]
    assert resource["sms_fallback_url"] == f"{API}/twilio/sms/fallback"
    assert resource["voice_fallback_url"] == f"{API}/twilio/voice/fallback"
    assert run_setup(account, "--apply").changed == 0


def test_the_stack_is_read_from_cloudformation(account, aws):
    """DescribeStacks through a boto3 client (botocore's Stubber: moto's CloudFormation
    needs openapi-spec-validator, which the project does not install)."""
    from botocore.stub import Stubber

    cloudformation = boto3.client("cloudformation")
    answer = {
        "Stacks": [
            {
                "StackName": "masking-local",
                "CreationTime": "2026-11-27T00:00:00Z",
                "StackStatus": "UPDATE_COMPLETE",
                "Parameters": [
                    {"ParameterKey": "Environment", "ParameterValue": "local"},
                    {"ParameterKey": "MessagingServiceSid", "ParameterValue": ""},
                ],
                "Outputs": [
                    {"OutputKey": "ApiUrl", "OutputValue": API},
                    {"OutputKey": "TableName", "OutputValue": aws.env["TABLE_NAME"]},
                    {"OutputKey": "TwilioSmsWebhookUrl", "OutputValue": f"{API}/twilio/sms"},
                    {"OutputKey": "TwilioVoiceWebhookUrl", "OutputValue": f"{API}/twilio/voice"},
                ],
            }
        ]
    }
    account.deps.cloudformation = cloudformation
    with Stubber(cloudformation) as stubber:
        stubber.add_response("describe_stacks", answer, {"StackName": "masking-local"})
        report = setup.run_setup(setup.parse_args(["--stack-name", "masking-local", "--pool", POOL[0]]), account.deps)
        stubber.assert_no_pending_responses()

    row = next(r for r in report.rows if r.number == POOL[0])
    assert row.changes == ["register", "point SMS + voice"]  # no Messaging Service on this stack


def test_proxy_migration_imports_two_open_sessions_as_leases_on_the_same_pool_numbers(account, aws):
    """Two sitters each talk to a client through Proxy on the same pool number (unique per
    provider, not globally); after the move the threads continue on the sitters' phones."""
    from masking.core.models import InboundSms
    from masking.store.dynamo import DynamoRoutingStore
    from tests.support import make_world

    alice, bob = "+13035558001", "+13035558002"
    account.sandbox.add_proxy_session(PROXY, [(SITTER_PHONES[0], POOL[3], "Sitter 0"), (alice, RESERVED[0], "Alice Owner")])
    account.sandbox.add_proxy_session(PROXY, [(SITTER_PHONES[1], POOL[3], "Sitter 1"), (bob, RESERVED[1], "Bob Owner")])
    account.sandbox.add_proxy_session(PROXY, [(SITTER_PHONES[2], POOL[4], "Sitter 2"), ("+13035558003", RESERVED[2], "")], "closed")

    dry = run_setup(account, "--from-proxy", PROXY, "--import-sessions")
    assert [r.changes for r in dry.sessions] == [["import as lease"], ["import as lease"]]  # the closed one is not listed

    report = run_setup(account, "--from-proxy", PROXY, "--import-sessions", "--apply")

    assert report.failed == 0, report.render()
    assert [r.changes for r in report.sessions] == [["imported as lease"], ["imported as lease"]]
    store = account.store
    for sitter_phone, client_phone in ((SITTER_PHONES[0], alice), (SITTER_PHONES[1], bob)):
        provider_id = store.find_provider_id_by_phone(sitter_phone)
        client = store.find_client(phone=client_phone)
        assert provider_id and client
        _, lease = store.get_provider_and_pair(provider_id, client.client_id)
        assert lease and lease.pool_number == POOL[3] and lease.is_active(lease_now())
    assert store.find_client(phone=alice).name == "Alice Owner"  # type: ignore[union-attr]
    assert account.sandbox.proxy_services[PROXY] == []

    again = run_setup(account, "--from-proxy", PROXY, "--import-sessions", "--apply")
    assert again.changed == 0 and again.failed == 0, again.render()

    # the thread continues: Alice texts Sitter 0's reserved number, the sitter gets it from the same pool number
    world = make_world(DynamoRoutingStore(aws.env["TABLE_NAME"]))
    world.router.route(InboundSms(message_sid="SM" + "1" * 32, from_phone=alice, to_number=RESERVED[0], body="Is Rex ok?"))
    (sent,) = world.sent_to(SITTER_PHONES[0])
    assert sent.from_number == POOL[3] and sent.body.endswith("Is Rex ok?")


def lease_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def test_the_scheduled_doctor_alerts_the_owner_once_per_new_finding(account):
    from twilio.rest import Client

    from masking.adapters.memory import MemoryOwnerAlerts
    from masking.admin.doctor import run_scheduled_doctor

    run_setup(account, "--from-proxy", PROXY, "--apply")
    ctx = admin_context(account.store)
    twilio = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=account.sandbox)
    wanted = read_stack(None, account.outputs).webhooks
    alerts = MemoryOwnerAlerts()

    def run() -> dict:
        return run_scheduled_doctor(ctx, twilio, wanted, alerts, MESSAGING)

    assert run()["alerted"] is False and alerts.published == []  # only the opt-out warning: no alert
    account.sandbox.numbers[account.sandbox.sid_of(RESERVED[7])]["voice_url"] = "https://elsewhere.example.com/voice"

    first = run()
    assert first["alerted"] is True and len(first["new"]) == 1
    subject, message = alerts.published[-1]
    assert subject == "masking doctor: 1 new finding(s)" and RESERVED[7] in message and "voice webhook" in message

    assert run()["alerted"] is False  # the same finding again: no second alert
    account.sandbox.messaging_services[MESSAGING].discard(account.sandbox.sid_of(POOL[1]))
    third = run()
    assert [f["subject"] for f in third["new"]] == [POOL[1]] and len(alerts.published) == 2


def test_the_doctor_function_runs_on_its_schedule_and_reports_counts(aws, monkeypatch):
    from masking.wiring import sandbox_http_client
    from tests.support import FakeLambdaContext

    monkeypatch.setenv("WEBHOOK_BASE_URL", API)
    store = DynamoAdminStore(aws.env["TABLE_NAME"])
    sandbox = sandbox_http_client()
    sid = sandbox.own_number(POOL[0], sms_url=f"{API}/twilio/sms", voice_url="https://elsewhere.example.com/voice")
    from masking.core.models import NumberRecord

    store.create_number(NumberRecord(POOL[0], Lifecycle.POOL, twilio_sid=sid))
    store.create_number(NumberRecord(STANDBY[0], Lifecycle.STANDBY, twilio_sid="PN" + "9" * 32))  # released at Twilio
    handler = DOCTOR_HANDLER

    first = handler({"source": "aws.scheduler"}, FakeLambdaContext(function_name="masking-doctor"))
    second = handler({"source": "aws.scheduler"}, FakeLambdaContext(function_name="masking-doctor"))

    assert first == {"findings": 2, "new": 2, "alerted": True}  # voice webhook elsewhere, standby gone at Twilio
    assert second == {"findings": 2, "new": 0, "alerted": False}
