"""The trust and privacy tests of tests/unit, run on DynamoDB (moto, table from template.yaml)."""

from tests.unit.test_privacy import *  # noqa: F403 - the same tests, another store
