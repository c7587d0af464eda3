"""Shared by every test folder: unit and integration tests may not open a socket (moto and
the fakes answer in-process); the end-to-end tests talk to the local runner over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket

OFFLINE_FOLDERS = ("unit", "integration")


@pytest.fixture
def no_network() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name in OFFLINE_FOLDERS:
            item.add_marker(pytest.mark.usefixtures("no_network"))
