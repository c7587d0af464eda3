import os

import pytest

from local.backends import EmbeddedAws
from masking.core.settings import clear_settings_cache
from masking.store.dynamo import DynamoRoutingStore
from tests.support import AUTH_TOKEN, World, make_world


@pytest.fixture
def aws():
    """Fresh embedded AWS (moto) per test: table from template.yaml, outbox, SSM secrets."""
    saved = dict(os.environ)
    embedded = EmbeddedAws(auth_token=AUTH_TOKEN)
    embedded.start()
    _clear_caches()
    yield embedded
    embedded.stop()
    os.environ.clear()
    os.environ.update(saved)
    _clear_caches()


def _clear_caches() -> None:
    from aws_lambda_powertools.utilities.parameters import clear_caches

    from masking.wiring import clear_wiring_cache

    clear_settings_cache()
    clear_wiring_cache()
    clear_caches()


@pytest.fixture
def world(aws) -> World:
    return make_world(DynamoRoutingStore(aws.env["TABLE_NAME"]))
