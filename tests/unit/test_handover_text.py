"""The handover settings (HANDOVER_DAYS, HANDOVER_MODE, HANDOVER_TEXT) and the answer's text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from masking.core.handover import DEFAULT_HANDOVER_TEXT, handover_active, handover_text, spoken_number
from masking.core.models import Lifecycle, NumberRecord
from masking.core.settings import RoutingSettings, SettingsError, clear_settings_cache, get_routing_settings

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HELD = NumberRecord(
    number="+17205550001",
    lifecycle=Lifecycle.HANDOVER,
    provider_id="prov-sam",
    successor_id="prov-kim",
    successor_name="Kim Keeper",
    successor_number="+17205550002",
    handover_until=int(NOW.timestamp()) + 60,
)


def test_the_settings_come_from_the_environment_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOVER_DAYS", "0")
    monkeypatch.setenv("HANDOVER_MODE", "forward")
    monkeypatch.setenv("HANDOVER_TEXT", "{name} now answers at {number}")
    clear_settings_cache()
    try:
        settings = get_routing_settings()
        assert (settings.handover_days, settings.handover_mode, settings.handover_text) == (0, "forward", "{name} now answers at {number}")
    finally:
        clear_settings_cache()
    assert (RoutingSettings().handover_days, RoutingSettings().handover_mode) == (30, "notify")
    with pytest.raises(SettingsError, match="HANDOVER_MODE"):
        RoutingSettings(handover_mode="redirect")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="HANDOVER_DAYS"):
        RoutingSettings(handover_days=-1)
    for bad in ("Call {phone}", "Call {0}", "Call {name"):
        with pytest.raises(SettingsError, match="HANDOVER_TEXT"):
            RoutingSettings(handover_text=bad)


def test_the_answer_names_the_successor_and_their_masked_number() -> None:
    assert handover_text("", HELD) == DEFAULT_HANDOVER_TEXT.format(name="Kim Keeper", number="+17205550002")
    assert handover_text("{name}: {number}", HELD, spoken=True) == "Kim Keeper: 7 2 0, 5 5 5, 0 0 0 2"
    assert spoken_number("+447700900123") == "4 4 7 7 0 0 9 0 0 1 2 3"


def test_a_handover_is_active_until_its_end() -> None:
    assert handover_active(HELD, NOW)
    assert not handover_active(HELD, datetime.fromtimestamp(HELD.handover_until or 0, UTC))
    assert not handover_active(NumberRecord(number="+17205550001", lifecycle=Lifecycle.STANDBY), NOW)
