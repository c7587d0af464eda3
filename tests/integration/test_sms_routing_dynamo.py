"""The SMS routing tests of tests/unit, run on DynamoDB (moto, table from template.yaml)."""

from tests.unit.test_sms_routing import *  # noqa: F403 - the same tests, another store
