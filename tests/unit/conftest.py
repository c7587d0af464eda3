import pytest

from masking.store.memory import MemoryRoutingStore
from tests.support import World, make_world


@pytest.fixture
def world() -> World:
    return make_world(MemoryRoutingStore())
