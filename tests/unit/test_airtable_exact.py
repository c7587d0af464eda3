"""The Airtable mirror is exact (issue 21) and survives long outages (issue 13, item 8).

Same harness as test_airtable_mirror.py: the real writer against the stand-in on a
virtual clock, the shared state in memory (DynamoMirrorState has the same contract and
is exercised against moto in tests/integration/test_airtable_sync.py).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from functions.airtable_sync.airtable_mirror.handler import handle_sqs_batch
from functions.airtable_sync.airtable_mirror.redrive import run_redrive
from masking.mirror.outbox import MirrorRecord
from tests.unit.test_airtable_mirror import BASE, STAMP, Harness, message, sqs_event


@pytest.fixture
def airtable() -> Harness:
    return Harness()


def client(key: str, version: int, **fields: Any) -> MirrorRecord:
    return MirrorRecord("client", key, fields, STAMP, version=version)


def replay(airtable: Harness, bodies: list[str]) -> None:
    """What the outbox queue does with records the redrive sends back."""
    airtable.mirror.write([(f"re-{i}", body) for i, body in enumerate(bodies)], deadline=airtable.clock.now() + 120)


# ---------------------------------------------------------------- order across deliveries
def test_a_redelivered_older_batch_after_a_newer_one_keeps_the_newer_values_per_field(airtable):
    """Issue 21: a batch that failed and came back 180 s later put the previous sitter back."""
    older = [
        client("cl-1", 100, Name="Olivia", **{"Linked Sitter": "prov-old", "Last Active": "2026-11-01T12:00:00Z"}),
        message("SM1", version=100, Status="sent"),
    ]
    newer = [
        client("cl-1", 200, **{"Linked Sitter": "prov-new"}),
        MirrorRecord("message", "SM1", {"Status": "delivered"}, STAMP, version=200),  # its delivery callback
    ]
    older_messages = airtable.messages(older)
    airtable.write(newer)
    requests = len(airtable.standin.requests)

    outcome = airtable.mirror.write(older_messages, deadline=airtable.clock.now() + 120)  # the redelivery

    assert outcome.failures == {}
    new_sitter = airtable.row("Sitters", **{"Provider ID": "prov-new"})["id"]
    row = airtable.row("Clients", **{"Client ID": "cl-1"})["fields"]
    assert row["Linked Sitter"] == [new_sitter]  # the newer field stays
    assert row["Name"] == "Olivia"  # the older record's other fields are still written
    assert row["Last Active"].startswith("2026-11-01T12:00:00")
    sms = airtable.row("Messages", **{"Message SID": "SM1"})["fields"]
    assert (sms["Status"], sms["Body"]) == ("delivered", "Hi Sam, how is Rex?")
    assert outcome.stale_fields == 2
    assert len(airtable.standin.requests) > requests  # the fresh fields were sent


def test_the_same_batch_delivered_again_sends_nothing(airtable):
    messages = airtable.messages([message("SM1"), client("cl-1", 5, Name="A")])
    airtable.mirror.write(messages, deadline=airtable.clock.now() + 60)
    requests = len(airtable.standin.requests)

    outcome = airtable.mirror.write(messages, deadline=airtable.clock.now() + 60)

    assert outcome.failures == {} and len(airtable.standin.requests) == requests


def test_two_consumers_at_once_never_leave_an_older_value(airtable):
    """Two containers write the same keys with interleaved versions at the same time; a key
    one of them is writing is held by the other, then replayed: the newest value wins."""
    rng = random.Random(21)
    keys = [f"cl-{i}" for i in range(12)]
    batches = [[client(rng.choice(keys), rng.randint(1, 10_000), Name=f"v{rng.randint(0, 9)}") for _ in range(15)] for _ in range(16)]
    for batch in batches:  # the value names its version, so the expected end state is known
        for record in batch:
            record.fields["Name"] = f"v{record.version}"
    airtable.standin.limits = False
    consumers = [airtable.new_mirror(), airtable.new_mirror()]
    errors: list[BaseException] = []

    def run(mirror: Any, mine: list[list[MirrorRecord]]) -> None:
        try:
            for batch in mine:
                mirror.write(airtable.messages(batch), deadline=airtable.clock.now() + 120)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(consumers[i], batches[i::2])) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = run_redrive(airtable.mirror, airtable.state, lambda bodies: replay(airtable, bodies), airtable.clock.now() + 60)
    assert airtable.state.held() == []

    newest = {}
    for batch in batches:
        for record in batch:
            if record.version > newest.get(record.key, (0, ""))[0]:
                newest[record.key] = (record.version, record.fields["Name"])
    rows = {r["Client ID"]: r["Name"] for r in airtable.rows("Clients")}
    assert rows == {key: name for key, (_, name) in newest.items()}
    assert report.quiet is False


def test_a_key_being_written_by_another_invocation_is_held_not_overwritten(airtable):
    airtable.state.claim("client", "cl-1", "other-invocation", airtable.clock.now() + 60, airtable.clock.now())

    outcome = airtable.write([client("cl-1", 300, Name="Newest")])

    assert outcome.held == {"msg-1"} and airtable.rows("Clients") == []
    airtable.state.commit("client", "cl-1", "other-invocation", {"Name": 200})  # the other one wrote version 200
    run_redrive(airtable.mirror, airtable.state, lambda bodies: replay(airtable, bodies), airtable.clock.now() + 60)
    assert airtable.row("Clients", **{"Client ID": "cl-1"})["fields"]["Name"] == "Newest"


# ---------------------------------------------------------------- schema drift
@dataclass
class Drift:
    name: str
    table: str
    field: str
    error: str


DRIFTS = [
    Drift("renamed", "Messages", "Body", "UNKNOWN_FIELD_NAME"),
    Drift("deleted", "Messages", "Body", "UNKNOWN_FIELD_NAME"),
    Drift("removed option", "Messages", "Twilio Status", "INVALID_MULTIPLE_CHOICE_OPTIONS"),
]


def break_base(airtable: Harness, drift: Drift) -> None:
    if drift.name == "renamed":
        airtable.standin.rename_field("Messages", "Body", "Message Body", BASE)
    elif drift.name == "deleted":
        airtable.standin.remove_field("Messages", "Body", BASE)
    else:
        airtable.standin.allow_new_options = False  # a token that may not add options
        airtable.standin.remove_option("Messages", "Twilio Status", "queued", BASE)


def fix_base(airtable: Harness, drift: Drift) -> None:
    if drift.name == "renamed":
        airtable.standin.rename_field("Messages", "Message Body", "Body", BASE)
    elif drift.name == "deleted":
        airtable.standin.add_field("Messages", {"name": "Body", "type": "multilineText"}, BASE)
    else:
        airtable.standin.allow_new_options = True


@pytest.mark.parametrize("drift", DRIFTS, ids=[d.name for d in DRIFTS])
def test_a_drifted_table_is_parked_named_once_spares_other_tables_and_comes_back_after_the_fix(airtable, drift, caplog):
    airtable.write([message("SM0")])  # the sitter stub exists, links are cached
    break_base(airtable, drift)
    airtable.standin.requests.clear()
    messages = [message(f"SM{i}", version=1_000 + i) for i in range(1, 26)]
    clients = [client(f"cl-{i}", 1_000 + i, Name=f"Client {i}") for i in range(25)]

    first = airtable.write([*messages[:12], *clients[:12]])
    second = airtable.write([*messages[12:], *clients[12:]])

    message_requests = [r for r in airtable.standin.requests if "/Messages" in r.path]
    assert len(message_requests) == 1  # one request decided it: no retry, no splitting
    assert first.failures == {} and second.failures == {}
    assert len(first.parked) + len(second.parked) == 25
    assert len(airtable.rows("Clients")) == 25  # the healthy table kept its budget
    assert len(airtable.alerts) == 1
    assert f'"{drift.field}"' in airtable.alerts[0][1] and '"Messages"' in airtable.alerts[0][1]
    lines = [r for r in caplog.records if "does not match the mirror" in r.getMessage()]
    assert len(lines) == 1
    assert (lines[0].__dict__["table"], lines[0].__dict__["field"], lines[0].__dict__["error"]) == ("Messages", drift.field, drift.error)
    assert "Hi Sam" not in caplog.text

    sent: list[str] = []
    still = run_redrive(airtable.mirror, airtable.state, sent.extend, airtable.clock.now() + 60)
    assert still.probed == {"message": "drifted"} and sent == []

    fix_base(airtable, drift)
    fixed = run_redrive(airtable.mirror, airtable.state, sent.extend, airtable.clock.now() + 60)
    assert fixed.probed == {"message": "fixed"}
    versions = [MirrorRecord.from_json(body).version for body in sent]
    assert versions == sorted(versions)  # replayed in version order
    replay(airtable, sent)
    rows = {r["Message SID"]: r for r in airtable.rows("Messages") if r["Message SID"] != "SM0"}
    assert len(rows) == 25 and all(r.get("Body") == "Hi Sam, how is Rex?" and r["Twilio Status"] == "queued" for r in rows.values())
    assert airtable.state.parked("message") == [] and airtable.state.control().drifts == {}


def test_a_status_update_for_a_parked_message_is_parked_too_no_half_rows(airtable):
    airtable.standin.rename_field("Messages", "Body", "Message Body", BASE)
    airtable.write([message("SM1", version=10)])
    requests = len(airtable.standin.requests)

    update = airtable.write([MirrorRecord("message", "SM1", {"Status": "delivered", "Twilio Status": "delivered"}, STAMP, version=20)])

    assert update.parked == {"msg-2"}
    assert len(airtable.standin.requests) == requests  # no request for a drifted table
    assert airtable.rows("Messages") == []  # no row that looks mirrored without its message
    airtable.standin.rename_field("Messages", "Message Body", "Body", BASE)
    sent: list[str] = []
    run_redrive(airtable.mirror, airtable.state, sent.extend, airtable.clock.now() + 60)
    replay(airtable, sent)
    row = airtable.row("Messages", **{"Message SID": "SM1"})["fields"]
    assert (row["Body"], row["Status"]) == ("Hi Sam, how is Rex?", "delivered")


def test_a_missing_table_is_drift_too(airtable):
    airtable.standin.base(BASE).tables = [t for t in airtable.standin.base(BASE).tables if t.name != "Calls"]

    outcome = airtable.write([MirrorRecord("call", "CA1", {"Status": "completed"}, STAMP), client("cl-1", 1, Name="A")])

    assert outcome.parked == {"msg-1"}
    assert airtable.state.control().drift("call").error == "TABLE_NOT_FOUND"
    assert len(airtable.rows("Clients")) == 1


# ---------------------------------------------------------------- long outages (issue 13)
class Queue:
    """SQS under the event source mapping: batches of 100, visibility 180 s, DLQ after 5."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.messages: list[dict[str, Any]] = []
        self.dlq: list[dict[str, Any]] = []
        self.ids = 0

    def send(self, bodies: list[str]) -> None:
        for body in bodies:
            self.ids += 1
            self.messages.append({"id": f"q-{self.ids}", "body": body, "visible_at": self.clock.now(), "receives": 0})

    def poll(self, airtable: Harness) -> None:
        visible = [m for m in self.messages if m["visible_at"] <= self.clock.now()][:100]
        if not visible:
            return
        for m in visible:
            m["receives"] += 1
        context = type("Ctx", (), {"get_remaining_time_in_millis": lambda self: 120_000})()
        response = handle_sqs_batch(sqs_event([(m["id"], m["body"]) for m in visible]), context, mirror=airtable.mirror)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for m in visible:
            if m["id"] not in failed:
                self.messages.remove(m)
            elif m["receives"] >= 5:
                self.messages.remove(m)
                self.dlq.append(m)
            else:
                m["visible_at"] = self.clock.now() + 180


