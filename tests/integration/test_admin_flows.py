"""Admin flows on DynamoDB (moto) with the Twilio sandbox: provisioning Paths A, B, C,
rotation, purchase and attach, client sync, sessions, pool stats."""

from __future__ import annotations

import threading

import pytest

from masking.admin.clients import upsert_client
from masking.admin.numbers import attach_number, purchase_and_attach, purchase_number
from masking.admin.pool import pool_stats
from masking.admin.provisioning import create_provider, remove_provider, rotate_number
from masking.admin.sessions import close_session, get_session, list_sessions, open_session
from masking.core.errors import Conflict, NoNumbersAvailable, NotFound
from masking.core.models import Lifecycle, NumberStatus
from tests.support import BASE, OLIVIA, PETE, POOL, PROVIDER, VERIFY_PHONE, Admin, seed


@pytest.fixture
def admin(aws) -> Admin:
    return Admin(aws.env["TABLE_NAME"])


def test_path_a_assigns_the_ready_standby_number_then_replenishes_standby(admin: Admin) -> None:
    admin.standby("+17205550050")

    provider, created, _ = create_provider(admin.ctx, "Nora Nanny", "+13035550150", "nora@example.com", BASE)

    assert created and provider.reserved_number == "+17205550050" and provider.provisioning_status == "Active"
    number = admin.store.get_number("+17205550050")
    assert number and number.lifecycle == Lifecycle.RESERVED and number.provider_id == provider.provider_id
    [replacement] = [n for n in admin.store.list_numbers(Lifecycle.STANDBY)]
    assert replacement.status == NumberStatus.READY and replacement.number.startswith("+1303")
    assert replacement.purpose == "Standby Replenishment"
    assert "Standby number assigned" in admin.events()


def test_path_b_buys_attaches_verifies_and_assigns_when_no_standby_is_ready(admin: Admin) -> None:
    admin.standby("+17205550051", status=NumberStatus.PENDING)

    provider, created, _ = create_provider(admin.ctx, "Nora Nanny", "+13035550150", None, BASE)

    assert created and provider.reserved_number and provider.reserved_number.startswith("+1303")
    number = admin.store.get_number(provider.reserved_number)
    assert number is not None
    assert (number.lifecycle, number.status, number.attach_status, number.verification_status) == (
        Lifecycle.RESERVED,
        "Ready",
        "Ready",
        "Sent",
    )
    assert number.provider_id == provider.provider_id and number.purpose == "Sitter Assignment"
    bought = admin.sandbox.numbers[number.twilio_sid or ""]
    assert bought["sms_url"] == f"{BASE}/twilio/sms" and bought["voice_url"] == f"{BASE}/twilio/voice"
    [verification] = [s for s in admin.sandbox.sent if s.to_phone == VERIFY_PHONE]
    assert verification.from_number == provider.reserved_number
    assert "Reserved number bought" in admin.events()


def test_same_provider_phone_twice_is_one_provider(admin: Admin) -> None:
    first, created_first, _ = create_provider(admin.ctx, "Nora Nanny", "+13035550150", None, BASE)
    second, created_second, _ = create_provider(admin.ctx, "Nora N.", "+13035550150", None, BASE)

    assert created_first and not created_second
    assert first.provider_id == second.provider_id and first.reserved_number == second.reserved_number
    assert len(admin.sandbox.bought) == 1


def test_concurrent_creates_with_one_phone_make_one_provider(admin: Admin) -> None:
    results = []
    barrier = threading.Barrier(2)

    def create() -> None:
        barrier.wait()
        results.append(create_provider(admin.ctx, "Nora Nanny", "+13035550150", None, BASE)[0].provider_id)

    threads = [threading.Thread(target=create) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert len(set(results)) == 1
    assert len(admin.store.list_provider_ids()) == 1


def test_path_c_closes_leases_and_returns_the_reserved_number_to_standby(admin: Admin) -> None:
    seed(admin.store)
    session = open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=False)

    removed = remove_provider(admin.ctx, PROVIDER.provider_id)

    assert removed.status == "Inactive" and removed.reserved_number is None
    number = admin.store.get_number(PROVIDER.reserved_number or "")
    assert number and number.lifecycle == Lifecycle.STANDBY and number.provider_id is None and number.status == NumberStatus.READY
    assert not get_session(admin.ctx, session.lease.lease_id).active
    assert admin.store.find_provider_id_by_phone(PROVIDER.phone) is None
    assert {"Lease closed", "Provider removed"} <= set(admin.events())
    assert remove_provider(admin.ctx, PROVIDER.provider_id).status == "Inactive"  # idempotent


def test_rotation_gives_a_new_reserved_number_and_the_old_one_goes_to_standby(admin: Admin) -> None:
    seed(admin.store)
    admin.standby("+17205550050")

    rotated = rotate_number(admin.ctx, PROVIDER.provider_id, BASE)

    assert rotated.reserved_number == "+17205550050"
    old = admin.store.get_number(PROVIDER.reserved_number or "")
    assert old and old.lifecycle == Lifecycle.STANDBY and old.provider_id is None
    assert admin.sandbox.bought == []  # the old number is the new standby: nothing bought
    assert "Number rotated" in admin.events()


def test_purchase_falls_back_to_the_next_preferred_area_code(admin: Admin) -> None:
    admin.sandbox.set_available("303", 0)

    number = purchase_number(admin.ctx, Lifecycle.POOL, BASE)

    assert number.number.startswith("+1720") and number.status == NumberStatus.PENDING
    assert number.purpose == "Pool Expansion"


