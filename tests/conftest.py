"""Shared by every test folder: unit and integration tests may not open a socket (moto and
the fakes answer in-process); the end-to-end tests talk to the local runner over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn

import pytest
import pytest_socket

if TYPE_CHECKING:
    from masking.core.ports import CallStore
    from tests.voice_support import VoiceWorld

OFFLINE_FOLDERS = ("unit", "integration")


def _no_dns(*args: object, **kwargs: object) -> NoReturn:
    raise pytest_socket.SocketBlockedError()  # DNS runs in C: disable_socket does not see it


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    monkeypatch.setattr(socket, "getaddrinfo", _no_dns)
    yield
    pytest_socket.enable_socket()


@pytest.fixture(autouse=True)
def _offline(request: pytest.FixtureRequest) -> None:
    """Every unit and integration test runs with ``no_network`` (a marker added at
    collection time would come too late: pytest has already resolved the fixtures)."""
    if request.node.path.parent.name in OFFLINE_FOLDERS:
        request.getfixturevalue("no_network")


@pytest.fixture
def voice_store() -> CallStore:
    """The voice tests' store: in memory; tests/integration/*_dynamo.py override it."""
    from masking.store.memory import MemoryCallStore

    return MemoryCallStore()


@pytest.fixture
def voice(voice_store: CallStore) -> VoiceWorld:
    from tests.voice_support import make_voice_world

    return make_voice_world(voice_store)
