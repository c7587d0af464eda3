"""(a) Cold import: the intercept handler module vs ``import boto3, twilio.rest``.

Each sample is a fresh interpreter (``python -I``, cwd = the function's dir, only the
environment the template gives the function), timing the import statement alone with
``perf_counter`` inside the child. Handler and baseline runs are interleaved, N each,
after one untimed run of each (so both sides use compiled bytecode). One more handler
run with ``-X importtime`` attributes the time to top-level packages (information).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any

from bench import FUNCTION_DIR, LAYER_DIR, Target, percentile, print_figures

RUNS = 15
WATCHED = ("pyairtable", "aws_xray_sdk", "boto3", "twilio", "pydantic", "aws_lambda_powertools", "moto")

TEMPLATE_ENV = {
    "TABLE_NAME": "masking-dev-Table",
    "OUTBOX_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/masking-dev-outbox",
    "SECRETS_PATH": "/masking/dev",
    "PUBLIC_BASE_URL": "",
    "LEASE_TTL_DAYS": "14",
    "PREFIX_POLICY": "first",
    "MESSAGING_SERVICE_SID": "",
    "TWILIO_TRANSPORT": "twilio",
    "POWERTOOLS_SERVICE_NAME": "masking",
    "POWERTOOLS_METRICS_NAMESPACE": "Masking",
    "LOG_LEVEL": "INFO",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}

CHILD = """
import json, sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
{statement}
elapsed = (time.perf_counter() - started) * 1000
print(json.dumps({{"ms": elapsed, "modules": {{name: name in sys.modules for name in {watched!r}}}, "count": len(sys.modules)}}))
"""

HANDLER = CHILD.format(paths=[str(FUNCTION_DIR), str(LAYER_DIR)], statement="import app", watched=WATCHED)
BASELINE = CHILD.format(paths=[], statement="import boto3, twilio.rest", watched=WATCHED)

TARGETS: dict[str, Target] = {
    "handler_import_median_ms": None,
    "handler_import_p90_ms": None,
    "boto3_twilio_import_median_ms": None,
    "boto3_twilio_import_p90_ms": None,
    "ratio_of_medians": ("<=", 1.25),
    "pyairtable_imported": ("==", False),
    "aws_xray_sdk_imported": None,
}


def _child_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if name in os.environ}
    env.update(TEMPLATE_ENV)
    return env


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", *flags, "-c", code], cwd=FUNCTION_DIR, env=_child_env(), capture_output=True, text=True, check=False
    )


def _sample(code: str) -> dict[str, Any]:
    done = _run(code)
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_breakdown(code: str = HANDLER, top: int = 7) -> list[tuple[str, float]]:
    """Self import time (ms) summed per top-level package, from ``-X importtime``."""
    done = _run(code, "-X", "importtime")
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        self_us = parts[0].removeprefix("import time:").strip()
        if not self_us.isdigit():
            continue  # the header line
        package = parts[2].strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(self_us) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main(runs: int = RUNS) -> dict[str, Any]:
    _sample(HANDLER)  # untimed: writes the layer's bytecode cache, warms the OS cache
    _sample(BASELINE)
    handler_ms: list[float] = []
    baseline_ms: list[float] = []
    seen = dict.fromkeys(WATCHED, False)
    module_counts: list[int] = []
    for index in range(runs):
        order = (HANDLER, BASELINE) if index % 2 == 0 else (BASELINE, HANDLER)
        for code in order:
            sample = _sample(code)
            if code is HANDLER:
                handler_ms.append(sample["ms"])
                module_counts.append(sample["count"])
                for name, present in sample["modules"].items():
                    seen[name] = seen[name] or present
            else:
                baseline_ms.append(sample["ms"])
    handler_median = statistics.median(handler_ms)
    baseline_median = statistics.median(baseline_ms)
    figures: dict[str, Any] = {
        "handler_import_median_ms": handler_median,
        "handler_import_p90_ms": percentile(handler_ms, 90),
        "boto3_twilio_import_median_ms": baseline_median,
        "boto3_twilio_import_p90_ms": percentile(baseline_ms, 90),
        "ratio_of_medians": handler_median / baseline_median,
        "pyairtable_imported": seen["pyairtable"],
        "aws_xray_sdk_imported": seen["aws_xray_sdk"],
    }
    print_figures(f"(a) cold import, {runs} fresh interpreters each, interleaved", figures, TARGETS)
    print(
        f"  modules loaded by the handler import: {statistics.median(module_counts):.0f}; "
        + ", ".join(f"{name}={'yes' if present else 'no'}" for name, present in seen.items())
    )
    breakdown = import_breakdown()
    print(
        "  handler import by top-level package (-X importtime, self ms summed): " + ", ".join(f"{name} {ms:.0f}" for name, ms in breakdown)
    )
    return figures


if __name__ == "__main__":
    main()
