import pytest
import pytest_socket

from masking.store.memory import MemoryRoutingStore
from tests.support import World, make_world


@pytest.fixture(autouse=True)
def _no_network():
    """Unit tests run on in-memory fakes: any socket is a bug."""
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


@pytest.fixture
def world() -> World:
    return make_world(MemoryRoutingStore())
