"""SMS routing, through the webhook handler, on whatever store ``world`` gives.

tests/integration/test_sms_routing_dynamo.py runs these same tests on DynamoDB (moto).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from masking.core.models import InboundSms
from masking.handlers.sms import handle_sms_webhook
from masking.messaging.protection import REUSE_NOTICE
from masking.store.memory import MemoryRoutingStore
from tests.support import OLIVIA, OTHER_PROVIDER, PETE, POOL, PROVIDER, World, signed_event

RESERVED = PROVIDER.reserved_number
assert RESERVED


def send(world: World, from_phone: str, to_number: str, body: str, **kwargs) -> dict:
    response = handle_sms_webhook(world.sms_event(from_phone, to_number, body, **kwargs), world.services)
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"] == "text/xml"
    assert response["body"].endswith("<Response/>")
    return response


def test_client_message_is_forwarded_from_a_pool_number_with_the_name_prefix(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "Is Rex OK?")

    [sms] = world.sandbox.sent
    assert sms.to_phone == PROVIDER.phone
    assert sms.from_number in POOL
    assert sms.body == "From Olivia Owner: Is Rex OK?"
    assert sms.status_callback is not None and "/dev/twilio/sms/status/SM" in sms.status_callback


def test_second_message_has_no_prefix_and_keeps_the_pool_number(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "one")
    send(world, OLIVIA.phone, RESERVED, "two")

    first, second = world.sandbox.sent
    assert second.body == "two"
    assert second.from_number == first.from_number


def test_provider_reply_reaches_the_client_from_the_reserved_number(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "Is Rex OK?")
    pool_number = world.sandbox.sent[0].from_number

    send(world, PROVIDER.phone, pool_number, "Rex is great 🐶")

    reply = world.sandbox.sent[-1]
    assert (reply.from_number, reply.to_phone, reply.body) == (RESERVED, OLIVIA.phone, "Rex is great 🐶")


def test_each_client_of_a_provider_gets_its_own_pool_number(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "hi from Olivia")
    send(world, PETE.phone, RESERVED, "hi from Pete")

    olivia, pete = world.sandbox.sent
    assert olivia.from_number != pete.from_number


def test_pool_numbers_are_unique_per_provider_not_globally(world: World) -> None:
    assert OTHER_PROVIDER.reserved_number
    send(world, OLIVIA.phone, RESERVED, "to Sam")
    send(world, PETE.phone, OTHER_PROVIDER.reserved_number, "to Kim")

    to_sam, to_kim = world.sandbox.sent
    assert to_sam.from_number == to_kim.from_number == POOL[0]
    assert (to_sam.to_phone, to_kim.to_phone) == (PROVIDER.phone, OTHER_PROVIDER.phone)


def test_prefix_policies(world: World) -> None:
    world.router.settings = replace(world.router.settings, prefix_policy="always")
    send(world, OLIVIA.phone, RESERVED, "a")
    send(world, OLIVIA.phone, RESERVED, "b")
    world.router.settings = replace(world.router.settings, prefix_policy="never")
    send(world, PETE.phone, RESERVED, "c")

    assert [s.body for s in world.sandbox.sent] == ["From Olivia Owner: a", "From Olivia Owner: b", "c"]


def test_unknown_client_is_created_and_forwarded(world: World) -> None:
    stranger = "+13035550999"
    send(world, stranger, RESERVED, "Hello, I found your number")

    [sms] = world.sandbox.sent
    assert sms.body == "From New client: Hello, I found your number"
    kinds = [(r.kind, r.fields.get("Event")) for r in world.outbox.records]
    assert ("client", None) in kinds
    assert ("audit", "Client created") in kinds


def test_lease_expires_after_idle_ttl_and_provider_is_told(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "hi")
    pool_number = world.sandbox.sent[0].from_number
    world.clock.advance(days=14, seconds=1)

    send(world, PROVIDER.phone, pool_number, "still there?")

    reply = world.sandbox.sent[-1]
    assert reply.to_phone == PROVIDER.phone and reply.from_number == pool_number
    assert "expired" in reply.body
    assert not world.sent_to(OLIVIA.phone)
    assert any(r.fields.get("Event") == "Expired lease" for r in world.outbox.records)


def test_activity_extends_the_lease(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "hi")
    pool_number = world.sandbox.sent[0].from_number
    world.clock.advance(days=10)
    send(world, PROVIDER.phone, pool_number, "day 10")
    world.clock.advance(days=10)

    send(world, PROVIDER.phone, pool_number, "day 20")

    assert [s.body for s in world.sent_to(OLIVIA.phone)] == ["day 10", "day 20"]


def test_pair_gets_its_pool_number_back_after_expiry(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "hi")
    first = world.sandbox.sent[0].from_number
    world.clock.advance(days=30)

    send(world, OLIVIA.phone, RESERVED, "back again")

    again = world.sandbox.sent[-1]
    assert again.from_number == first
    assert again.body == "From Olivia Owner: back again"


def test_expired_pool_number_goes_to_another_client_when_the_pool_is_full(world: World) -> None:
    small = make_small_pool(world, 1)
    send(world, OLIVIA.phone, RESERVED, "hi")
    world.clock.advance(days=15)

    send(world, PETE.phone, RESERVED, "my turn")

    assert world.sandbox.sent[-1].from_number == small[0]
    # Olivia's lease ended a day ago (inside the 7-day cool-off): the provider is told once
    assert world.sandbox.sent[-1].body == f"{REUSE_NOTICE.format(client='Pete Parent')}From Pete Parent: my turn"


def make_small_pool(world: World, size: int) -> list[str]:
    from masking.core.models import Lifecycle, NumberRecord, NumberStatus

    for number in POOL[size:]:
        world.store.put_number(NumberRecord(number=number, lifecycle=Lifecycle.POOL, status=NumberStatus.FAILED))
    return POOL[:size]


def test_pool_exhausted_still_delivers_from_the_reserved_number(world: World) -> None:
    make_small_pool(world, 1)
    send(world, OLIVIA.phone, RESERVED, "first")

    send(world, PETE.phone, RESERVED, "no pool number left")

    sms = world.sandbox.sent[-1]
    assert (sms.from_number, sms.to_phone) == (RESERVED, PROVIDER.phone)
    assert sms.body == "From Pete Parent: no pool number left"
    [critical] = [r for r in world.outbox.records if r.fields.get("Event") == "Pool exhausted"]
    assert critical.fields["Severity"] == "Critical" and critical.fields["Category"] == "Pool"


def test_a_delivery_from_the_reserved_number_says_why_in_its_outcome(world: World) -> None:
    """Pool exhausted and the new-contact limit (test_privacy) both send through
    SmsRouter._send_claimed: forwarded_<why>, or <why>_undeliverable without a reserved number."""
    make_small_pool(world, 1)
    send(world, OLIVIA.phone, RESERVED, "first")

    sent = world.router.route(InboundSms("SM" + "1" * 32, PETE.phone, RESERVED, "no pool number left"))
    world.store.put_provider(replace(PROVIDER, reserved_number=None))
    lost = world.router.route(InboundSms("SM" + "2" * 32, PETE.phone, RESERVED, "and no reserved number"))

    assert (sent.outcome, sent.direction, len(sent.sent)) == ("forwarded_pool_exhausted", "client_to_provider", 1)
    assert (lost.outcome, lost.direction, lost.sent) == ("pool_exhausted_undeliverable", "client_to_provider", [])


def test_replayed_message_sid_forwards_once(world: World) -> None:
    event = world.sms_event(OLIVIA.phone, RESERVED, "only once")
    handle_sms_webhook(event, world.services)
    handle_sms_webhook(event, world.services)

    assert len(world.sandbox.sent) == 1


def test_forged_or_missing_signature_is_rejected_and_nothing_is_sent(world: World) -> None:
    params = world.sms_params(OLIVIA.phone, RESERVED, "forged")
    forged = signed_event("https://abc123.execute-api.us-east-1.amazonaws.com/twilio/sms", params, signature="bm90IGEgc2lnbmF0dXJl")
    missing = dict(forged, headers={k: v for k, v in forged["headers"].items() if k != "X-Twilio-Signature"})
    tampered = world.sms_event(OLIVIA.phone, RESERVED, "original")
    tampered["body"] = tampered["body"].replace("original", "tampered")

    for event in (forged, missing, tampered):
        response = handle_sms_webhook(event, world.services)
        assert response["statusCode"] == 403
        assert '"success": false' in response["body"]
    assert world.sandbox.sent == []
    assert world.outbox.records == []


def test_malformed_but_signed_webhooks_get_empty_twiml_and_send_nothing(world: World) -> None:
    bad = [
        {"MessageSid": "SMx", "From": "not-a-number", "To": RESERVED, "Body": "x"},
        {"From": OLIVIA.phone, "To": RESERVED, "Body": "no sid"},
        {"MessageSid": "SM1", "From": OLIVIA.phone, "To": RESERVED, "Body": "x", "NumMedia": "two"},
        {"MessageSid": "SM2", "From": OLIVIA.phone, "To": RESERVED, "Body": "x", "NumMedia": "1"},
        {"MessageSid": "SM3", "From": OLIVIA.phone, "To": RESERVED, "Body": "x", "NumMedia": "1", "MediaUrl0": "file:///etc/passwd"},
    ]
    for params in bad:
        response = handle_sms_webhook(signed_event("https://abc123.execute-api.us-east-1.amazonaws.com/twilio/sms", params), world.services)
        assert response["statusCode"] == 200
        assert response["body"].endswith("<Response/>")
    assert world.sandbox.sent == []
    assert all(r.fields["Event"] == "Malformed webhook" for r in world.outbox.records)


def test_unreadable_body_is_a_clear_400(world: World) -> None:
    event = world.sms_event(OLIVIA.phone, RESERVED, "x")
    event["isBase64Encoded"] = True
    event["body"] = "***not base64***"

    response = handle_sms_webhook(event, world.services)

    assert response["statusCode"] == 400
    assert "unreadable" in response["body"]
    assert world.sandbox.sent == []


def test_stop_is_recorded_not_forwarded_and_start_reenables(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "hi")
    pool_number = world.sandbox.sent[0].from_number

    send(world, OLIVIA.phone, RESERVED, "Stop")
    send(world, PROVIDER.phone, pool_number, "are you there?")

    assert len(world.sent_to(PROVIDER.phone)) == 2  # the first message + the "opted out" notice
    assert "opted out" in world.sent_to(PROVIDER.phone)[-1].body
    assert world.sent_to(OLIVIA.phone) == []
    events = [r.fields.get("Event") for r in world.outbox.records]
    assert "Client opted out" in events

    send(world, OLIVIA.phone, RESERVED, "START")
    send(world, PROVIDER.phone, pool_number, "welcome back")

    assert [s.body for s in world.sent_to(OLIVIA.phone)] == ["welcome back"]
    assert "Client opted in" in [r.fields.get("Event") for r in world.outbox.records]


def test_yes_is_an_opt_in_only_after_a_stop(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "Can you walk Rex at 5?")
    send(world, OLIVIA.phone, RESERVED, "yes")

    assert world.sandbox.sent[-1].body == "yes"


def test_help_is_answered_and_not_forwarded(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "HELP")

    [reply] = world.sandbox.sent
    assert (reply.from_number, reply.to_phone) == (RESERVED, OLIVIA.phone)
    assert "STOP" in reply.body and PROVIDER.name in reply.body


def test_unknown_sender_on_a_pool_number_is_audited_and_nothing_sent(world: World) -> None:
    send(world, "+13035550777", POOL[0], "who is this?")

    assert world.sandbox.sent == []
    [audit] = [r for r in world.outbox.records if r.kind == "audit"]
    assert audit.fields["Event"] == "Message from unknown sender"


def test_message_to_a_number_we_do_not_own_is_audited(world: World) -> None:
    send(world, OLIVIA.phone, "+17205559999", "hello?")

    assert world.sandbox.sent == []
    assert [r.fields["Event"] for r in world.outbox.records] == ["Message to unknown number"]


def test_provider_texting_own_reserved_number_is_told_how_to_reply(world: World) -> None:
    send(world, PROVIDER.phone, RESERVED, "testing")

    [reply] = world.sandbox.sent
    assert reply.to_phone == PROVIDER.phone and "own masked number" in reply.body


def test_quotes_braces_and_formula_syntax_are_harmless(world: World) -> None:
    hostile = '=HYPERLINK("http://x","y") {{name}} {0} %s \'; DROP TABLE -- <Response><Dial>+1</Dial></Response>'
    world.store.put_client(type(OLIVIA)(client_id="cl-hostile", name='O\'Brien "{x}" =1+1', phone="+13035550299"))

    response = send(world, "+13035550299", RESERVED, hostile)

    assert response["body"].endswith("<Response/>")
    [sms] = world.sandbox.sent
    assert sms.body == f'From O\'Brien "{{x}}" =1+1: {hostile}'
    message = next(r for r in world.outbox.records if r.kind == "message")
    assert message.fields["Body"] == hostile


def test_emoji_and_1600_character_bodies_arrive_intact(world: World) -> None:
    body = ("🐶🐱 caf\u00e9 " * 200)[:1180]
    body += "x" * (1600 - sum(2 if ord(c) > 0xFFFF else 1 for c in body))  # exactly Twilio's 1600 UTF-16 units
    send(world, OLIVIA.phone, RESERVED, body)

    parts = world.sandbox.sent
    assert len(parts) == 2  # the prefix pushed it past Twilio's limit: split, nothing lost
    assert "".join(p.body for p in parts) == "From Olivia Owner: " + body
    assert all(sum(2 if ord(c) > 0xFFFF else 1 for c in p.body) <= 1600 for p in parts)

    send(world, PROVIDER.phone, parts[0].from_number, body)
    [reply] = world.sent_to(OLIVIA.phone)
    assert reply.body == body


def test_mms_with_two_images_arrives_with_both_both_ways(world: World) -> None:
    media = [
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
    ]
    send(world, OLIVIA.phone, RESERVED, "Rex at the park", media=media)
    pool_number = world.sandbox.sent[0].from_number
    send(world, PROVIDER.phone, pool_number, "", media=media[::-1])

    to_provider, to_client = world.sandbox.sent
    assert to_provider.media_urls == media
    assert to_client.media_urls == media[::-1] and to_client.to_phone == OLIVIA.phone


def test_forwarded_message_is_mirrored_on_the_outbox(world: World) -> None:
    send(world, OLIVIA.phone, RESERVED, "hi")

    message = next(r for r in world.outbox.records if r.kind == "message")
    assert message.fields["Sender Type"] == "client"
    assert message.fields["Proxy Number"] == world.sandbox.sent[0].from_number
    assert message.fields["Sitter"] == PROVIDER.provider_id
    client = next(r for r in world.outbox.records if r.kind == "client")
    assert client.fields["Last Active"]
    assert world.outbox.publishes == 1


def test_a_transient_twilio_failure_parks_the_forward_instead_of_dropping_it(world: World) -> None:
    """Issue 13, measured: a Twilio 500 answered 200 and lost the message (and released the
    MessageSid for a retry Twilio never sends). Now it is parked and delivered once."""
    world.sandbox.fail_next(20500)
    event = world.sms_event(OLIVIA.phone, RESERVED, "hello")
    handle_sms_webhook(event, world.services)
    assert world.sandbox.sent == []
    assert len(world.forwards.parked) == 1

    handle_sms_webhook(event, world.services)  # a replay of the same MessageSid
    world.run_parked()

    assert [s.body for s in world.sandbox.sent] == ["From Olivia Owner: hello"]


def run_together(*calls) -> None:
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call):
        try:
            barrier.wait()
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_two_concurrent_first_messages_from_different_clients_get_different_pool_numbers(world: World) -> None:
    for _ in range(10):
        events = [world.sms_event(c.phone, RESERVED, f"hi from {c.name}") for c in (OLIVIA, PETE)]
        run_together(*(lambda e=e: handle_sms_webhook(e, world.services) for e in events))
        olivia, pete = world.sent_to(PROVIDER.phone)[-2:]
        assert olivia.from_number != pete.from_number
        world.clock.advance(days=15)  # expire both, go again


def test_one_new_client_sending_twice_at_once_gets_one_lease(world: World) -> None:
    stranger = "+13035550888"
    events = [world.sms_event(stranger, RESERVED, f"message {i}") for i in range(2)]

    run_together(*(lambda e=e: handle_sms_webhook(e, world.services) for e in events))

    sent = world.sent_to(PROVIDER.phone)
    assert len(sent) == 2
    assert sent[0].from_number == sent[1].from_number
    opened = [r for r in world.outbox.records if r.fields.get("Event") == "Lease opened"]
    assert len(opened) == 1
    assert sum(1 for s in sent if s.body.startswith("From New client: ")) == 1


def test_memory_store_is_what_unit_tests_use(world: World) -> None:
    # guards the fixture wiring: this module runs on DynamoDB too, via integration tests
    assert isinstance(world.store, MemoryRoutingStore) or world.store.__class__.__name__ == "DynamoRoutingStore"
