"""The forwarding tests of tests/unit, run on DynamoDB (moto)."""

from tests.unit.test_forwarding import *  # noqa: F403 - the same tests, another store
