"""Hooks on the local runner over HTTP: the runner's own catch endpoint as the target, a
500 retried by the hooks queue poller (waits of 1, 2 and 3 s locally), a 410 unsubscribing."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any
from urllib.error import HTTPError

import pytest

from local.backends import DEMO_ADMIN_API_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.allow_hosts(["127.0.0.1"])]


def request(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"x-api-key": DEMO_ADMIN_API_KEY, "Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data=data, method=method, headers=headers), timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def caught_until(base: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        caught = request(base, "GET", "/_local/hooks/caught")[1]
        if len(caught) >= count or time.monotonic() > deadline:
            return list(caught)
        time.sleep(0.5)


def subscribe(base: str, answer: int) -> dict[str, Any]:
    """The runner's catch endpoint, answering ``answer``, subscribed to pool.low."""
    status, hook = request(base, "POST", "/hooks", {"target_url": f"{base}/_local/hooks/catch?status={answer}", "events": ["pool.low"]})
    assert status == 201, hook
    return dict(hook)


def test_a_500_is_retried_until_the_last_attempt_and_a_410_unsubscribes(runner_url: str) -> None:
    failing = subscribe(runner_url, 500)
    assert request(runner_url, "POST", f"/hooks/{failing['id']}/test", {})[0] == 202

    attempts = caught_until(runner_url, 4)  # HOOK_RETRY_DELAYS 1,2,3 locally: four attempts
    time.sleep(4)
    assert len(request(runner_url, "GET", "/_local/hooks/caught?clear=1")[1]) == 4  # and no fifth

    assert {a["body"]["id"] for a in attempts} == {attempts[0]["body"]["id"]} and attempts[0]["body"]["test"] is True
    assert {a["answered"] for a in attempts} == {500}
    assert len({a["headers"]["X-Masking-Signature"] for a in attempts}) >= 2  # signed afresh, a new timestamp each time

    gone = subscribe(runner_url, 410)
    request(runner_url, "POST", f"/hooks/{gone['id']}/test", {})
    assert [a["answered"] for a in caught_until(runner_url, 1)] == [410]
    listed = [hook["id"] for hook in request(runner_url, "GET", "/hooks")[1]["hooks"]]
    assert gone["id"] not in listed and failing["id"] in listed
