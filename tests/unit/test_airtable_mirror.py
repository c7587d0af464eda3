"""airtable_sync's writer against the in-memory Airtable stand-in, on a virtual clock.

Given mirror records (built by the real producers where possible), when a batch is
written, then the stand-in holds one row per key with Airtable-ready fields, within
Airtable's limits, and failures are reported per SQS message.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.airtable_sync.airtable_mirror.client import build_api, build_paced_api
from functions.airtable_sync.airtable_mirror.handler import handle_sqs_batch
from functions.airtable_sync.airtable_mirror.limiter import RateLimiter
from functions.airtable_sync.airtable_mirror.state import MemoryMirrorState
from functions.airtable_sync.airtable_mirror.writer import AirtableMirror
from local.airtable_standin import DEFAULT_URL, AirtableStandin, VirtualClock, apply_mirror_schema
from masking.core.models import Client, Lifecycle, NumberRecord, NumberStatus, Provider
from masking.handlers.sms import handle_sms_webhook
from masking.mirror import rows
from masking.mirror.outbox import MirrorRecord
from tests.support import OLIVIA, PROVIDER

BASE = "appUNITTEST000000"
TOKEN = "unit-token"
STAMP = "2026-11-01T12:00:00Z"


class Harness:
    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.standin = AirtableStandin(token=TOKEN, clock=self.clock)
        apply_mirror_schema(self.standin, BASE)
        self.standin.requests.clear()
        self.state = MemoryMirrorState()  # what DynamoDB holds for every invocation
        self.alerts: list[tuple[str, str]] = []
        self.mirror = self.new_mirror()
        self.ids = 0

    def new_mirror(self) -> AirtableMirror:
        """Another container: its own limiter and link cache, the same shared state."""
        api = build_api(TOKEN, DEFAULT_URL)
        self.standin.mount(api.session)
        return AirtableMirror(
            api,
            BASE,
            clock=self.clock,
            limiter=RateLimiter(clock=self.clock),
            state=self.state,
            alert=lambda subject, text: self.alerts.append((subject, text)),
        )

    def messages(self, records: list[MirrorRecord]) -> list[tuple[str, str]]:
        out = []
        for record in records:
            self.ids += 1
            out.append((f"msg-{self.ids}", record.to_json()))
        return out

    def write(self, records: list[MirrorRecord], seconds: float = 120) -> Any:
        return self.mirror.write(self.messages(records), deadline=self.clock.now() + seconds)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return [row["fields"] for row in self.standin.rows(table, BASE)]

    def row(self, table: str, **match: Any) -> dict[str, Any]:
        found = [r for r in self.standin.rows(table, BASE) if all(r["fields"].get(k) == v for k, v in match.items())]
        assert len(found) == 1, f"{len(found)} rows in {table} match {match}"
        return found[0]

    def writes(self) -> list[Any]:
        return [r for r in self.standin.requests if r.method in ("PATCH", "POST", "PUT") and "/meta/" not in r.path]


@pytest.fixture
def airtable() -> Harness:
    return Harness()


def message(sid: str, provider_id: str = "prov-sam", at: str = STAMP, version: int | None = None, **fields: Any) -> MirrorRecord:
    base = {
        "From": "+13035550201",
        "To": "+13035550101",
        "Body": "Hi Sam, how is Rex?",
        "Sender Type": "client",
        "Proxy Number": "+17205550100",
        "Timestamp": at,
        "Sitter": provider_id,
        "Client": "cl-olivia",
        "Session SID": "LS1",
        "Status": "sent",
        "Twilio Status": "queued",
        "Message SID": sid,
        "Forwarded SIDs": ["SMout1"],
        "Media URLs": [],
    }
    record = MirrorRecord(kind="message", key=sid, at=at, fields={**base, **fields})
    if version is not None:
        record.version = version
    return record


# ---------------------------------------------------------------- field mapping
def test_an_sms_mirrors_message_client_and_audit_rows_with_airtable_fields(airtable, world):
    handle_sms_webhook(world.sms_event(OLIVIA.phone, PROVIDER.reserved_number, "Hi Sam, how is Rex?"), world.services)
    new_number = "+13035550299"
    handle_sms_webhook(world.sms_event(new_number, PROVIDER.reserved_number, "Hello, new here"), world.services)
    kinds = sorted({r.kind for r in world.outbox.records})
    assert kinds == ["audit", "client", "message"]

    outcome = airtable.write(world.outbox.records)

    assert outcome.failures == {}
    sitter = airtable.row("Sitters", **{"Provider ID": PROVIDER.provider_id})  # a stub: the provider was never mirrored
    first = airtable.row("Messages", Body="Hi Sam, how is Rex?")["fields"]
    assert first["From"] == OLIVIA.phone
    assert first["To"] == PROVIDER.phone
    assert first["Sender Type"] == "client"
    assert first["Sitter"] == [sitter["id"]]
    assert first["Client"] == OLIVIA.client_id
    assert first["Status"] == "sent"
    assert first["Message SID"].startswith("SM")
    assert first["Forwarded SIDs"].startswith("SM")
    olivia = airtable.row("Clients", **{"Client ID": OLIVIA.client_id})["fields"]
    assert olivia["Linked Sitter"] == [sitter["id"]]
    assert olivia["Last Active"].startswith("2026-11-01T12:00:00")
    created = airtable.row("Clients", **{"Client Phone (E.164)": new_number})["fields"]
    assert created["Name"] == "New client"
    assert created["Created At"].startswith("2026-11-01")
    audit = airtable.row("Audit Log", Event="Client created")["fields"]
    assert audit["Category"] == "Client Sync"
    assert audit["Severity"] == "Info"
    assert audit["Related Sitter"] == PROVIDER.provider_id
    assert audit["Event Key"].endswith(":Client created")
    assert json.loads(audit["Details"])["message_sid"].startswith("SM")


def test_a_delivery_update_lands_on_the_message_row(airtable):
    airtable.write([message("SM1")])
    update = MirrorRecord("message", "SM1", {"Twilio Status": "undelivered", "Twilio Error Code": "30003", "Status": "undelivered"}, STAMP)

    airtable.write([update])

    rows = airtable.rows("Messages")
    assert len(rows) == 1
    assert rows[0]["Twilio Status"] == "undelivered"
    assert rows[0]["Twilio Error Code"] == "30003"
    assert rows[0]["Body"] == "Hi Sam, how is Rex?"


def test_providers_numbers_and_clients_from_the_admin_flows(airtable):
    provider = Provider("PR1", "Kim Keeper", "+13035550102", reserved_number="+17205550002", email="kim@example.com", created_at=STAMP)
    number = NumberRecord(
        "+17205550002", Lifecycle.RESERVED, NumberStatus.READY, provider_id="PR1", twilio_sid="PN1", purpose="Sitter Assignment"
    )
    pool = NumberRecord("+17205550100", Lifecycle.POOL, NumberStatus.READY, purpose="Pool Expansion")
    client = Client("CL1", "Pete Parent", "+13035550202", external_id="ttp-9", email="pete@example.com", created_at=STAMP)
    records = [
        rows.number_row(number, STAMP),
        rows.number_row(pool, STAMP),
        rows.client_profile(client, "PR1", STAMP),
        rows.provider_row(provider, STAMP),
    ]

    assert airtable.write(records).failures == {}

    sitter = airtable.row("Sitters", **{"Provider ID": "PR1"})
    assert sitter["fields"]["Full Name"] == "Kim Keeper"
    assert sitter["fields"]["Twilio Number"] == "+17205550002"
    assert sitter["fields"]["Email"] == "kim@example.com"
    assert sitter["fields"]["Status"] == "Active"
    reserved = airtable.row("Number Inventory", PhoneNumber="+17205550002")["fields"]
    assert reserved["Assigned Sitter"] == [sitter["id"]]
    assert reserved["Status"] == "Reserved Active"
    assert reserved["Lifecycle"] == "Reserved"
    assert "Assigned Sitter" not in airtable.row("Number Inventory", PhoneNumber="+17205550100")["fields"]
    pete = airtable.row("Clients", **{"Client ID": "CL1"})["fields"]
    assert pete["External ID"] == "ttp-9"
    assert pete["Linked Sitter"] == [sitter["id"]]
    assert sorted(sitter["fields"]["Number Inventory"]) == sorted(
        r["id"] for r in airtable.standin.rows("Number Inventory", BASE) if r["fields"].get("Assigned Sitter")
    )
    assert airtable.mirror.stats.stubs_created == 0  # the provider row came first, in the same batch


def test_call_rows_key_on_the_call_id(airtable):
    inbound = {"Call SID": "CA1", "Sitter": "prov-sam", "Client": "cl-1", "Direction": "client_to_provider", "Status": "connecting"}
    ended = {"Call SID": "CA1", "Status": "completed", "Duration": 42}
    session = {"Call Session ID": "CS1", "Call SID": None, "Direction": "click-to-call", "Status": "queued", "Recorded": True}
    later = {"Call Session ID": "CS1", "Call SID": "CA2", "Status": "answered"}

    airtable.write([MirrorRecord("call", "CA1", inbound, STAMP), MirrorRecord("call", "CS1", session, STAMP)])
    airtable.write([MirrorRecord("call", "CA1", ended, STAMP), MirrorRecord("call", "CS1", later, STAMP)])

    assert len(airtable.rows("Calls")) == 2
    call = airtable.row("Calls", **{"Call ID": "CA1"})["fields"]
    assert (call["Status"], call["Duration"], call["Direction"]) == ("completed", 42, "client_to_provider")
    click = airtable.row("Calls", **{"Call ID": "CS1"})["fields"]
    assert (click["Call SID"], click["Status"], click["Recorded"]) == ("CA2", "answered", True)


def test_audit_rows_always_carry_category_and_severity(airtable):
    bare = MirrorRecord("audit", "k1", {"Event": "Something", "Description": "no category given"}, STAMP)
    airtable.write([bare])
    row = airtable.row("Audit Log", **{"Event Key": "k1"})["fields"]
    assert (row["Category"], row["Severity"]) == ("System", "Info")


def test_an_unknown_select_option_is_added_not_lost(airtable):
    airtable.write([message("SM1", **{"Twilio Status": "accepted"})])
    assert airtable.row("Messages", **{"Message SID": "SM1"})["fields"]["Twilio Status"] == "accepted"


# ---------------------------------------------------------------- upserts, merges, limits
def test_a_redelivered_batch_does_not_duplicate_rows(airtable):
    batch = [message("SM1"), message("SM2"), MirrorRecord("client", "cl-olivia", {"Name": "Olivia", "Linked Sitter": "prov-sam"}, STAMP)]
    messages = airtable.messages(batch)

    for _ in range(3):
        assert airtable.mirror.write(messages, deadline=airtable.clock.now() + 60).failures == {}

    assert len(airtable.rows("Messages")) == 2
    assert len(airtable.rows("Clients")) == 1
    assert len(airtable.rows("Sitters")) == 1


def test_records_for_one_key_in_a_batch_become_one_row_later_fields_win(airtable):
    delivered = MirrorRecord("message", "SM1", {"Status": "delivered", "Twilio Status": "delivered"}, "2026-11-01T12:00:09Z", version=20)
    batch = [delivered, message("SM1", at="2026-11-01T12:00:00Z", version=10)]  # the queue delivered them out of order

    outcome = airtable.write(batch)

    assert outcome.rows_written == 1
    row = airtable.row("Messages", **{"Message SID": "SM1"})["fields"]
    assert (row["Status"], row["Twilio Status"], row["From"]) == ("delivered", "delivered", "+13035550201")
    assert len(airtable.writes()) == 2  # the sitter stub, then one message row


def test_at_most_ten_records_per_request_and_five_requests_per_second(airtable):
    records = [message(f"SM{i}", provider_id=f"prov-{i % 7}") for i in range(95)]
    records += [MirrorRecord("client", f"cl-{i}", {"Name": f"Client {i}", "Linked Sitter": f"prov-{i % 7}"}, STAMP) for i in range(33)]

    outcome = airtable.write(records)

    assert outcome.failures == {}
    assert len(airtable.rows("Messages")) == 95
    assert all(0 < r.records <= 10 for r in airtable.writes())
    assert all(r.status != 429 for r in airtable.standin.requests)
    starts = [r.at for r in airtable.standin.requests]
    assert all(starts[i + 5] - starts[i] > 1.0 for i in range(len(starts) - 5))
    assert outcome.requests == len(airtable.standin.requests)


def test_a_429_waits_30_seconds_then_succeeds(airtable):
    airtable.standin.base(BASE).locked_until = airtable.clock.now() + 30  # another client tripped the limit
    started = airtable.clock.now()

    outcome = airtable.write([message("SM1")])

    assert outcome.failures == {}
    assert airtable.mirror.stats.rate_limited == 1
    assert 30 <= airtable.clock.now() - started < 32
    assert len(airtable.rows("Messages")) == 1


def test_a_429_at_the_end_of_an_invocation_holds_the_batch_and_the_next_invocation_keeps_the_penalty(airtable):
    """Issue 21: the writer stopped before it recorded the pause, and the next invocation
    sent a request 0.05 s after the 429."""
    airtable.standin.fail_next(1, status=429)

    outcome = airtable.write([message("SM1"), message("SM2")], seconds=20)

    assert outcome.failures == {}  # held, not sent back to SQS: no receive used up
    assert sorted(outcome.held) == ["msg-1", "msg-2"]
    limited_at = next(r.at for r in airtable.standin.requests if r.status == 429)
    assert airtable.state.quiet_until == pytest.approx(limited_at + 30)
    airtable.clock.sleep(0.05)
    fresh = airtable.new_mirror()  # a new invocation, maybe in another container

    second = fresh.write(airtable.messages([message("SM3")]), deadline=airtable.clock.now() + 120)

    assert second.failures == {} and second.held == set()
    after = [r.at for r in airtable.standin.requests if r.at > limited_at]
    assert after and min(after) >= limited_at + 30
    assert airtable.row("Messages", **{"Message SID": "SM3"})


def test_quiet_time_longer_than_the_invocation_holds_without_a_request(airtable):
    airtable.state.raise_quiet(airtable.clock.now() + 300, "outage")

    outcome = airtable.write([message("SM1")], seconds=120)

    assert outcome.held == {"msg-1"} and outcome.requests == 0
    assert airtable.standin.requests == []


def test_server_errors_and_timeouts_are_retried_with_backoff(airtable):
    airtable.standin.fail_next(2, status=503)
    airtable.standin.fail_next(1, status=0)  # a timeout
    started = airtable.clock.now()

    outcome = airtable.write([message("SM1")])

    assert outcome.failures == {}
    assert airtable.mirror.stats.retries == 3
    assert airtable.clock.now() - started >= 0.5 + 1 + 2 + 10  # backoff, plus the 10 s read timeout
    assert len(airtable.rows("Messages")) == 1


def test_an_outage_longer_than_the_backoff_holds_everything_and_keeps_quiet_for_a_minute(airtable):
    airtable.standin.outage("5xx", seconds=3600)

    outcome = airtable.write([message("SM1"), MirrorRecord("client", "cl-1", {"Name": "A"}, STAMP)])

    assert outcome.failures == {}
    assert sorted(outcome.held) == ["msg-1", "msg-2"]
    assert len(airtable.state.held()) == 2
    assert airtable.state.quiet_until >= airtable.clock.now() + 59
    requests = len(airtable.standin.requests)
    assert airtable.write([message("SM2")]).held == {"msg-3"}  # quiet: no request at all
    assert len(airtable.standin.requests) == requests


def test_an_unreadable_body_fails_alone(airtable):
    messages = [("m1", "not json"), ("m2", json.dumps({"kind": "nope", "key": "x", "fields": {}})), ("m3", message("SM1").to_json())]
    messages.append(("m4", json.dumps({"kind": "client", "key": "", "fields": {"Name": "no key"}})))

    outcome = airtable.mirror.write(messages, deadline=airtable.clock.now() + 60)

    assert sorted(outcome.failures) == ["m1", "m2", "m4"]
    assert len(airtable.rows("Messages")) == 1


# ---------------------------------------------------------------- links
def test_links_are_resolved_by_key_and_cached(airtable):
    sam = airtable.standin.insert("Sitters", {"Full Name": "Sam Sitter", "Provider ID": "prov-sam"}, BASE)

    airtable.write([message("SM1"), message("SM2")])
    lookups = airtable.mirror.stats.lookups
    airtable.write([message("SM3")])

    assert [row["Sitter"] for row in airtable.rows("Messages")] == [[sam]] * 3
    assert lookups == 1
    assert airtable.mirror.stats.lookups == 1  # the second batch used the cache
    assert airtable.mirror.stats.stubs_created == 0


def test_a_link_to_a_provider_airtable_does_not_have_yet_creates_a_stub_the_provider_fills_later(airtable):
    airtable.write([message("SM1", provider_id="prov-new")])
    stub = airtable.row("Sitters", **{"Provider ID": "prov-new"})
    assert stub["fields"]["Full Name"] == "prov-new"

    provider = Provider("prov-new", "Nia New", "+13035550109")
    airtable.write([rows.provider_row(provider, STAMP)])

    sitters = airtable.standin.rows("Sitters", BASE)
    assert len(sitters) == 1
    assert sitters[0]["id"] == stub["id"]
    assert sitters[0]["fields"]["Full Name"] == "Nia New"
    assert airtable.row("Messages", **{"Message SID": "SM1"})["fields"]["Sitter"] == [stub["id"]]


def test_a_cached_link_to_a_deleted_row_is_looked_up_again(airtable):
    airtable.write([message("SM1")])
    sitters = airtable.standin.base(BASE).table("Sitters")
    sitters.records.clear()  # the operator deleted the sitter row

    outcome = airtable.write([message("SM2")])

    assert outcome.failures == {}
    new_stub = airtable.row("Sitters", **{"Provider ID": "prov-sam"})
    assert airtable.row("Messages", **{"Message SID": "SM2"})["fields"]["Sitter"] == [new_stub["id"]]


# ---------------------------------------------------------------- the SQS side and logs
def sqs_event(messages: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"rh-{message_id}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:masking-outbox",
                "awsRegion": "us-east-1",
            }
            for message_id, body in messages
        ]
    }


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def test_the_handler_reports_only_failed_records_as_batch_item_failures(airtable):
    messages = airtable.messages([message("SM1")])
    messages.append(("msg-bad", "not json"))
    messages += airtable.messages([message("SM2")])

    response = handle_sqs_batch(sqs_event(messages), Context(), mirror=airtable.mirror)

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-bad"}]}


def test_logs_never_carry_a_body_or_a_phone_number_in_clear(airtable, caplog):
    secret_body = "the gate code is 4242"
    poison = MirrorRecord("message", "SM9", {"Body": secret_body, "From": "+13035550201", "Twilio Error Code": {"x": 1}}, STAMP)
    bad_number = MirrorRecord("number", "+17205550999", {"Purchase Date": "not a date"}, STAMP)
    airtable.standin.fail_next(1, status=503)

    airtable.write([poison, bad_number, message("SM1", Body=secret_body)])

    text = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "Airtable table does not match the mirror" in text
    assert secret_body not in text
    assert "+13035550201" not in text
    assert "+17205550999" not in text


def test_the_tools_session_waits_out_a_429(airtable):
    api = build_paced_api(TOKEN, DEFAULT_URL, clock=airtable.clock)
    airtable.standin.mount(api.session)
    airtable.standin.base(BASE).locked_until = airtable.clock.now() + 30

    rows = api.table(BASE, "Sitters").all()

    assert rows == []
    assert airtable.clock.now() >= 1030


def test_an_unauthorized_token_stops_the_batch(airtable):
    airtable.standin.token = "rotated"

    outcome = airtable.write([message("SM1")])

    assert list(outcome.failures.values()) == ["Unauthorized: Airtable 401 AUTHENTICATION_REQUIRED"]


def test_the_standin_rejects_more_than_ten_records_and_locks_the_base_after_a_burst():
    clock = VirtualClock()
    standin = AirtableStandin(clock=clock)
    apply_mirror_schema(standin, BASE)
    api = build_api("t", DEFAULT_URL)
    standin.mount(api.session)
    table = api.table(BASE, "Audit Log")
    import requests

    with pytest.raises(requests.HTTPError) as too_many:
        api.request("PATCH", table.urls.records, json={"records": [{"fields": {"Event": str(i)}} for i in range(11)]})
    assert too_many.value.response.status_code == 422
    clock.sleep(2)
    for _ in range(5):
        table.all()
    with pytest.raises(requests.HTTPError) as limited:
        table.all()
    assert limited.value.response.status_code == 429
    assert limited.value.response.json() == {
        "errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]
    }
    clock.sleep(29)
    with pytest.raises(requests.HTTPError):
        table.all()
    clock.sleep(1.01)
    assert table.all() == []


def test_the_intercepting_transport_answers_any_session_and_times_out_like_requests(airtable):
    api = build_api(TOKEN, DEFAULT_URL)  # no adapter mounted: the handler builds its own session like this
    mirror = AirtableMirror(api, BASE, clock=airtable.clock, limiter=RateLimiter(clock=airtable.clock))
    airtable.standin.fail_next(1, status=0)

    with airtable.standin.intercept(DEFAULT_URL):
        outcome = mirror.write(airtable.messages([message("SM1")]), deadline=airtable.clock.now() + 60)

    assert outcome.failures == {}
    assert mirror.stats.retries == 1
    assert len(airtable.rows("Messages")) == 1
