"""Trust and privacy on the SMS path: the content guard, provisional leases, the
new-contact limit and the system-reply limits (issue 16).

tests/integration/test_privacy_dynamo.py runs the same tests on DynamoDB (moto).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from masking.core.models import InboundSms, Lifecycle, NumberRecord, NumberStatus
from masking.core.privacy_settings import PrivacySettings
from masking.core.settings import SettingsError
from masking.messaging import content_guard
from masking.messaging.protection import BLOCKED_TO_SENDER, REDACTED_TO_SENDER, REUSE_NOTICE, Protection
from masking.store.items import DynamoTable
from masking.store.quotas import DynamoQuotas, MemoryQuotas
from tests.support import OLIVIA, PETE, POOL, PROVIDER, World
from tests.unit.test_sms_routing import send

RESERVED = PROVIDER.reserved_number
assert RESERVED
DAY = 86400


def protect(world: World, **settings: Any) -> Protection:
    """The router's protection with these settings, its counters on the world's store."""
    store = world.store
    quotas = DynamoQuotas(store) if isinstance(store, DynamoTable) else MemoryQuotas()
    world.router.protection = Protection(PrivacySettings(**settings), quotas, world.alerts)
    return world.router.protection


def audits(world: World) -> list[str]:
    return [str(r.fields["Event"]) for r in world.outbox.records if r.kind == "audit"]


def message_rows(world: World) -> list[Any]:
    return [r for r in world.outbox.records if r.kind == "message"]


def more_pool_numbers(world: World, count: int) -> list[str]:
    numbers = [f"+1720555{200 + index:04d}" for index in range(count)]
    for number in numbers:
        world.store.put_number(NumberRecord(number=number, lifecycle=Lifecycle.POOL, status=NumberStatus.READY))
    return numbers


def pair_of(world: World, phone: str) -> Any:
    client = world.store.lookup_inbound(RESERVED, phone).client
    assert client is not None
    return world.store.get_provider_and_pair(PROVIDER.provider_id, client.client_id)[1]


# ---------------------------------------------------------------- the scanner


def kinds(body: str, **kwargs: Any) -> list[str]:
    return [finding.kind for finding in content_guard.scan(body, "US", **kwargs).findings]


def test_a_body_that_is_only_a_masked_number_of_ours_is_not_reported() -> None:
    ours = {"+17205550001"}
    result = content_guard.scan("+17205550001", "US", is_ours=ours.__contains__)
    assert not result and result.own_numbers == 1
    assert content_guard.scan("720-555-0001", "US", is_ours=ours.__contains__).findings == []


@pytest.mark.parametrize("body", ["call me 303 555 0123", "303.555.0123", "3 0 3 5 5 5 0 1 2 3", "(303) 555-0123!", "tel:3035550123"])
def test_a_number_split_by_spaces_dots_or_brackets_is_found(body: str) -> None:
    assert kinds(body) == ["phone"]


def test_an_international_number_is_found() -> None:
    assert kinds("ring me on +44 7911 123456 tonight") == ["phone"]
    assert kinds("whatsapp +33 6 12 34 56 78") == ["phone"]


def test_order_numbers_times_and_prices_are_not_phone_numbers() -> None:
    for body in ("Order 12345678 is ready", "See you at 10:30, $45.00 for 2 walks", "Rex is 7", ""):
        assert kinds(body) == [], body


def test_emails_always_and_links_only_when_asked() -> None:
    assert kinds("mail me: olivia.owner+rex@example.co.uk") == ["email"]
    assert kinds("photos at https://example.com/rex") == []
    assert kinds("photos at https://example.com/rex or www.example.org", urls=True) == ["url", "url"]


def test_redaction_replaces_each_finding() -> None:
    body = "call 303.555.0123 or mail a@b.io"
    result = content_guard.scan(body, "US")
    assert content_guard.redact(body, result) == "call [number removed] or mail [email removed]"


def hostile_bodies(count: int) -> list[str]:
    rng = random.Random(16)
    alphabet = "0123456789 +-.()@/:wxyzhtps.\u200b\u202e🐶é\x00\n\t%#*"
    pieces = ["+", "@@", "http://", "www.", "00", "+1", "9" * 40, "." * 30, "a" * 70 + "@", "(((", "ext. 12"]
    bodies = []
    for _ in range(count):
        parts = [rng.choice(pieces) if rng.random() < 0.3 else "".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(8)]
        bodies.append("".join(parts)[: rng.randint(0, 1600)])
    return bodies


def test_hostile_input_500_generated_bodies_never_raise() -> None:
    for body in hostile_bodies(500):
        result = content_guard.scan(body, "US", urls=True)
        redacted = content_guard.redact(body, result)
        assert isinstance(redacted, str)
        assert all(0 <= f.start < f.end <= len(body) for f in result.findings)


def test_settings_refuse_bad_values() -> None:
    with pytest.raises(SettingsError, match="CONTENT_GUARD"):
        PrivacySettings(content_guard="shout")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="SYSTEM_REPLY_COUNTRIES"):
        PrivacySettings(system_reply_countries="USA")  # type: ignore[arg-type]
    assert PrivacySettings(system_reply_countries="us, ca").system_reply_countries == ("US", "CA")  # type: ignore[arg-type]


# ---------------------------------------------------------------- the policies through the router


def test_flag_is_the_default_forwards_audits_and_flags_the_messages_row(world: World) -> None:
    protect(world)
    send(world, OLIVIA.phone, RESERVED, "call me at 303-555-0199")

    [sms] = world.sandbox.sent
    assert sms.body == "From Olivia Owner: call me at 303-555-0199"
    assert "Contact details flagged" in audits(world)
    [row] = message_rows(world)
    assert row.fields["Content Flag"] == "phone"


def test_a_message_with_only_our_own_numbers_is_not_flagged(world: World) -> None:
    protect(world, content_guard="redact")
    send(world, OLIVIA.phone, RESERVED, "is +17205550001 your number?")
    send(world, OLIVIA.phone, RESERVED, f"and {POOL[2]}?")  # a pool number of ours, found by lookup

    assert [s.body for s in world.sandbox.sent] == ["From Olivia Owner: is +17205550001 your number?", f"and {POOL[2]}?"]
    assert "Content Flag" not in message_rows(world)[0].fields
    assert not any("Contact details" in event for event in audits(world))


def test_redact_replaces_the_number_and_tells_the_sender_once(world: World) -> None:
    protect(world, content_guard="redact")
    send(world, OLIVIA.phone, RESERVED, "my cell is 303 555 0199")
    send(world, OLIVIA.phone, RESERVED, "or mail olivia@example.com")

    to_provider = world.sent_to(PROVIDER.phone)
    assert [s.body for s in to_provider] == ["From Olivia Owner: my cell is [number removed]", "or mail [email removed]"]
    notices = [s for s in world.sent_to(OLIVIA.phone) if s.body == REDACTED_TO_SENDER]
    assert len(notices) == 1 and notices[0].from_number == RESERVED
    assert all("303 555 0199" not in str(row.fields.get("Body")) for row in message_rows(world))


def test_block_does_not_forward_and_tells_the_sender(world: World) -> None:
    protect(world, content_guard="block")
    send(world, OLIVIA.phone, RESERVED, "hello")
    pool_number = world.sandbox.sent[0].from_number
    send(world, PROVIDER.phone, pool_number, "text me on +44 7911 123456")

    assert world.sent_to(OLIVIA.phone) == []
    _first, notice = world.sent_to(PROVIDER.phone)
    assert (notice.from_number, notice.body) == (pool_number, BLOCKED_TO_SENDER)
    assert "Contact details blocked" in audits(world)


def test_off_forwards_untouched_without_audit(world: World) -> None:
    protect(world, content_guard="off")
    send(world, OLIVIA.phone, RESERVED, "303.555.0199")
    assert world.sandbox.sent[0].body.endswith("303.555.0199")
    assert not any("Contact details" in event for event in audits(world))


# ---------------------------------------------------------------- provisional leases


STRANGER = "+13035550777"


def test_a_stranger_gets_a_provisional_lease_that_the_provider_reply_promotes(world: World) -> None:
    protect(world)
    now = int(world.clock.now.timestamp())
    send(world, STRANGER, RESERVED, "hi, do you walk dogs?")
    assert pair_of(world, STRANGER).expires_at == now + DAY

    world.clock.advance(hours=2)
    send(world, STRANGER, RESERVED, "hello??")  # the stranger alone cannot keep it
    assert pair_of(world, STRANGER).expires_at == now + DAY

    pool_number = world.sandbox.sent[0].from_number
    send(world, PROVIDER.phone, pool_number, "Yes I do!")
    assert world.sent_to(STRANGER)[-1].body == "Yes I do!"
    assert pair_of(world, STRANGER).expires_at == now + 2 * 3600 + 14 * DAY

    world.clock.advance(days=3)
    send(world, STRANGER, RESERVED, "great")  # now known: a normal lease, renewed
    assert pair_of(world, STRANGER).expires_at == int(world.clock.now.timestamp()) + 14 * DAY


def test_a_provisional_lease_nobody_answers_expires_after_a_day(world: World) -> None:
    protect(world)
    send(world, STRANGER, RESERVED, "buy cheap followers")
    pool_number = world.sandbox.sent[0].from_number

    world.clock.advance(hours=24, seconds=1)
    send(world, PROVIDER.phone, pool_number, "who is this?")
    assert world.sent_to(STRANGER) == []
    assert "Expired lease" in audits(world)


def test_known_clients_are_never_provisional(world: World) -> None:
    protect(world)
    send(world, OLIVIA.phone, RESERVED, "hi")
    assert pair_of(world, OLIVIA.phone).expires_at == int(world.clock.now.timestamp()) + 14 * DAY


# ---------------------------------------------------------------- new-contact limit


def test_the_11th_new_contact_in_an_hour_is_delivered_from_the_reserved_number(world: World) -> None:
    protect(world)
    more_pool_numbers(world, 12)
    strangers = [f"+1303555{1000 + index:04d}" for index in range(12)]
    for phone in strangers[:10]:
        send(world, phone, RESERVED, "hi")
    assert all(s.from_number != RESERVED for s in world.sandbox.sent)

    send(world, strangers[10], RESERVED, "hi from the 11th")
    send(world, strangers[11], RESERVED, "hi from the 12th")

    eleventh, twelfth = world.sandbox.sent[-2:]
    assert (eleventh.from_number, eleventh.body) == (RESERVED, "From New client: hi from the 11th")
    assert twelfth.from_number == RESERVED
    assert pair_of(world, strangers[10]) is None
    assert audits(world).count("New-contact limit reached") == 1
    assert len(world.alerts.published) == 1

    world.clock.advance(hours=1)
    send(world, strangers[11], RESERVED, "next hour")
    assert world.sandbox.sent[-1].from_number != RESERVED


def test_a_message_over_the_new_contact_limit_is_forwarded_new_contact_limit(world: World) -> None:
    protect(world)
    more_pool_numbers(world, 11)
    for index in range(10):
        send(world, f"+1303555{1000 + index:04d}", RESERVED, "hi")

    result = world.router.route(InboundSms("SM" + "3" * 32, "+13035551010", RESERVED, "hi from the 11th"))

    assert (result.outcome, result.direction, len(result.sent)) == ("forwarded_new_contact_limit", "client_to_provider", 1)


# ---------------------------------------------------------------- system replies


def test_help_replies_are_limited_per_sender_per_day(world: World) -> None:
    protect(world, system_replies_per_sender_per_day=3)
    for _ in range(50):
        send(world, OLIVIA.phone, RESERVED, "HELP")
    assert len(world.sent_to(OLIVIA.phone)) == 3
    assert "System reply withheld" in audits(world)

    world.clock.advance(days=1)
    send(world, OLIVIA.phone, RESERVED, "HELP")
    assert len(world.sent_to(OLIVIA.phone)) == 4


@pytest.mark.parametrize("phone", ["+447911123456", "+882345678901"])
def test_no_system_reply_to_a_country_not_allowed(world: World, phone: str) -> None:
    protect(world)
    for _ in range(5):
        send(world, phone, RESERVED, "HELP")
    assert world.sent_to(phone) == []
    assert "System reply withheld" in audits(world)


def test_allowed_countries_can_be_widened(world: World) -> None:
    protect(world, system_reply_countries=("US", "GB"))
    send(world, "+447400123456", RESERVED, "HELP")
    assert len(world.sent_to("+447400123456")) == 1


def test_provisional_leases_can_be_turned_off(world: World) -> None:
    protect(world, provisional_lease_hours=0)
    send(world, STRANGER, RESERVED, "hi")
    assert pair_of(world, STRANGER).expires_at == int(world.clock.now.timestamp()) + 14 * DAY


# ---------------------------------------------------------------- safe reuse (cool-off)


def reuse_world(world: World, **settings: Any) -> None:
    """One pool number for Sam, so the next client must reuse it."""
    protect(world, **settings)
    for number in POOL[1:]:
        world.store.put_number(NumberRecord(number=number, lifecycle=Lifecycle.POOL, status=NumberStatus.FAILED))


def test_a_number_reused_inside_the_cool_off_carries_a_one_time_notice(world: World) -> None:
    reuse_world(world)
    send(world, OLIVIA.phone, RESERVED, "bye for now")
    world.clock.advance(days=14, hours=1)  # Olivia's lease ended an hour ago

    send(world, PETE.phone, RESERVED, "hi, Pete here")
    send(world, PETE.phone, RESERVED, "second")

    first, second = [s for s in world.sent_to(PROVIDER.phone) if s.from_number == POOL[0]][1:]
    assert first.body == REUSE_NOTICE.format(client="Pete Parent") + "From Pete Parent: hi, Pete here"
    assert "Pete Parent" in REUSE_NOTICE.format(client="Pete Parent")
    assert second.body == "second"
    assert audits(world).count("Pool number reused in cool-off") == 1


def test_a_number_reused_after_the_cool_off_has_no_notice(world: World) -> None:
    reuse_world(world, pool_cool_off_days=7)
    send(world, OLIVIA.phone, RESERVED, "bye for now")
    world.clock.advance(days=14 + 8)

    send(world, PETE.phone, RESERVED, "hi, Pete here")

    assert world.sent_to(PROVIDER.phone)[-1].body == "From Pete Parent: hi, Pete here"
    assert "Pool number reused in cool-off" not in audits(world)


def test_a_cooling_number_is_taken_only_when_no_other_is_free(world: World) -> None:
    protect(world)
    send(world, OLIVIA.phone, RESERVED, "one")
    olivia_number = world.sandbox.sent[-1].from_number
    world.clock.advance(days=14, hours=1)

    send(world, PETE.phone, RESERVED, "two")

    assert world.sandbox.sent[-1].from_number != olivia_number
    assert "Pool number reused in cool-off" not in audits(world)