@pytest.mark.parametrize("fault", ["outage-20-minutes", "429-twenty-times"])
def test_a_long_outage_or_a_429_storm_parks_nothing_in_the_dlq_and_loses_nothing(airtable, fault):
    """Issue 13: a 20-minute outage, or 20 consecutive 429s, put 101 of 144 messages in the DLQ."""
    queue = Queue(airtable.clock)
    records = []
    for i in range(48):  # 144 messages: a message, its client, its delivery callback
        records.append(message(f"SM{i}", version=10 * i))
        records.append(client(f"cl-{i % 20}", 10 * i + 1, Name=f"Client {i}"))
        records.append(MirrorRecord("message", f"SM{i}", {"Status": "delivered"}, STAMP, version=10 * i + 2))
    if fault == "outage-20-minutes":
        airtable.standin.outage("5xx", seconds=1200)
    else:
        airtable.standin.fail_next(20, status=429)
    started = airtable.clock.now()
    for start in range(0, len(records), 12):  # the webhooks keep publishing during the fault
        queue.send([r.to_json() for r in records[start : start + 12]])
        queue.poll(airtable)
        airtable.clock.sleep(20)
    while airtable.clock.now() < started + 3600:  # an hour: the mapping polls, the schedule runs every minute
        queue.poll(airtable)
        run_redrive(airtable.mirror, airtable.state, queue.send, airtable.clock.now() + 55)
        airtable.clock.sleep(60)

    assert queue.dlq == []
    assert queue.messages == [] and airtable.state.held() == []
    rows = {r["Message SID"]: r for r in airtable.rows("Messages")}
    assert len(rows) == 48 and all(r["Status"] == "delivered" and r["Body"] for r in rows.values())
    names = {r["Client ID"]: r["Name"] for r in airtable.rows("Clients")}
    assert names == {f"cl-{k}": f"Client {max(i for i in range(48) if i % 20 == k)}" for k in range(20)}