def test_purchase_with_no_numbers_anywhere_fails_cleanly_and_writes_nothing(admin: Admin) -> None:
    admin.sandbox.set_available("303", 0)
    admin.sandbox.set_available("720", 0)

    with pytest.raises(NoNumbersAvailable) as error:
        purchase_number(admin.ctx, Lifecycle.POOL, BASE, area_code="212")

    assert error.value.details == {"area_codes_tried": ["212", "303", "720"]}
    assert admin.store.list_numbers() == []
    assert admin.sandbox.bought == []
    assert "Number purchase failed" in admin.events()


def test_attach_failure_marks_the_number_failed_with_an_audit_event(admin: Admin) -> None:
    bought = purchase_number(admin.ctx, Lifecycle.POOL, BASE)
    admin.sandbox.fail_next_matching("/Messages.json", 30003)

    attached = attach_number(admin.ctx, bought.number, BASE)

    assert (attached.status, attached.attach_status, attached.verification_status) == ("Failed", "Failed", "Failed")
    stored = admin.store.get_number(bought.number)
    assert stored and stored.status == NumberStatus.FAILED
    assert "Number attach failed" in admin.events()
    assert admin.store.pool_view("anyone").ready_numbers == []  # a Failed number is never allocated


def test_attached_pool_number_becomes_allocatable(admin: Admin) -> None:
    seed(admin.store, pool=[])
    number = purchase_and_attach(admin.ctx, Lifecycle.POOL, BASE)

    session = open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=False)

    assert session.lease.pool_number == number.number


def test_attach_of_an_unknown_number_is_not_found(admin: Admin) -> None:
    with pytest.raises(NotFound):
        attach_number(admin.ctx, "+17205559999", BASE)


def test_sessions_open_once_per_pair_notify_list_and_close(admin: Admin) -> None:
    seed(admin.store)

    first = open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=True)
    again = open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=False)

    assert first.created and not again.created and first.lease.lease_id == again.lease.lease_id
    [notice] = admin.sandbox.sent
    assert (notice.from_number, notice.to_phone) == (first.lease.pool_number, PROVIDER.phone)
    assert "Olivia Owner" in notice.body
    open_session(admin.ctx, PROVIDER, PETE, 1, notify=False)
    assert {v.lease.client_id for v in list_sessions(admin.ctx, PROVIDER.provider_id)} == {OLIVIA.client_id, PETE.client_id}

    closed = close_session(admin.ctx, first.lease.lease_id)

    assert not closed.active
    assert [v.lease.client_id for v in list_sessions(admin.ctx, PROVIDER.provider_id)] == [PETE.client_id]
    reopened = open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=False)
    assert reopened.created and reopened.lease.pool_number == first.lease.pool_number  # sticky
    with pytest.raises(NotFound):
        get_session(admin.ctx, "LSnope")


def test_custom_ttl_expires_the_session(admin: Admin) -> None:
    seed(admin.store)
    view = open_session(admin.ctx, PROVIDER, OLIVIA, 1, notify=False)

    admin.clock.advance(days=1, seconds=1)

    assert not get_session(admin.ctx, view.lease.lease_id).active


def test_session_when_the_pool_is_exhausted_is_a_conflict(admin: Admin) -> None:
    seed(admin.store, pool=POOL[:1])
    open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=False)

    with pytest.raises(Conflict):
        open_session(admin.ctx, PROVIDER, PETE, None, notify=False)
    assert "Pool exhausted" in admin.events()


def test_client_upsert_by_external_id_then_phone_and_conflicts(admin: Admin) -> None:
    client, created = upsert_client(admin.ctx, "+13035550301", name="Quinn", external_id="ttp-1")
    same, created_again = upsert_client(admin.ctx, "+13035550302", name="Quinn Q", external_id="ttp-1")

    assert created and not created_again and same.client_id == client.client_id
    assert same.phone == "+13035550302" and same.name == "Quinn Q"
    assert admin.store.find_client(phone="+13035550301") is None
    assert admin.store.find_client(phone="+13035550302").client_id == client.client_id  # type: ignore[union-attr]
    upsert_client(admin.ctx, "+13035550303", name="Other", external_id="ttp-2")
    with pytest.raises(Conflict):
        upsert_client(admin.ctx, "+13035550303", external_id="ttp-1")


def test_client_phone_change_reaches_active_leases(admin: Admin) -> None:
    seed(admin.store)
    view = open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=False)
    upsert_client(admin.ctx, OLIVIA.phone, external_id="ttp-olivia")

    upsert_client(admin.ctx, "+13035550997", name="Olivia O.", external_id="ttp-olivia")

    _, slot = admin.store.get_provider_and_slot(PROVIDER.provider_id, view.lease.pool_number)
    assert slot and (slot.client_phone, slot.client_name) == ("+13035550997", "Olivia O.")
    _, pair = admin.store.get_provider_and_pair(PROVIDER.provider_id, OLIVIA.client_id)
    assert pair and pair.client_phone == "+13035550997"


def test_pool_stats(admin: Admin) -> None:
    seed(admin.store)
    admin.standby("+17205550050")
    open_session(admin.ctx, PROVIDER, OLIVIA, None, notify=False)
    open_session(admin.ctx, PROVIDER, PETE, None, notify=False)

    stats = pool_stats(admin.ctx)

    assert stats.ready_pool_numbers == 3 and stats.active_leases == 2
    assert stats.busiest_provider_id == PROVIDER.provider_id and stats.busiest_provider_leases == 2
    assert stats.utilization == round(2 / 3, 4)
    assert stats.standby_ready == 1 and stats.providers_near_exhaustion == [PROVIDER.provider_id]
