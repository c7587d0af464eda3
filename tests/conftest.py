"""Shared by every test folder: unit and integration tests may not open a socket (moto and
the fakes answer in-process); the end-to-end tests talk to the local runner over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import pytest_socket

if TYPE_CHECKING:
    from masking.core.ports import CallStore
    from tests.voice_support import VoiceWorld

OFFLINE_FOLDERS = ("unit", "integration")


@pytest.fixture
def no_network() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


@pytest.fixture
def voice_store() -> CallStore:
    """The voice tests' store: in memory; tests/integration/*_dynamo.py override it."""
    from masking.store.memory import MemoryCallStore

    return MemoryCallStore()


@pytest.fixture
def voice(voice_store: CallStore) -> VoiceWorld:
    from tests.voice_support import make_voice_world

    return make_voice_world(voice_store)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name in OFFLINE_FOLDERS:
            item.add_marker(pytest.mark.usefixtures("no_network"))
