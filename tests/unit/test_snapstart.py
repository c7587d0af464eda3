"""SnapStart hooks: registered only where the runtime provides snapshot_restore_py; before
the snapshot the services are built, after a restore the clients and secrets are renewed."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from masking.core.settings import clear_settings_cache
from masking.handlers import snapstart
from masking.wiring import get_sms_services


@pytest.fixture
def fake_runtime(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Callable[[], Any]]]:
    hooks: dict[str, list[Callable[[], Any]]] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = hooks["before"].append  # type: ignore[attr-defined]
    module.register_after_restore = hooks["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    return hooks


def test_without_the_runtime_library_nothing_is_registered() -> None:
    assert "snapshot_restore_py" not in sys.modules
    assert snapstart.register(prime=lambda: None) is False


def test_the_snapshot_holds_the_services_and_a_restore_renews_the_clients(fake_runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "masking-test")
    monkeypatch.setenv("OUTBOX_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/outbox")
    clear_settings_cache()
    get_sms_services.cache_clear()
    try:
        assert snapstart.register(prime=get_sms_services) is True
        [before], [after] = fake_runtime["before"], fake_runtime["after"]

        before()
        built = get_sms_services()
        assert get_sms_services.cache_info().currsize == 1

        after()
        assert get_sms_services.cache_info().currsize == 0
        assert get_sms_services() is not built
    finally:
        get_sms_services.cache_clear()
        clear_settings_cache()
