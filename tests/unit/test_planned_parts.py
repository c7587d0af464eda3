"""Issue 19: a forward's parts are planned on its MessageSid claim; nothing is written after
the send (``masking.messaging.parts``).

What the removed post-send UpdateItem used to tell is now told by the status callbacks
(whose ref names the part) and, for a claim whose invocation died, by a reconciliation with
Twilio before anything is sent again. tests/integration/test_planned_parts_dynamo.py runs
these on DynamoDB (moto).
"""

from __future__ import annotations

from typing import Any

import pytest

from masking.core.models import FORWARDING
from masking.handlers.fallback import handle_fallback_records
from masking.handlers.sms import handle_sms_webhook, handle_status_webhook
from masking.messaging.parts import parse_ref, without_part
from masking.store.erasure import DynamoErasure
from masking.store.items import DynamoTable
from masking.store.memory import MemoryRoutingStore
from tests.support import OLIVIA, PROVIDER, SMS_URL, STAGE, World, fallback_record, signed_event

RESERVED = PROVIDER.reserved_number or ""


def webhook(world: World, from_phone: str, to_number: str, body: str) -> tuple[dict[str, str], dict[str, Any]]:
    params = world.sms_params(from_phone, to_number, body)
    return params, handle_sms_webhook(signed_event(SMS_URL, params), world.services)


def callback(world: World, sms: Any, state: str, code: str = "") -> dict[str, Any]:
    """Twilio's status callback for ``sms``, on the URL it was sent with."""
    params = {"MessageSid": sms.sid, "MessageStatus": state, "AccountSid": "AC" + "0" * 32}
    if code:
        params["ErrorCode"] = code
    return handle_status_webhook(signed_event(str(sms.status_callback).replace(f"/{STAGE}/", "/"), params), world.services)


def open_lease(world: World) -> str:
    webhook(world, OLIVIA.phone, RESERVED, "hi")
    return str(world.sent_to(PROVIDER.phone)[-1].from_number)


def replay(world: World, params: dict[str, str]) -> dict[str, Any]:
    """The request Twilio sent to the fallback URL, replayed by ``fallback_replay``."""
    return handle_fallback_records({"Records": [fallback_record(params)]}, world.services)


