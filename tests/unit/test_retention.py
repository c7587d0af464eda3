"""Retention in the Airtable mirror: Messages bodies older than MESSAGE_RETENTION_DAYS are
blanked by the scheduled run, through the outbox, within the rate limit (issue 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.airtable_sync.airtable_mirror.retention import ROWS_PER_RUN, purge_old_bodies, retention_days
from masking.mirror import rows
from tests.unit.test_airtable_exact import replay
from tests.unit.test_airtable_mirror import Harness, message


@pytest.fixture
def airtable() -> Harness:
    return Harness()


def days_ago(airtable: Harness, days: float) -> str:
    moment = datetime.fromtimestamp(airtable.clock.now(), UTC) - timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_bodies_older_than_the_retention_are_purged_once_and_recent_ones_kept(airtable: Harness) -> None:
    airtable.write(
        [
            message("SMold1", at=days_ago(airtable, 120)),
            message("SMold2", at=days_ago(airtable, 91)),
            message("SMrecent", at=days_ago(airtable, 89)),
            rows.erased_message("SMerased", days_ago(airtable, 200)),
        ]
    )
    sent: list[str] = []
    requests_before = len(airtable.standin.requests)

    queued = purge_old_bodies(airtable.mirror, sent.extend, 90, airtable.clock.now() + 60)

    assert queued == 2
    assert len(airtable.standin.requests) - requests_before == 1  # one paced read
    replay(airtable, sent)
    assert airtable.row("Messages", **{"Message SID": "SMold1"})["fields"]["Body"] == "[purged after 90 days]"
    assert airtable.row("Messages", **{"Message SID": "SMold2"})["fields"]["Body"] == "[purged after 90 days]"
    assert airtable.row("Messages", **{"Message SID": "SMrecent"})["fields"]["Body"] == "Hi Sam, how is Rex?"
    assert purge_old_bodies(airtable.mirror, sent.extend, 90, airtable.clock.now() + 60) == 0


def test_a_backlog_drains_a_page_per_run(airtable: Harness) -> None:
    airtable.write([message(f"SMold{i}", at=days_ago(airtable, 100)) for i in range(ROWS_PER_RUN + 5)], seconds=600)
    sent: list[str] = []
    assert purge_old_bodies(airtable.mirror, sent.extend, 90, airtable.clock.now() + 60) == ROWS_PER_RUN
    replay(airtable, sent)
    assert purge_old_bodies(airtable.mirror, sent.extend, 90, airtable.clock.now() + 60) == 5


def test_no_retention_setting_purges_nothing(airtable: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESSAGE_RETENTION_DAYS", raising=False)
    assert retention_days() == 0
    assert purge_old_bodies(airtable.mirror, [].extend, retention_days(), airtable.clock.now() + 60) == 0
    monkeypatch.setenv("MESSAGE_RETENTION_DAYS", "90")
    assert retention_days() == 90
