"""The webhook functions' init (masking.handlers.init): no garbage collection while their
modules load, then everything loaded is frozen and the collector is on again.

Each function is imported in a fresh interpreter, as Lambda imports it: a collection pass
during the import, or a collector left off afterwards, fails here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import gc, json, sys
sys.path[:0] = [{function!r}, {layer!r}]
gc.collect()  # the interpreter's start-up allocations: the count starts from zero
before = sum(generation["collections"] for generation in gc.get_stats())
import app
after = sum(generation["collections"] for generation in gc.get_stats())
print(json.dumps({{"collections": after - before, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}))
"""
ENV = {
    "TABLE_NAME": "masking-test",
    "OUTBOX_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/outbox",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "masking",
}


@pytest.mark.parametrize("function", ["intercept", "call_connect"])
def test_the_init_runs_no_collection_and_leaves_the_collector_on_with_the_init_frozen(function: str) -> None:
    folder = ROOT / "functions" / function
    code = CHILD.format(function=str(folder), layer=str(ROOT / "layers" / "masking"))
    done = subprocess.run([sys.executable, "-I", "-c", code], cwd=folder, env=ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    assert figures["collections"] == 0  # about 35 passes over boto3's and twilio's objects before
    assert figures["enabled"] is True
    assert figures["frozen"] > 25_000  # about 39,000 for intercept: boto3, Powertools and masking, out of the collector's way
