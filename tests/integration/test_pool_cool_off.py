"""Numbers cooling off count as pressure for the pool monitor (issue 16), on DynamoDB (moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from masking.admin.schedules import run_pool_monitor
from masking.core.leases import new_lease_id
from masking.core.models import Lease, iso
from tests.integration.test_schedules import SETTINGS, pool_of
from tests.support import BASE, PROVIDER, Admin


@pytest.fixture
def admin(aws) -> Admin:
    return Admin(aws.env["TABLE_NAME"])


def ended_leases(admin: Admin, count: int, ended_days_ago: float, first: int) -> None:
    """``count`` leases on numbers ``first``.. that ended ``ended_days_ago``."""
    now = admin.clock()
    ended = int((now - timedelta(days=ended_days_ago)).timestamp())
    stamp = iso(now - timedelta(days=ended_days_ago + 14))
    for i in range(first, first + count):
        lease = Lease(
            PROVIDER.provider_id,
            f"cl-old-{i}",
            f"+1720555{1000 + i}",
            f"+1303555{3000 + i}",
            f"Old {i}",
            new_lease_id(),
            stamp,
            stamp,
            ended,
        )
        admin.store.claim_slot(lease, None, ended - 1, None)


def test_numbers_in_cool_off_push_utilization_and_buy_one(admin: Admin) -> None:
    pool_of(admin, ready=100, leases=80)
    ended_leases(admin, 7, ended_days_ago=2, first=80)

    result = run_pool_monitor(admin.ctx, SETTINGS, BASE)

    assert (result.stats.utilization, result.stats.cooling_off, result.decision) == (0.87, 7, "purchased")


def test_numbers_past_the_cool_off_are_free_again(admin: Admin) -> None:
    pool_of(admin, ready=100, leases=80)
    ended_leases(admin, 7, ended_days_ago=8, first=80)

    result = run_pool_monitor(admin.ctx, SETTINGS, BASE)

    assert (result.stats.utilization, result.stats.cooling_off, result.decision) == (0.8, 0, "below_threshold")
