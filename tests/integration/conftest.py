import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from local.backends import DEMO_AUTH_TOKEN, EmbeddedAws
from masking.store.dynamo import DynamoRoutingStore
from tests.support import AUTH_TOKEN, World, make_world, reset_caches, seed


@pytest.fixture
def aws():
    """Fresh embedded AWS (moto) per test: table from template.yaml, outbox, SSM secrets."""
    with embedded_aws() as embedded:
        yield embedded


@contextmanager
def embedded_aws(auth_token: str = AUTH_TOKEN, **env: str) -> Iterator[EmbeddedAws]:
    """Embedded AWS (moto) with ``env`` on top of its variables; the environment and the
    settings/wiring caches are restored afterwards."""
    saved = dict(os.environ)
    embedded = EmbeddedAws(auth_token=auth_token)
    embedded.start()
    os.environ.update(env)
    reset_caches()
    try:
        yield embedded
    finally:
        embedded.stop()
        os.environ.clear()
        os.environ.update(saved)
        reset_caches()


@contextmanager
def seeded_demo_aws(**env: str) -> Iterator[EmbeddedAws]:
    """``embedded_aws`` for the events/ files (signed with the demo token), seeded with the
    test world (``tests.support.seed``)."""
    with embedded_aws(DEMO_AUTH_TOKEN, **env) as embedded:
        seed(DynamoRoutingStore(embedded.env["TABLE_NAME"]))
        yield embedded


@pytest.fixture
def world(aws) -> World:
    return make_world(DynamoRoutingStore(aws.env["TABLE_NAME"]))
