"""Handover when a provider leaves with a successor, on DynamoDB (moto) with the Twilio
sandbox: the admin API and the domain call, the SMS and voice answers in both modes, the
standby keeper ending it after HandoverDays, and HandoverDays = 0 (Path C as before)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from local.apigw import api_gateway_event
from local.backends import DEMO_ADMIN_API_KEY
from masking.adapters.twilio_gateway import TwilioGateway
from masking.admin.context import AdminContext
from masking.admin.provisioning import remove_provider, rotate_number
from masking.admin.schedules import keep_standby
from masking.core.errors import NotFound, Unprocessable
from masking.core.handover import DEFAULT_HANDOVER_TEXT
from masking.core.models import Lifecycle, NumberRecord, NumberStatus, Provider
from masking.core.settings import InventorySettings, RoutingSettings, TwilioSettings
from masking.handlers.sms import handle_sms_webhook
from masking.store.admin import DynamoAdminStore
from masking.store.calls import DynamoCallStore
from tests.support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BASE,
    OLIVIA,
    OTHER_PROVIDER,
    PETE,
    PROVIDER,
    FakeLambdaContext,
    World,
    load_handler,
    make_world,
)
from tests.voice_support import VoiceWorld, dialed, make_voice_world, said, twiml_of, verbs

SAM, KIM = PROVIDER, OTHER_PROVIDER  # Sam leaves; Kim takes the clients over
OLD = SAM.reserved_number or ""
NEW = KIM.reserved_number or ""
STRANGER = "+13035550299"


@dataclass
class Handover:
    store: DynamoAdminStore
    sms: World
    voice: VoiceWorld
    admin: AdminContext

    def text(self, from_phone: str, body: str = "Hi Sam, are you free Friday?", to: str = OLD) -> dict[str, Any]:
        return handle_sms_webhook(self.sms.sms_event(from_phone, to, body), self.sms.services)

    def answers_to(self, phone: str) -> list[Any]:
        return [sms for sms in self.sms.sent_to(phone) if sms.from_number == OLD]

    def events(self) -> list[str]:
        self.sms.outbox.publish(self.admin.take_records())
        records = self.sms.outbox.records + self.voice.outbox.records
        return [str(r.fields["Event"]) for r in records if r.kind == "audit"]

    def mode(self, mode: str) -> None:
        self.sms.router.settings = replace(self.sms.router.settings, handover_mode=mode)  # type: ignore[arg-type]
        router = self.voice.services.router
        router.routing = replace(router.routing, handover_mode=mode)  # type: ignore[arg-type]


@pytest.fixture
def world(aws) -> Handover:
    table = aws.env["TABLE_NAME"]
    store = DynamoAdminStore(table)
    sms = make_world(store)
    voice = make_voice_world(DynamoCallStore(table))
    voice.services.router.clock = sms.clock
    admin = AdminContext(
        store=store,
        gateway=TwilioGateway.create(ACCOUNT_SID, AUTH_TOKEN, http_client=sms.sandbox),
        routing=RoutingSettings(),
        inventory=InventorySettings(),
        twilio=TwilioSettings(transport="sandbox"),
        clock=sms.clock,
    )
    return Handover(store, sms, voice, admin)


def handed_over(world: Handover) -> Provider:
    removed = remove_provider(world.admin, SAM.provider_id, KIM.provider_id)
    assert removed.status == "Inactive" and removed.reserved_number is None
    return removed


# ---------------------------------------------------------------- starting it


def test_removal_with_a_successor_holds_the_number_instead_of_standby(world: Handover) -> None:
    handed_over(world)

    number = world.store.get_number(OLD)
    assert number is not None and number.lifecycle == Lifecycle.HANDOVER and number.status == NumberStatus.READY
    assert (number.successor_id, number.successor_name, number.successor_number) == (KIM.provider_id, KIM.name, NEW)
    assert number.handover_until == int(world.sms.clock.now.timestamp()) + 30 * 86400
    assert world.store.list_numbers(Lifecycle.STANDBY) == []
    assert {"Handover started", "Provider removed"} <= set(world.events())
    [row] = [r for r in world.sms.outbox.records if r.kind == "number" and r.key == OLD]
    assert row.fields["Status"] == "Handover" and row.fields["Lifecycle"] == "Handover"


def test_a_bad_successor_is_refused_before_anything_changes(world: Handover) -> None:
    world.store.put_provider(Provider(provider_id="prov-new", name="Nell New", phone="+13035550150", reserved_number=None))
    with pytest.raises(NotFound):
        remove_provider(world.admin, SAM.provider_id, "prov-nobody")
    for successor, problem in ((SAM.provider_id, "their own successor"), ("prov-new", "no reserved number")):
        with pytest.raises(Unprocessable) as refused:
            remove_provider(world.admin, SAM.provider_id, successor)
        assert problem in refused.value.details[0]["problem"]
    remove_provider(world.admin, KIM.provider_id)  # Kim leaves first: an inactive successor
    with pytest.raises(Unprocessable, match="invalid successor"):
        remove_provider(world.admin, SAM.provider_id, KIM.provider_id)

    sam = world.store.get_provider(SAM.provider_id)
    assert sam is not None and sam.status == "Active" and sam.reserved_number == OLD
    number = world.store.get_number(OLD)
    assert number is not None and number.lifecycle == Lifecycle.RESERVED


def test_handover_days_zero_is_path_c_as_before(world: Handover) -> None:
    world.admin.routing = RoutingSettings(handover_days=0)

    handed_over(world)

    number = world.store.get_number(OLD)
    assert number is not None and number.lifecycle == Lifecycle.STANDBY and number.provider_id is None and number.successor_id is None
    world.text(OLIVIA.phone)
    assert world.answers_to(OLIVIA.phone) == []  # today's behaviour: nothing back, an audit row


# ---------------------------------------------------------------- notify (default)


def test_a_client_text_is_answered_from_the_old_number_naming_the_successor(world: Handover) -> None:
    handed_over(world)

    answer = world.text(OLIVIA.phone)

    assert answer["statusCode"] == 200
    [reply] = world.answers_to(OLIVIA.phone)
    assert reply.body == DEFAULT_HANDOVER_TEXT.format(name=KIM.name, number=NEW)
    assert len(reply.body) <= 160 and reply.body.isascii()  # one GSM-7 segment
    assert SAM.phone not in reply.body and KIM.phone not in reply.body
    assert world.sms.sent_to(KIM.phone) == [] and world.sms.sent_to(SAM.phone) == []  # nothing forwarded
    assert "Handover notice" in world.events()


def test_the_answer_reads_nothing_but_the_first_batch_get(world: Handover) -> None:
    handed_over(world)
    operations: list[str] = []
    world.store.client.meta.events.register("before-call.dynamodb", lambda model, **_: operations.append(model.name))

    world.text(OLIVIA.phone)

    assert len(world.answers_to(OLIVIA.phone)) == 1
    reads = [name for name in operations if name in ("GetItem", "BatchGetItem", "Query", "Scan")]
    assert reads == ["BatchGetItem"], operations  # the number, the sender's client and provider items


def test_one_answer_per_sender_and_day_so_two_bots_cannot_loop(world: Handover) -> None:
    handed_over(world)

    for _ in range(3):
        world.text(STRANGER, "Auto-reply: I am away")
    world.text(PETE.phone)

    assert len(world.answers_to(STRANGER)) == 1 and len(world.answers_to(PETE.phone)) == 1
    assert "Handover notice withheld" in world.events()
    world.sms.clock.advance(days=1)
    world.text(STRANGER, "Auto-reply: I am away")
    assert len(world.answers_to(STRANGER)) == 2


def test_stop_and_a_replayed_message_get_no_answer(world: Handover) -> None:
    handed_over(world)

    world.text(OLIVIA.phone, "STOP")
    assert world.answers_to(OLIVIA.phone) == []
    event = world.sms.sms_event(PETE.phone, OLD, "Hello?")
    handle_sms_webhook(event, world.sms.services)
    handle_sms_webhook(event, world.sms.services)  # Twilio retried the same MessageSid
    assert len(world.answers_to(PETE.phone)) == 1


def test_a_call_hears_the_successor_number_and_ends(world: Handover) -> None:
    handed_over(world)

    root = twiml_of(world.voice.call(OLIVIA.phone, OLD), hidden=(SAM.phone, KIM.phone))

    assert verbs(root) == ["Say", "Hangup"]
    assert KIM.name in said(root) and "7 2 0, 5 5 5, 0 0 0 2" in said(root)
    assert "Handover notice" in world.events()


# ---------------------------------------------------------------- forward


def test_forward_mode_delivers_the_text_to_the_successor_as_a_new_lease(world: Handover) -> None:
    world.mode("forward")
    handed_over(world)

    world.text(OLIVIA.phone, "Is Friday still on?")

    [forwarded] = world.sms.sent_to(KIM.phone)
    assert forwarded.body == f"From {OLIVIA.name}: Is Friday still on?" and forwarded.from_number != OLD
    _, pair = world.store.get_provider_and_pair(KIM.provider_id, OLIVIA.client_id)
    assert pair is not None and pair.pool_number == forwarded.from_number
    assert world.answers_to(OLIVIA.phone) == []
    # Kim's reply reaches Olivia from Kim's own reserved number: she learns the new one
    world.text(KIM.phone, "Yes, see you then", to=pair.pool_number)
    [reply] = world.sms.sent_to(OLIVIA.phone)
    assert reply.from_number == NEW and reply.body == "Yes, see you then"
    assert "Handover forwarded" in world.events()


def test_forward_mode_connects_a_call_like_a_new_lease(world: Handover) -> None:
    world.mode("forward")
    handed_over(world)

    root = twiml_of(world.voice.call(OLIVIA.phone, OLD), hidden=(OLIVIA.phone,))

    caller_id, to = dialed(root)
    assert to == KIM.phone and caller_id not in (OLD, OLIVIA.phone)
    _, pair = world.store.get_provider_and_pair(KIM.provider_id, OLIVIA.client_id)
    assert pair is not None and pair.pool_number == caller_id


# ---------------------------------------------------------------- ending it


def test_the_standby_keeper_returns_the_number_after_handover_days(world: Handover) -> None:
    handed_over(world)
    world.sms.clock.advance(days=29)
    assert keep_standby(world.admin, BASE) == {"handovers_released": 0, "outcome": "purchased"}
    assert world.store.get_number(OLD).lifecycle == Lifecycle.HANDOVER  # type: ignore[union-attr]

    world.sms.clock.advance(days=1, seconds=1)
    world.text(OLIVIA.phone)  # over, not swept yet: nothing answered
    assert world.answers_to(OLIVIA.phone) == []
    assert keep_standby(world.admin, BASE) == {"handovers_released": 1, "outcome": "present"}
    assert keep_standby(world.admin, BASE)["handovers_released"] == 0  # once

    number = world.store.get_number(OLD)
    assert number is not None and number.lifecycle == Lifecycle.STANDBY and number.provider_id is None
    assert (number.successor_id, number.handover_until) == (None, None)
    assert "Handover ended" in world.events()
    rows = [r for r in world.sms.outbox.records if r.kind == "number" and r.key == OLD]
    assert rows[-1].fields["Status"] == "Standby Reserved"


def test_the_handover_follows_the_successor(world: Handover) -> None:
    handed_over(world)
    world.store.put_number(NumberRecord(number="+17205550050", lifecycle=Lifecycle.STANDBY, twilio_sid="PN" + "5" * 32))

    rotated = rotate_number(world.admin, KIM.provider_id, BASE)  # Kim gets a new reserved number
    assert world.store.get_number(OLD).successor_number == rotated.reserved_number  # type: ignore[union-attr]

    remove_provider(world.admin, KIM.provider_id)  # Kim leaves without a successor: it ends
    number = world.store.get_number(OLD)
    assert number is not None and number.lifecycle == Lifecycle.STANDBY


# ---------------------------------------------------------------- the admin API


def call(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"X-Api-Key": DEMO_ADMIN_API_KEY, **({"Content-Type": "application/json"} if body is not None else {})}
    event = api_gateway_event(
        method,
        f"https://abc123.execute-api.us-east-1.amazonaws.com{path}",
        body=json.dumps(body) if body else None,
        headers=headers,
        stage="dev",
    )
    response = load_handler("create_session").lambda_handler(event, FakeLambdaContext(function_name="masking-create-session"))
    return response["statusCode"], json.loads(response["body"])


def test_delete_provider_takes_a_successor(world: Handover) -> None:
    assert call("DELETE", "/providers/prov-sam?successor=prov-nobody")[0] == 404
    status, body = call("DELETE", "/providers/prov-sam", {"successor": "prov-sam"})
    assert status == 422 and body["success"] is False and body["details"][0]["field"] == "successor"
    assert call("DELETE", "/providers/prov-sam?successor=bad%20id")[0] == 422

    status, body = call("DELETE", "/providers/prov-sam?successor=prov-kim")

    assert status == 200 and body["provider"]["status"] == "Inactive"
    number = world.store.get_number(OLD)
    assert number is not None and number.lifecycle == Lifecycle.HANDOVER and number.successor_id == KIM.provider_id
    status, listed = call("GET", "/numbers?lifecycle=Handover")
    assert status == 200 and [n["number"] for n in listed["numbers"]] == [OLD]