# ---------------------------------------------------------------- the stand-in is as strict as Airtable
def test_the_standin_never_checks_a_box_for_the_string_false(airtable):
    api = airtable.mirror.api
    calls = api.table(BASE, "Calls")

    calls.batch_upsert([{"fields": {"Call ID": "CA1", "Recorded": "false"}}], key_fields=["Call ID"], typecast=True)
    calls.batch_upsert([{"fields": {"Call ID": "CA2", "Recorded": "true"}}], key_fields=["Call ID"], typecast=True)

    recorded = {r["Call ID"]: r.get("Recorded", False) for r in airtable.rows("Calls")}
    assert recorded == {"CA1": False, "CA2": True}
    with pytest.raises(requests.HTTPError) as refused:
        calls.batch_upsert([{"fields": {"Call ID": "CA3", "Recorded": "maybe"}}], key_fields=["Call ID"], typecast=True)
    assert refused.value.response.json()["error"]["type"] == "INVALID_VALUE_FOR_COLUMN"


def test_the_standin_refuses_an_update_by_an_unknown_record_id_and_writes_nothing(airtable):
    audit = airtable.mirror.api.table(BASE, "Audit Log")
    existing = airtable.standin.insert("Audit Log", {"Event": "kept"}, BASE)

    with pytest.raises(requests.HTTPError) as refused:
        audit.batch_update([{"id": existing, "fields": {"Event": "changed"}}, {"id": "recAAAAAAAAAAAAAA", "fields": {"Event": "x"}}])

    assert refused.value.response.status_code == 404
    assert [r["Event"] for r in airtable.rows("Audit Log")] == ["kept"]
