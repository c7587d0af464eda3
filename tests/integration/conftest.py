import os

import pytest
import pytest_socket

from local.backends import EmbeddedAws
from masking.settings import clear_settings_cache
from masking.store.dynamo import DynamoRoutingStore
from tests.support import AUTH_TOKEN, World, make_world


@pytest.fixture(autouse=True)
def _no_network():
    """moto answers in-process: any socket is a bug."""
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()


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

    from masking.calls import get_voice_settings
    from masking.voice import get_voice_services
    from masking.wiring import get_sms_services, sandbox_http_client

    clear_settings_cache()
    get_voice_settings.cache_clear()
    get_voice_services.cache_clear()
    get_sms_services.cache_clear()
    sandbox_http_client.cache_clear()
    clear_caches()


@pytest.fixture
def world(aws) -> World:
    return make_world(DynamoRoutingStore(aws.env["TABLE_NAME"]))
