"""The voice spam tests of tests/unit, run on DynamoDB (moto, table from template.yaml)."""

import pytest

from masking.core.ports import CallStore
from masking.store.calls import DynamoCallStore
from tests.unit.test_voice_spam import *  # noqa: F403 - the same tests, another store


@pytest.fixture
def voice_store(aws) -> CallStore:  # type: ignore[no-untyped-def]
    return DynamoCallStore(aws.env["TABLE_NAME"])
