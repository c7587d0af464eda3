"""The delivery-failure tests of tests/unit, run on DynamoDB (moto)."""

from tests.unit.test_delivery_failures import *  # noqa: F403 - the same tests, another store
