"""Delivery status callbacks and failures: one timed resend, provider and owner alerts.

tests/integration/test_delivery_failures_dynamo.py runs these on DynamoDB (moto).
"""

from __future__ import annotations

from masking.handlers.sms import handle_sms_webhook, handle_status_webhook
from tests.support import API_HOST, OLIVIA, PROVIDER, World, signed_event

RESERVED = PROVIDER.reserved_number or ""


def provider_to_client(world: World, body: str = "Rex is fine") -> tuple[str, str]:
    """Opens a lease and forwards a provider reply; returns (inbound sid, outbound sid)."""
    handle_sms_webhook(world.sms_event(OLIVIA.phone, RESERVED, "hi"), world.services)
    pool_number = world.sandbox.sent[-1].from_number
    event = world.sms_event(PROVIDER.phone, pool_number, body)
    handle_sms_webhook(event, world.services)
    inbound = event["body"].split("MessageSid=")[1].split("&")[0]
    return inbound, world.sandbox.sent[-1].sid


def status(world: World, ref: str, outbound_sid: str, state: str, code: str = "", signature: str | None = None) -> dict:
    """Twilio's status callback for ``outbound_sid``, on the ref it was sent with (a forward's
    part: ``<MessageSid>.<index>``); ``ref`` for a SID we never sent."""
    sent_with = next((sms.status_callback for sms in world.sandbox.sent if sms.sid == outbound_sid and sms.status_callback), None)
    if sent_with:
        ref = sent_with.split("ref=")[1] if "ref=" in sent_with else sent_with.rsplit("/", 1)[1]
    params = {"MessageSid": outbound_sid, "MessageStatus": state, "AccountSid": "AC" + "0" * 32}
    if code:
        params["ErrorCode"] = code
    event = signed_event(f"https://{API_HOST}/twilio/sms/status?ref={ref}", params, signature=signature)
    return handle_status_webhook(event, world.services)


def audits(world: World) -> list[str]:
    return [str(r.fields["Event"]) for r in world.outbox.records if r.kind == "audit"]


def test_temporary_error_gets_exactly_one_delayed_resend(world: World) -> None:
    ref, sid = provider_to_client(world)

    status(world, ref, sid, "undelivered", "30003")
    status(world, ref, sid, "undelivered", "30003")  # repeated callback

    [resend] = world.retries.scheduled
    assert (resend.message_sid, resend.outbound_sid) == (ref, sid)
    assert resend.status_callback.endswith(f"/dev/twilio/sms/status?ref={ref}")
    assert "Resend scheduled" in audits(world)

    world.services.failures.resend(resend)
    world.services.failures.resend(resend)  # the queue redelivered it

    resent = [s for s in world.sandbox.sent if s.to_phone == OLIVIA.phone]
    assert [s.body for s in resent] == ["Rex is fine", "Rex is fine"]
    assert resent[-1].from_number == RESERVED and resent[-1].status_callback == resend.status_callback


def test_a_resend_that_fails_again_is_permanent_and_never_resent(world: World) -> None:
    ref, sid = provider_to_client(world)
    status(world, ref, sid, "failed", "30003")
    world.services.failures.resend(world.retries.scheduled[0])
    second = world.sandbox.sent[-1].sid

    status(world, ref, second, "undelivered", "30003")

    assert len(world.retries.scheduled) == 1
    alert = world.sandbox.sent[-1]
    assert (alert.from_number, alert.to_phone) == (RESERVED, PROVIDER.phone)
    assert alert.body == "Your message to Olivia Owner was not delivered (Twilio error 30003)."


def test_permanent_error_alerts_the_provider_and_counts_on_the_client(world: World) -> None:
    ref, sid = provider_to_client(world)

    response = status(world, ref, sid, "undelivered", "30007")

    assert response["statusCode"] == 200 and response["body"].endswith("<Response/>")
    assert world.retries.scheduled == []
    alert = world.sandbox.sent[-1]
    assert alert.to_phone == PROVIDER.phone and "Olivia Owner" in alert.body and "30007" in alert.body
    errors = [r.fields["Twilio Error Count"] for r in world.outbox.records if r.kind == "client" and "Twilio Error Count" in r.fields]
    assert errors == [1]
    failed = next(r for r in world.outbox.records if r.fields.get("Event") == "Delivery failed")
    assert failed.fields["Category"] == "Delivery Error" and failed.fields["Severity"] == "Error"
    message = [r for r in world.outbox.records if r.kind == "message" and r.key == ref][-1]
    assert message.fields == {"Twilio Status": "undelivered", "Twilio Error Code": "30007", "Status": "undelivered"}


def test_a_failed_message_to_the_provider_is_audited_without_texting_them(world: World) -> None:
    event = world.sms_event(OLIVIA.phone, RESERVED, "hello")
    handle_sms_webhook(event, world.services)
    ref = event["body"].split("MessageSid=")[1].split("&")[0]
    sent_before = len(world.sandbox.sent)

    status(world, ref, world.sandbox.sent[-1].sid, "failed", "30006")

    assert len(world.sandbox.sent) == sent_before
    assert "Delivery failed" in audits(world)


def test_more_than_five_permanent_failures_in_24_hours_alert_the_owner_once(world: World) -> None:
    for _ in range(7):
        ref, sid = provider_to_client(world, body="x")
        status(world, ref, sid, "undelivered", "30007")
        world.clock.advance(minutes=30)

    assert len(world.alerts.published) == 1
    subject, text = world.alerts.published[0]
    assert "delivery failures" in subject and "6 messages" in text
    assert audits(world).count("Owner alerted") == 1

    world.clock.advance(hours=24)
    for _ in range(6):
        ref, sid = provider_to_client(world, body="y")
        status(world, ref, sid, "failed", "30007")
    assert len(world.alerts.published) == 2


def test_five_failures_do_not_alert_the_owner(world: World) -> None:
    for _ in range(5):
        ref, sid = provider_to_client(world, body="x")
        status(world, ref, sid, "undelivered", "30007")

    assert world.alerts.published == []


def test_statuses_never_move_backwards_and_repeat_nothing(world: World) -> None:
    ref, sid = provider_to_client(world)

    status(world, ref, sid, "sent")
    status(world, ref, sid, "delivered")
    status(world, ref, sid, "sent")
    status(world, ref, sid, "delivered")
    status(world, ref, sid, "undelivered", "30003")  # a terminal status after delivered: ignored

    record = world.store.get_message(ref)
    assert record and record.delivery[sid]["status"] == "delivered"
    updates = [r.fields["Twilio Status"] for r in world.outbox.records if r.kind == "message" and r.key == ref and "Body" not in r.fields]
    assert updates == ["sent", "delivered"]
    assert world.retries.scheduled == []


def test_forged_status_callback_is_403_and_changes_nothing(world: World) -> None:
    ref, sid = provider_to_client(world)
    records_before = len(world.outbox.records)

    response = status(world, ref, sid, "failed", "30003", signature="Zm9yZ2Vk")

    assert response["statusCode"] == 403
    assert world.retries.scheduled == [] and len(world.outbox.records) == records_before


def test_callback_for_an_unknown_message_changes_nothing(world: World) -> None:
    response = status(world, "SM" + "9" * 32, "SM" + "8" * 32, "failed", "30007")

    assert response["statusCode"] == 200
    assert world.outbox.records == [] and world.sandbox.sent == []