def dies(world: World, monkeypatch: pytest.MonkeyPatch, *, after_sends: int) -> None:
    """The webhook's invocation dies at its Twilio send number ``after_sends + 1`` (the
    earlier ones reach Twilio), as a Lambda timing out there would."""
    real = world.router.gateway.send_sms
    calls = {"n": 0}

    def send(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == after_sends + 1:
            raise RuntimeError("the invocation dies here")
        return real(*args, **kwargs)

    monkeypatch.setattr(world.router.gateway, "send_sms", send)


def erase(world: World, message_sid: str, at: str = "2026-11-02T09:00:00Z") -> None:
    """What erasing its client does to a message record (``DynamoErasure.blank_message``; the
    memory store, which has no erasure, gets the same fields blanked)."""
    if isinstance(world.store, DynamoTable):
        DynamoErasure(world.store).blank_message(message_sid, at)
        return
    assert isinstance(world.store, MemoryRoutingStore)
    record = world.store.messages[message_sid]
    record.body, record.media_urls, record.forwarded, record.planned, record.erased_at = "", [], {}, [], at


def dies_after_the_send(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook's invocation dies right after Twilio took the message (before answering)."""
    real = world.router.gateway.send_sms

    def send(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise RuntimeError("the invocation dies after Twilio took the message")

    monkeypatch.setattr(world.router.gateway, "send_sms", send)


# ---- the hot path
def test_a_steady_forward_writes_its_parts_with_the_claim_and_nothing_after_the_send(world: World) -> None:
    pool_number = open_lease(world)
    params, answer = webhook(world, PROVIDER.phone, pool_number, "Rex is fine")

    assert answer["statusCode"] == 200
    [sms] = world.sent_to(OLIVIA.phone)
    assert str(sms.status_callback).endswith(f"/twilio/sms/status/{params['MessageSid']}.0")
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.outcome == FORWARDING  # no "forwarded" written after the send
    assert record.forwarded == {} and record.lease_id
    assert record.planned == [{"from_number": RESERVED, "to_phone": OLIVIA.phone, "body": "Rex is fine", "media_urls": []}]


def test_a_long_body_plans_every_part_and_each_callback_names_its_own(world: World) -> None:
    params, _ = webhook(world, OLIVIA.phone, RESERVED, "walk " * 318)  # with the name prefix: over 1,600
    parts = world.sent_to(PROVIDER.phone)
    assert len(parts) == 2
    assert [parse_ref(str(sms.status_callback).rsplit("/", 1)[1]) for sms in parts] == [
        (params["MessageSid"], "forward", 0),
        (params["MessageSid"], "forward", 1),
    ]
    for sms in parts:
        assert callback(world, sms, "sent")["statusCode"] == 200
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.named_parts() == {0: parts[0].sid, 1: parts[1].sid}
    assert [part["body"] for part in record.planned] == [sms.body for sms in parts]


# ---- status callbacks for parts whose SID was never recorded
def test_a_temporary_failure_of_a_part_known_only_by_its_index_is_resent_once(world: World) -> None:
    pool_number = open_lease(world)
    params, _ = webhook(world, PROVIDER.phone, pool_number, "Rex is fine")
    [sms] = world.sent_to(OLIVIA.phone)

    callback(world, sms, "undelivered", "30003")
    callback(world, sms, "undelivered", "30003")  # repeated

    [resend] = world.retries.scheduled
    assert (resend.message_sid, resend.outbound_sid) == (params["MessageSid"], sms.sid)
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.forwarded[sms.sid]["attempt"] == 1  # recorded by the failure, off the hot path
    world.services.failures.resend(resend)
    world.services.failures.resend(resend)  # a redelivered queue message
    first, again = world.sent_to(OLIVIA.phone)
    assert (again.from_number, again.body) == (first.from_number, first.body)
    assert str(again.status_callback).endswith(f"/status/{params['MessageSid']}")  # a resend names no part
    callback(world, again, "undelivered", "30003")  # the resend fails too: permanent, never resent
    assert len(world.retries.scheduled) == 1
    assert "not delivered" in world.sent_to(PROVIDER.phone)[-1].body


def test_a_permanent_failure_of_a_part_known_only_by_its_index_tells_the_provider(world: World) -> None:
    pool_number = open_lease(world)
    webhook(world, PROVIDER.phone, pool_number, "See you at 5")
    [sms] = world.sent_to(OLIVIA.phone)

    callback(world, sms, "failed", "30007")

    alert = world.sent_to(PROVIDER.phone)[-1]
    assert (alert.from_number, alert.body) == (RESERVED, "Your message to Olivia Owner was not delivered (Twilio error 30007).")
    assert world.retries.scheduled == []


# ---- after an erasure (reviewer's defect 2)
def test_a_failure_callback_racing_the_erasure_of_its_message_resends_and_writes_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The callback reads the record, then the client is erased, then it claims the resend:
    on DynamoDB that claim named ``forwarded.<sid>`` after ``forwarded`` was removed
    (ValidationException, the webhook answered 500); in memory it wrote the text back."""
    pool_number = open_lease(world)
    params, _ = webhook(world, PROVIDER.phone, pool_number, "Rex is fine")
    [sms] = world.sent_to(OLIVIA.phone)
    read = world.store.get_message

    def read_then_erased(message_sid: str) -> Any:
        record = read(message_sid)
        erase(world, message_sid)
        return record

    monkeypatch.setattr(world.store, "get_message", read_then_erased)
    assert callback(world, sms, "undelivered", "30003")["statusCode"] == 200
    monkeypatch.undo()

    assert world.retries.scheduled == []
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.erased_at and record.forwarded == {} and record.resends == {}


def test_failure_callbacks_and_a_resend_after_the_erasure_send_and_write_nothing(world: World) -> None:
    pool_number = open_lease(world)
    params, _ = webhook(world, PROVIDER.phone, pool_number, "Rex is fine")
    [sms] = world.sent_to(OLIVIA.phone)
    callback(world, sms, "undelivered", "30003")
    [resend] = world.retries.scheduled  # scheduled before the erasure
    erase(world, params["MessageSid"])
    to_provider = len(world.sent_to(PROVIDER.phone))

    world.services.failures.resend(resend)
    assert callback(world, sms, "failed", "30007")["statusCode"] == 200

    assert world.sent_to(OLIVIA.phone) == [sms] and len(world.sent_to(PROVIDER.phone)) == to_provider
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.forwarded == {} and record.body == ""


# ---- a crash between the send and the answer: the replay sends nothing twice
def test_a_replay_after_a_crash_between_the_send_and_the_answer_sends_nothing_twice(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    pool_number = open_lease(world)
    dies_after_the_send(world, monkeypatch)
    params, answer = webhook(world, PROVIDER.phone, pool_number, "Back at 6")
    assert answer["statusCode"] == 500  # Twilio calls the fallback URL
    monkeypatch.undo()

    assert replay(world, params)["batchItemFailures"]  # moments later: it may still be sending, retried
    world.clock.advance(seconds=31)
    assert replay(world, params) == {"batchItemFailures": []}
    assert replay(world, params) == {"batchItemFailures": []}  # an SQS redelivery

    assert [sms.body for sms in world.sent_to(OLIVIA.phone)] == ["Back at 6"]
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.outcome == "forwarded"
    assert list(record.forwarded) == [world.sent_to(OLIVIA.phone)[0].sid]


def test_a_crash_after_the_first_of_two_parts_sends_only_the_second_on_replay(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    dies(world, monkeypatch, after_sends=1)
    params, answer = webhook(world, OLIVIA.phone, RESERVED, "walk " * 318)  # with the name prefix: 2 parts
    assert answer["statusCode"] == 500
    monkeypatch.undo()
    assert len(world.sent_to(PROVIDER.phone)) == 1

    world.clock.advance(seconds=31)
    assert replay(world, params) == {"batchItemFailures": []}

    parts = world.sent_to(PROVIDER.phone)
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and len(record.planned) == 2
    assert [sms.body for sms in parts] == [part["body"] for part in record.planned]  # each part once
    assert parts[1].status_callback and parts[1].status_callback.endswith(f"{params['MessageSid']}.1")


def test_a_part_a_callback_named_is_not_looked_up_in_twilio_on_replay(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    pool_number = open_lease(world)
    dies_after_the_send(world, monkeypatch)
    params, _ = webhook(world, PROVIDER.phone, pool_number, "Named by its callback")
    monkeypatch.undo()
    [sms] = world.sent_to(OLIVIA.phone)
    callback(world, sms, "sent")
    lookups = len([r for r in world.sandbox.requests if r.method == "GET"])

    assert replay(world, params) == {"batchItemFailures": []}  # every part reported: a duplicate at once

    assert len([r for r in world.sandbox.requests if r.method == "GET"]) == lookups
    assert world.sent_to(OLIVIA.phone) == [sms]


def test_a_replay_of_a_lease_opening_message_keeps_its_planned_name_prefix(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    dies(world, monkeypatch, after_sends=0)  # dies before the send: the lease is open, nothing went out
    params, answer = webhook(world, OLIVIA.phone, RESERVED, "Is Rex ok?")
    assert answer["statusCode"] == 500 and world.sent_to(PROVIDER.phone) == []
    monkeypatch.undo()

    world.clock.advance(seconds=31)
    assert replay(world, params) == {"batchItemFailures": []}

    # routed again, it would be a message on an open lease: no prefix. It is delivered as planned.
    assert [sms.body for sms in world.sent_to(PROVIDER.phone)] == ["From Olivia Owner: Is Rex ok?"]


def test_a_taken_over_claim_is_not_matched_to_an_earlier_identical_text(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reviewer's defect 1: the same "ok" twice, 20 s apart; the webhook of the second dies
    after planning it. Its reconciliation must not count the first one's SMS as its own."""
    open_lease(world)
    webhook(world, OLIVIA.phone, RESERVED, "ok")
    [first] = [sms for sms in world.sent_to(PROVIDER.phone) if sms.body.endswith("ok")]
    world.clock.advance(seconds=20)
    dies(world, monkeypatch, after_sends=0)
    params, answer = webhook(world, OLIVIA.phone, RESERVED, "ok")
    assert answer["statusCode"] == 500
    monkeypatch.undo()

    world.clock.advance(seconds=31)
    assert replay(world, params) == {"batchItemFailures": []}

    later = [sms for sms in world.sent_to(PROVIDER.phone) if sms.body.endswith("ok")]
    assert [sms.body for sms in later] == [first.body, first.body]  # the second "ok" is delivered, once
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.outcome == "forwarded" and list(record.forwarded) == [later[1].sid]


# ---- a repeat at the webhook while the claim is fresh: answered 200, checked once stale
def test_a_repeat_of_a_fresh_planned_claim_is_answered_200_and_checked_once_stale(world: World) -> None:
    params, _ = webhook(world, OLIVIA.phone, RESERVED, "Is Rex ok?")
    [sms] = world.sent_to(PROVIDER.phone)
    lookups = len([r for r in world.sandbox.requests if r.method == "GET"])

    again = handle_sms_webhook(signed_event(SMS_URL, params), world.services)

    assert again["statusCode"] == 200 and world.sent_to(PROVIDER.phone) == [sms]
    [(check, delay)] = world.forwards.parked
    assert check.unconfirmed and 30 <= delay <= 40
    callback(world, sms, "sent")  # Twilio names the part meanwhile
    world.run_parked()
    assert world.sent_to(PROVIDER.phone) == [sms]  # nothing sent twice, and no look-up needed
    assert len([r for r in world.sandbox.requests if r.method == "GET"]) == lookups
    record = world.store.get_message(params["MessageSid"])
    assert record is not None and record.outcome == "forwarded" and list(record.forwarded) == [sms.sid]
    assert "Forwarded after retry" not in [r.fields.get("Event") for r in world.outbox.records if r.kind == "audit"]


def test_a_repeat_of_a_claim_whose_invocation_died_before_sending_delivers_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    dies(world, monkeypatch, after_sends=0)
    params, answer = webhook(world, OLIVIA.phone, RESERVED, "Walk at 5?")
    assert answer["statusCode"] == 500
    monkeypatch.undo()

    # Twilio retried at the webhook (a retry policy on the URL) instead of the fallback
    assert handle_sms_webhook(signed_event(SMS_URL, params), world.services)["statusCode"] == 200
    assert world.sent_to(PROVIDER.phone) == []
    world.run_parked()  # once the claim is stale: looked up in Twilio, not found, sent

    assert [sms.body for sms in world.sent_to(PROVIDER.phone)] == ["From Olivia Owner: Walk at 5?"]


# ---- refs
def test_refs_name_the_part_and_a_resend_drops_it() -> None:
    sid = "SM" + "a" * 32
    assert parse_ref(f"{sid}.0") == (sid, "forward", 0)
    assert parse_ref(f"{sid}.12") == (sid, "forward", 12)
    assert parse_ref(sid) == (sid, "forward", None)
    assert parse_ref(f"{sid}.system") == (sid, "system", None)
    assert parse_ref(f"{sid}.123") is None and parse_ref(f"{sid}.") is None
    assert without_part(f"https://h/dev/twilio/sms/status/{sid}.1") == f"https://h/dev/twilio/sms/status/{sid}"
    assert without_part(f"https://h/dev/twilio/sms/status?ref={sid}.1") == f"https://h/dev/twilio/sms/status?ref={sid}"
    assert without_part(f"https://h/dev/twilio/sms/status/{sid}.alert") == f"https://h/dev/twilio/sms/status/{sid}.alert"
