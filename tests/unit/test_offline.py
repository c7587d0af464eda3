"""The no-network rule holds for every unit and integration test, DNS included."""

from __future__ import annotations

import socket

import pytest
import pytest_socket


def test_a_unit_test_cannot_open_a_socket_or_resolve_a_name() -> None:
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.getaddrinfo("example.com", 443)
