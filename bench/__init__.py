"""Benchmarks for the SMS hot path: cold import, external calls per message, warm latency.

``python -m bench`` runs all three and prints one summary table. Each module also runs
on its own (``python -m bench.warm_latency``). Figures are printed next to their
targets (PASS/MISS); nothing here asserts on time.

Importing this package sets quiet defaults for Powertools (log level WARNING, a metrics
namespace) before anything imports the layer, and puts the layer and the repo root on
``sys.path``.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = ROOT / "layers" / "masking"
FUNCTION_DIR = ROOT / "functions" / "intercept"
HANDLER_FILE = FUNCTION_DIR / "app.py"

QUIET_ENV = {
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "masking",
    "POWERTOOLS_METRICS_NAMESPACE": "Masking",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)


def ensure_paths() -> None:
    for path in (str(ROOT), str(LAYER_DIR)):
        if path not in sys.path:
            sys.path.insert(0, path)


ensure_paths()


def quiet_logs() -> None:
    """Silences the Powertools JSON logs (the masking logger is created at import)."""
    from masking.core.observability import logger

    logger.setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)


def load_handler(name: str = "bench_intercept_app") -> ModuleType:
    """functions/intercept/app.py as a fresh module (not ``app``, to avoid clashes)."""
    spec = importlib.util.spec_from_file_location(name, HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeLambdaContext:
    function_name: str = "intercept"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:intercept"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/intercept"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``pct`` in 0..100."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# A target is (operator, threshold); None means "for information".
Target = tuple[str, Any] | None


def judge(value: Any, target: Target) -> str:
    if target is None:
        return "info"
    op, threshold = target
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    ok = {"<=": value <= threshold, "==": value == threshold, ">=": value >= threshold}[op]
    return "PASS" if ok else "MISS"


def describe(target: Target) -> str:
    if target is None:
        return ""
    op, threshold = target
    return f"{op} {threshold}"


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def print_figures(title: str, figures: dict[str, Any], targets: dict[str, Target]) -> None:
    print(f"\n== {title}")
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        target = targets.get(name)
        verdict = judge(value, target)
        suffix = f"  (target {describe(target)}: {verdict})" if target is not None else ""
        print(f"  {name:<{width}}  {fmt(value):>10}{suffix}")


def stats(rows: list[dict[str, Any]], service: str) -> tuple[float, int]:
    """Mean and max of one service's calls over the rows (``measured_row``)."""
    values = [row[service] for row in rows]
    return (sum(values) / len(values), max(values)) if values else (float("nan"), 0)


def ops_summary(rows: list[dict[str, Any]]) -> str:
    """AWS operations per row, averaged: ``dynamodb.GetItem 1.00, ...``."""
    totals: Counter[str] = Counter()
    for row in rows:
        for (service, operation), number in row["ops"].items():
            totals[f"{service}.{operation}"] += number
    return ", ".join(f"{name} {number / len(rows):.2f}" for name, number in sorted(totals.items())) or "none"
