"""``python -m bench``: runs the benchmarks, then prints one summary table."""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from bench import (
    airtable_throughput,
    call_connect,
    calls_per_message,
    cold_import,
    content_guard,
    cost_latency,
    describe,
    faults,
    fmt,
    judge,
    pool_allocation,
    warm_latency,
)

BENCHMARKS: list[tuple[str, ModuleType]] = [
    ("a cold import", cold_import),
    ("b calls/message", calls_per_message),
    ("c warm latency", warm_latency),
    ("d pool allocation", pool_allocation),
    ("e call_connect", call_connect),
    ("f airtable throughput", airtable_throughput),
    ("g faults", faults),
    ("h cost and latency", cost_latency),
    ("i content guard", content_guard),
]


def summary_rows(figures: dict[str, Any], module: ModuleType) -> list[tuple[str, str, str, str]]:
    wanted = getattr(module, "SUMMARY", None) or list(figures)
    rows = []
    for name in wanted:
        target = module.TARGETS.get(name)
        rows.append((name, fmt(figures[name]), describe(target), judge(figures[name], target)))
    return rows


def main() -> int:
    results: list[tuple[str, float, dict[str, Any], ModuleType]] = []
    for label, module in BENCHMARKS:
        started = time.perf_counter()
        if module is cost_latency:  # the model uses the figures measured above
            measured = {label: figures for label, _, figures, _ in results}
            calls = {s: float(measured["b calls/message"][f"steady_{s}_avg"]) for s in ("dynamodb", "sqs", "twilio")}
            cpu = (float(measured["c warm latency"]["webhook_p50_ms"]), float(measured["c warm latency"]["webhook_p99_ms"]))
            figures = cost_latency.main(calls=calls, cpu_ms=cpu)
        else:
            figures = module.main()
        results.append((label, time.perf_counter() - started, figures, module))

    print("\n== summary")
    header = ("benchmark", "figure", "value", "target", "status")
    lines = [(label, *row) for label, _, figures, module in results for row in summary_rows(figures, module)]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    print("  " + "  ".join(f"{cell:<{widths[i]}}" if i != 2 else f"{cell:>{widths[i]}}" for i, cell in enumerate(header)))
    print("  " + "  ".join("-" * width for width in widths))
    for line in lines:
        print("  " + "  ".join(f"{cell:<{widths[i]}}" if i != 2 else f"{cell:>{widths[i]}}" for i, cell in enumerate(line)))
    misses = [f"{line[0]}: {line[1]}" for line in lines if line[4] == "MISS"]
    timings = ", ".join(f"{label} {seconds:.1f}s" for label, seconds, _, _ in results)
    print(f"\n  run time: {timings}")
    print(f"  targets missed: {', '.join(misses) if misses else 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
