"""The planned-parts tests of tests/unit (issue 19), run on DynamoDB (moto)."""

from tests.unit.test_planned_parts import *  # noqa: F403 - the same tests, another store
