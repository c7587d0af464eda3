"""Nothing lost, nothing twice: forwards under Twilio send faults (issue 13).

Each transient fault parks the forward (``masking.messaging.forwarding``) and the consumer
delivers it exactly once; ambiguous sends are reconciled; multipart bodies resume; after
the last attempt the sender, the audit log, the owner and the DLQ hear of it.
tests/integration/test_forwarding_dynamo.py runs these same tests on DynamoDB (moto).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from masking.core.models import OutboundSms
from masking.handlers.sms import handle_sms_webhook
from masking.messaging.forwarding import UNDELIVERED_TO_SENDER, ForwardBusy, ParkedForward
from masking.messaging.parts import parse_ref
from tests.support import OLIVIA, PETE, PROVIDER, World

RESERVED = PROVIDER.reserved_number or ""


def send(world: World, from_phone: str, to_number: str, body: str, **kwargs) -> str:
    """Posts one inbound SMS to the webhook; asserts the 200 with empty TwiML; returns its MessageSid."""
    params = world.sms_params(from_phone, to_number, body, **kwargs)
    from tests.support import SMS_URL, signed_event

    response = handle_sms_webhook(signed_event(SMS_URL, params), world.services)
    assert response["statusCode"] == 200 and response["body"].endswith("<Response/>"), response
    return params["MessageSid"]


def deliveries(world: World) -> Counter[tuple[str, str]]:
    """How often each (inbound MessageSid, part body) reached Twilio."""
    return Counter((parse_ref(s.status_callback.rsplit("/", 1)[1])[0], s.body) for s in world.sandbox.sent if s.status_callback)


def audits(world: World) -> list[str]:
    return [str(r.fields["Event"]) for r in world.outbox.records if r.kind == "audit"]


@pytest.mark.parametrize("fault", ["429", "500", "503", "connection", "read_timeout"])
def test_each_transient_fault_leads_to_exactly_one_delivery(world: World, fault: str) -> None:
    world.sandbox.fail_next_send(fault)
    sid = send(world, OLIVIA.phone, RESERVED, "my dog is sick, please come")

    assert world.sandbox.sent == []
    [(parked, delay)] = world.forwards.parked
    assert delay == 15 and parked.ambiguous == (fault in ("500", "connection", "read_timeout"))
    assert world.store.get_message(sid).outcome == "parked"  # type: ignore[union-attr]
    world.run_parked()

    [sms] = world.sandbox.sent
    assert (sms.to_phone, sms.body) == (PROVIDER.phone, "From Olivia Owner: my dog is sick, please come")
    assert sms.status_callback and sms.status_callback.endswith(f"/twilio/sms/status/{sid}.0")  # part 0
    assert world.store.get_message(sid).outcome == "forwarded"  # type: ignore[union-attr]
    assert sms.sid in world.store.get_message(sid).forwarded  # type: ignore[union-attr]
    message_rows = [r for r in world.outbox.records if r.kind == "message" and r.key == sid]
    assert message_rows and message_rows[-1].fields["Forwarded SIDs"] == [sms.sid]
    assert "Forwarding delayed" in audits(world) and "Forwarded after retry" in audits(world)


def test_a_provider_reply_is_parked_and_delivered_once(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "hi")
    pool_number = world.sandbox.sent[-1].from_number
    world.sandbox.fail_next_send("503", times=2)

    sid = send(world, PROVIDER.phone, pool_number, "On my way")
    world.run_parked()

    assert deliveries(world)[(sid, "On my way")] == 1
    assert world.sent_to(OLIVIA.phone)[-1].from_number == RESERVED


def test_a_multipart_body_that_failed_on_part_two_resumes_at_part_two(world: World) -> None:
    # 1,600 characters (Twilio's inbound limit), 3,200 UTF-16 units: 3 parts with the prefix
    body = "🐶" * 1600
    world.sandbox.fail_next_send("connection", after=1)

    sid = send(world, OLIVIA.phone, RESERVED, body)
    assert len(world.sandbox.sent) == 1
    [(parked, _)] = world.forwards.parked
    assert len(parked.parts) == 3 and len(parked.sent) == 1
    world.run_parked()

    parts = world.sent_to(PROVIDER.phone)
    assert len(parts) == 3 and all(count == 1 for count in deliveries(world).values())
    assert "".join(p.body for p in parts) == "From Olivia Owner: " + body
    assert len(world.store.get_message(sid).forwarded) == 3  # type: ignore[union-attr]


def test_a_redelivered_queue_message_never_sends_a_part_twice(world: World) -> None:
    world.sandbox.fail_next_send("503")
    send(world, OLIVIA.phone, RESERVED, "once")
    [forward] = world.forwards.take()
    world.clock.advance(seconds=20)

    world.forwarding.process(forward)
    world.forwarding.process(forward)  # SQS delivered it again

    assert [s.body for s in world.sandbox.sent] == ["From Olivia Owner: once"]


def test_a_part_held_by_a_live_attempt_is_left_to_it(world: World) -> None:
    world.sandbox.fail_next_send("503")
    sid = send(world, OLIVIA.phone, RESERVED, "busy")
    [forward] = world.forwards.take()
    world.clock.advance(seconds=20)
    now = int(world.clock().timestamp())
    assert world.store.claim_forward_part(sid, 0, "other-attempt", now, now - 120).status == "claimed"

    with pytest.raises(ForwardBusy):
        world.forwarding.process(forward)
    assert world.sandbox.sent == []

    world.clock.advance(seconds=121)  # that attempt died: its claim is taken over, after a look-up
    world.forwarding.process(forward)
    assert [s.body for s in world.sandbox.sent] == ["From Olivia Owner: busy"]


def test_a_permanent_refusal_is_not_retried_and_the_sender_is_told(world: World) -> None:
    world.sandbox.fail_next(21610)  # the provider opted out at Twilio
    sid = send(world, OLIVIA.phone, RESERVED, "hello?")

    assert world.forwards.parked == []
    [notice] = world.sandbox.sent
    assert (notice.from_number, notice.to_phone, notice.body) == (RESERVED, OLIVIA.phone, UNDELIVERED_TO_SENDER)
    assert world.store.get_message(sid).outcome == "send_failed"  # type: ignore[union-attr]
    assert "Forwarding failed" in audits(world)
    assert world.alerts.published == [] and world.forwards.dead == []


def test_a_permanent_refusal_on_a_retry_gives_up_without_more_attempts(world: World) -> None:
    world.sandbox.fail_next_send("429")
    sid = send(world, OLIVIA.phone, RESERVED, "hello?")
    world.sandbox.fail_next(21211)
    world.run_parked()

    assert [s.body for s in world.sandbox.sent] == [UNDELIVERED_TO_SENDER]
    assert world.forwards.parked == [] and world.store.get_message(sid).outcome == "undeliverable"  # type: ignore[union-attr]


def test_after_the_last_attempt_the_sender_owner_audit_and_dlq_hear_of_it(world: World) -> None:
    world.sandbox.fail_next_send("503", times=6)  # the webhook's attempt and all 5 retries
    sid = send(world, OLIVIA.phone, RESERVED, "lost?")
    world.run_parked()

    assert [s.body for s in world.sandbox.sent] == [UNDELIVERED_TO_SENDER]
    assert world.sandbox.sent[0].to_phone == OLIVIA.phone
    [dead] = world.forwards.dead
    assert dead.message_sid == sid and dead.attempt == 6
    [(subject, text)] = world.alerts.published
    assert "could not be delivered" in subject and OLIVIA.phone not in text and "lost?" not in text
    critical = [r for r in world.outbox.records if r.fields.get("Event") == "Message not delivered"]
    assert critical and critical[0].fields["Severity"] == "Critical"
    assert world.store.get_message(sid).outcome == "undeliverable"  # type: ignore[union-attr]
    world.forwarding.process(dead)  # a duplicate of the last queue message gives up only once
    assert len(world.alerts.published) == 1 and len(world.sandbox.sent) == 1


def test_the_waits_follow_the_backoff(world: World) -> None:
    world.sandbox.fail_next_send("503", times=3)
    send(world, OLIVIA.phone, RESERVED, "backoff")
    delays = []
    for _ in range(3):
        delays += [delay for _, delay in world.forwards.parked]
        world.run_parked(rounds=1)
    assert delays == [15, 60, 300]
    assert len(world.sandbox.sent) == 1


def test_a_wait_longer_than_sqs_allows_is_requeued_until_due(world: World) -> None:
    world.sandbox.fail_next_send("503")
    send(world, OLIVIA.phone, RESERVED, "later")
    [forward] = world.forwards.take()
    due = replace(forward, not_before=int(world.clock().timestamp()) + 7200)

    assert world.forwarding.process(due) == []
    [(requeued, delay)] = world.forwards.parked
    assert delay == 900 and requeued.not_before == due.not_before and world.sandbox.sent == []


def test_a_connection_error_on_a_new_clients_first_message_keeps_the_lease_and_the_prefix_once(world: World) -> None:
    """Issue 13, measured: the lease stayed open and the next message came without the prefix."""
    stranger = "+13035550777"
    world.sandbox.fail_next_send("connection")
    send(world, stranger, RESERVED, "first")
    send(world, stranger, RESERVED, "second")  # before the retry
    world.run_parked()

    to_provider = world.sent_to(PROVIDER.phone)
    assert sorted(s.body for s in to_provider) == ["From New client: first", "second"]
    assert len({s.from_number for s in to_provider}) == 1  # one lease, one pool number
    assert sum(1 for s in to_provider if s.body.startswith("From ")) == 1


@pytest.mark.parametrize("fault", ["accepted_lost", "accepted_500"])
def test_an_accepted_then_failed_send_is_reconciled_not_duplicated(world: World, fault: str) -> None:
    """Issue 13, measured: Twilio had it, but there was no mirror row and no outbound SID."""
    world.sandbox.fail_next_send(fault)
    sid = send(world, OLIVIA.phone, RESERVED, "did it arrive?")
    [accepted] = world.sandbox.sent
    world.run_parked()

    assert [s.sid for s in world.sandbox.sent] == [accepted.sid]  # looked up, not sent again
    record = world.store.get_message(sid)
    assert record is not None and record.outcome == "forwarded" and accepted.sid in record.forwarded
    row = [r for r in world.outbox.records if r.kind == "message" and r.key == sid][-1]
    assert row.fields["Forwarded SIDs"] == [accepted.sid]


def test_a_lookup_does_not_match_an_older_identical_message(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "same words")
    world.clock.advance(hours=1)
    world.sandbox.fail_next_send("read_timeout")  # nothing reached Twilio this time
    send(world, OLIVIA.phone, RESERVED, "same words")
    world.run_parked()

    assert [s.body for s in world.sent_to(PROVIDER.phone)] == ["From Olivia Owner: same words", "same words"]


def test_the_webhook_parks_the_remaining_parts_when_its_time_budget_is_used(world: World) -> None:
    world.forwarding.settings = replace(world.forwarding.settings, hot_path_budget_seconds=0)
    body = " ".join(f"word{i:04d}" for i in range(176))  # 1,583 characters: 2 parts with the prefix
    sid = send(world, OLIVIA.phone, RESERVED, body)
    assert len(world.sandbox.sent) == 1 and not world.forwards.parked[0][0].ambiguous
    world.run_parked()
    assert sum(deliveries(world).values()) == 2 and world.store.get_message(sid).outcome == "forwarded"  # type: ignore[union-attr]


def test_a_seeded_random_run_of_200_messages_delivers_each_exactly_once(world: World) -> None:
    rng = random.Random(1313)
    world.sandbox.set_send_faults(0.3, seed=13)
    expected: dict[str, str] = {}
    pool_of: dict[str, str] = {}
    for _ in range(200):
        client = rng.choice([OLIVIA, PETE])
        body = f"msg {rng.randrange(10**9)}"
        if client.phone in pool_of and rng.random() < 0.5:
            sid = send(world, PROVIDER.phone, pool_of[client.phone], body)
        else:
            sid = send(world, client.phone, RESERVED, body)
            delivered = [s for s in world.sent_to(PROVIDER.phone) if s.status_callback and s.status_callback.endswith(sid)]
            if delivered:
                pool_of[client.phone] = delivered[0].from_number
        expected[sid] = body
        world.clock.advance(seconds=rng.randrange(1, 30))
        if rng.random() < 0.2:
            world.run_parked(rounds=1)
    world.run_parked()

    counts = deliveries(world)
    delivered_sids = {sid for sid, _ in counts}
    assert delivered_sids == set(expected), f"lost: {set(expected) - delivered_sids}"
    assert all(count == 1 for count in counts.values()), [k for k, c in counts.items() if c > 1]
    assert sum(world.sandbox.faults_injected.values()) > 40
    assert world.forwards.dead == []


def test_the_timed_resend_runs_once_when_two_deliveries_race(world: World) -> None:
    """Issue 13, measured: two deliveries of the retry queue message both saw "pending"."""
    from tests.unit.test_delivery_failures import provider_to_client, status

    ref, sid = provider_to_client(world)
    status(world, ref, sid, "undelivered", "30003")
    [resend] = world.retries.scheduled
    racing: list[object] = []

    def second_delivery_during_the_send(sms: object) -> None:
        if not racing:
            racing.append(world.services.failures.resend(resend))

    world.sandbox._on_send = second_delivery_during_the_send  # the other delivery runs mid-send
    world.services.failures.resend(resend)

    assert racing == [[]]
    assert [s.body for s in world.sent_to(OLIVIA.phone)] == ["Rex is fine", "Rex is fine"]


def test_parked_forward_survives_the_queue_as_json(world: World) -> None:
    world.sandbox.fail_next_send("accepted_lost", after=1)
    media = f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Messages/MM{'1' * 32}/Media/ME{'1' * 32}"
    send(world, OLIVIA.phone, RESERVED, " ".join(["x" * 20] * 76), media=[media])  # 1,595 characters: 2 parts
    [(forward, _)] = world.forwards.parked
    copy = ParkedForward.from_json(forward.to_json())
    assert copy == forward and isinstance(copy.parts[0], OutboundSms) and copy.parts[0].media_urls == [media]


def test_a_forward_that_can_neither_be_sent_nor_parked_is_not_answered_200(world: World) -> None:
    """The webhook answers 200 only once the forward is durably parked."""

    def queue_down(forward: ParkedForward, delay_seconds: int) -> None:
        raise ConnectionError("SQS unreachable")

    world.forwards.park = queue_down  # type: ignore[method-assign]
    world.sandbox.fail_next_send("503")
    event = world.sms_event(OLIVIA.phone, RESERVED, "please come")

    answer = handle_sms_webhook(event, world.services)

    assert answer["statusCode"] == 500  # so Twilio calls the number's SmsFallbackUrl
    assert world.sandbox.sent == []
