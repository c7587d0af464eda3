"""Schemathesis against the admin API's /openapi.json as the local runner serves it, with the
demo API key: whatever the document allows, and inputs it does not, never answer 5xx.

Bounded to stay fast on 2 cores: per operation at most 20 cases that fit the document and
20 that break it, derandomized (the same cases every run), never shrunk. The operations
are listed from docs/openapi.json (the integration tests check it is what the API serves)
so each gets its own test id; the cases come from the document the runner serves.

(Schemathesis' ``pytest.from_fixture`` lazy loader does not work with pytest 9.2: it sets
``Function._nodeid``, which pytest 9 no longer has. Hence Hypothesis ``@given`` over
``operation.as_strategy`` here.)
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from local.backends import DEMO_ADMIN_API_KEY
from local.demo import http
from tests.support import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]

MAX_EXAMPLES = 20  # per generation mode and operation
KEY = {"x-api-key": DEMO_ADMIN_API_KEY}
DOCUMENT = json.loads((ROOT / "docs" / "openapi.json").read_text())
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module")
def admin_schema(runner_url: str) -> Iterator[schemathesis.BaseSchema]:
    started = time.monotonic()
    # The key is always sent: cases test the API behind API Gateway's key check, not the check.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    yield schemathesis.openapi.from_url(f"{runner_url}/openapi.json", headers=KEY, config=config)
    print(
        f"\nschemathesis: {TALLY['operations']} operations, {TALLY['cases']} cases, {TALLY['5xx']} answers 5xx "
        f"({TALLY['2xx']} 2xx, {TALLY['4xx']} 4xx), {time.monotonic() - started:.1f} s"
    )


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{method} {path}" for method, path in OPERATIONS])
def test_no_input_makes_the_admin_api_answer_5xx(admin_schema: schemathesis.BaseSchema, runner_url: str, method: str, path: str) -> None:
    operation = admin_schema[path][method]
    modes = [GenerationMode.POSITIVE]
    if operation.body or operation.path_parameters or operation.query:  # else nothing can be made invalid
        modes.append(GenerationMode.NEGATIVE)
    cases = st.one_of(*(operation.as_strategy(mode) for mode in modes))
    server_errors: list[str] = []

    @settings(
        max_examples=MAX_EXAMPLES * len(modes),
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # no shrinking
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def send(case: Case) -> None:
        response = case.call(base_url=runner_url, headers=KEY, timeout=30)
        TALLY["cases"] += 1
        TALLY[f"{response.status_code // 100}xx"] += 1
        if response.status_code >= 500:
            server_errors.append(f"{response.status_code} {response.text[:200]}\n  {case.as_curl_command(headers=KEY)}")

    send()
    TALLY["operations"] += 1
    assert not server_errors, "\n".join(server_errors)


def test_without_the_key_the_runner_answers_like_api_gateway(runner_url: str) -> None:
    status, body = http("GET", f"{runner_url}/pool/stats")

    assert status == 403
    assert json.loads(body) == {"message": "Forbidden"}
