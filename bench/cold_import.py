"""(a) Cold import: the intercept handler module vs ``import boto3, twilio.rest``.

Each sample is a fresh interpreter (``python -I``, cwd = the function's dir, only the
environment the template gives the function), timing the import statement alone inside
the child: wall time (``perf_counter``, the target) and the child's CPU time
(``process_time``: on a machine shared with other jobs it moves far less than wall time,
so it is the figure to compare changes with). Handler and baseline runs are interleaved,
51 each (21 or more asked; on 2 shared cores the median of 31 still moved by ±0.04),
after one untimed run of each; min, median and max are printed for both sides and for
the ratio of each interleaved pair (its median is the target; the ratio of the two
medians is printed too).
Each handler run then times what the first message sets up (``FIRST_MESSAGE``), and one
more run with ``-X importtime`` attributes the time to top-level packages (information).

Two trees are measured:
- the development tree (the layer's source on ``sys.path``, the venv's packages);
- the ``sam build`` artifacts, as Lambda runs them: ``python -I -S`` with only the
  function's build folder, the layer's ``python/`` folder and boto3 on ``sys.path``, in
  Lambda's order (/var/task, /opt/python, then /var/runtime, which holds the boto3 the
  runtime provides: https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html; the
  layer ships none). boto3 and its dependencies come from this venv, linked into
  ``.aws-sam/runtime-boto3``. The template builds for arm64, which this machine may not
  run: ``make build-host`` builds for this machine's CPU into ``.aws-sam/build-<arch>``
  (``scripts/sam-tools build-host``), which is measured when present, else
  ``.aws-sam/build`` when its CPU matches; otherwise the built figures are skipped, and
  the output says why. The figures say whether the artifacts carry compiled bytecode
  (both builds compile it).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import FUNCTION_DIR, LAYER_DIR, Target, percentile, print_figures

RUNS = 51
SAM_DIR = Path(__file__).resolve().parent.parent / ".aws-sam"
HOST_ARCH = {"aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
BUILD_DIRS = (SAM_DIR / f"build-{HOST_ARCH}", SAM_DIR / "build")  # make build-host, make build
RUNTIME_DIR = SAM_DIR / "runtime-boto3"  # stands in for Lambda's /var/runtime
# what Lambda's Python runtime provides besides the standard library (boto3 and its dependencies)
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
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
started, cpu = time.perf_counter(), time.process_time()
{statement}
elapsed, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
modules = {{name: name in sys.modules for name in {watched!r}}}
count = len(sys.modules)
started = time.perf_counter()
{then}
then = (time.perf_counter() - started) * 1000
print(json.dumps({{"ms": elapsed, "cpu_ms": cpu, "modules": modules, "count": count, "then_ms": then}}))
"""
# After the timed import, untimed by the target: what the first message sets up before it is
# routed (masking.wiring.get_sms_services: the routing, forwarding, failure and privacy
# modules, the settings, the stores; no network). With SnapStart it runs before the
# snapshot; without, on the first message. Printed next to the target so the whole cold
# path is in view.
FIRST_MESSAGE = "app.get_sms_services()"


def child(paths: list[str], statement: str, then: str = "pass", watched: tuple[str, ...] = WATCHED) -> str:
    return CHILD.format(paths=paths, statement=statement, then=then, watched=watched)


HANDLER = child([str(FUNCTION_DIR), str(LAYER_DIR)], "import app", FIRST_MESSAGE)
BASELINE = child([], "import boto3, twilio.rest")

TARGETS: dict[str, Target] = {
    "handler_import_median_ms": None,
    "handler_import_p90_ms": None,
    "boto3_twilio_import_median_ms": None,
    "boto3_twilio_import_p90_ms": None,
    "ratio_of_medians": None,  # information: the target is the median of the pair ratios below
    "pair_ratio_min": None,
    "pair_ratio_median": ("<=", 1.15),
    "pair_ratio_max": None,
    "cpu_ratio_of_medians": None,
    "cpu_pair_ratio_min_median_max": None,
    "first_message_setup_median_ms": None,
    "with_first_message_setup_ratio_of_medians": None,
    "pyairtable_imported": ("==", False),
    "aws_xray_sdk_imported": None,
}


def _child_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if name in os.environ}
    env.update(TEMPLATE_ENV)
    return env


def _run(code: str, *flags: str, cwd: Path = FUNCTION_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", *flags, "-c", code], cwd=cwd, env=_child_env(), capture_output=True, text=True, check=False
    )


def _sample(code: str, *flags: str, cwd: Path = FUNCTION_DIR) -> dict[str, Any]:
    done = _run(code, *flags, cwd=cwd)
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


def interleaved(handler: str, baseline: str, runs: int, *flags: str, cwd: Path = FUNCTION_DIR) -> dict[str, Any]:
    """``runs`` handler and baseline samples, alternating which goes first."""
    _sample(handler, *flags, cwd=cwd)  # untimed: bytecode cache (where writable), OS cache
    _sample(baseline, *flags, cwd=cwd)
    handler_ms: list[float] = []
    baseline_ms: list[float] = []
    handler_cpu: list[float] = []
    baseline_cpu: list[float] = []
    then_ms: list[float] = []
    seen = dict.fromkeys(WATCHED, False)
    module_counts: list[int] = []
    for index in range(runs):
        order = (handler, baseline) if index % 2 == 0 else (baseline, handler)
        for code in order:
            sample = _sample(code, *flags, cwd=cwd)
            if code is handler:
                handler_ms.append(sample["ms"])
                handler_cpu.append(sample["cpu_ms"])
                module_counts.append(sample["count"])
                then_ms.append(sample["then_ms"])
                for name, present in sample["modules"].items():
                    seen[name] = seen[name] or present
            else:
                baseline_ms.append(sample["ms"])
                baseline_cpu.append(sample["cpu_ms"])
    pairs = sorted(h / b for h, b in zip(handler_ms, baseline_ms, strict=True))
    cpu_pairs = sorted(h / b for h, b in zip(handler_cpu, baseline_cpu, strict=True))
    return {
        "handler_import_median_ms": statistics.median(handler_ms),
        "handler_import_p90_ms": percentile(handler_ms, 90),
        "handler_import_min_max_ms": f"{min(handler_ms):.0f} / {max(handler_ms):.0f}",
        "boto3_twilio_import_median_ms": statistics.median(baseline_ms),
        "boto3_twilio_import_p90_ms": percentile(baseline_ms, 90),
        "boto3_twilio_import_min_max_ms": f"{min(baseline_ms):.0f} / {max(baseline_ms):.0f}",
        "ratio_of_medians": statistics.median(handler_ms) / statistics.median(baseline_ms),
        "pair_ratio_min": pairs[0],
        "pair_ratio_median": statistics.median(pairs),
        "pair_ratio_max": pairs[-1],
        "cpu_ratio_of_medians": statistics.median(handler_cpu) / statistics.median(baseline_cpu),
        "cpu_pair_ratio_min_median_max": f"{cpu_pairs[0]:.2f} / {statistics.median(cpu_pairs):.2f} / {cpu_pairs[-1]:.2f}",
        "handler_cpu_min_median_max_ms": f"{min(handler_cpu):.0f} / {statistics.median(handler_cpu):.0f} / {max(handler_cpu):.0f}",
        "baseline_cpu_min_median_max_ms": f"{min(baseline_cpu):.0f} / {statistics.median(baseline_cpu):.0f} / {max(baseline_cpu):.0f}",
        "first_message_setup_median_ms": statistics.median(then_ms),
        "with_first_message_setup_ratio_of_medians": (statistics.median(handler_ms) + statistics.median(then_ms))
        / statistics.median(baseline_ms),
        "pyairtable_imported": seen["pyairtable"],
        "aws_xray_sdk_imported": seen["aws_xray_sdk"],
        "_seen": seen,
        "_modules": statistics.median(module_counts),
    }


def bytecode_share(folder: Path) -> float:
    """Share of the .py files under ``folder`` that have a compiled .pyc for this Python."""
    tag = sys.implementation.cache_tag
    sources = [path for path in folder.rglob("*.py")]
    compiled = sum(1 for path in sources if (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").exists())
    return compiled / len(sources) if sources else 0.0


def main(runs: int = RUNS) -> dict[str, Any]:
    figures = interleaved(HANDLER, BASELINE, runs)
    seen, modules = figures.pop("_seen"), figures.pop("_modules")
    print_figures(f"(a) cold import, development tree, {runs} fresh interpreters each, interleaved", figures, TARGETS)
    print(f"  modules loaded by the handler import: {modules:.0f}; " + ", ".join(f"{n}={'yes' if p else 'no'}" for n, p in seen.items()))
    breakdown = import_breakdown()
    print("  handler import by top-level package (-X importtime, self ms summed): " + ", ".join(f"{n} {ms:.0f}" for n, ms in breakdown))
    build, why = built_artifacts()
    if build is None:
        print(f"  built artifacts: not measured: {why}")
        return figures
    function, layer = build / "InterceptFunction", build / "SharedLayer" / "python"
    runtime = runtime_dir()
    share = bytecode_share(layer)
    handler = child([str(function), str(layer), str(runtime)], "import app", FIRST_MESSAGE)
    baseline = child([str(layer), str(runtime)], "import boto3, twilio.rest")
    built = interleaved(handler, baseline, runs, "-S", cwd=function)
    built.pop("_seen"), built.pop("_modules")
    built_targets = {name: target for name, target in TARGETS.items() if not name.endswith("_imported")}
    print_figures(
        f"(a') cold import, sam build artifacts in isolation (-I -S; {build.relative_to(SAM_DIR.parent)}, boto3 as Lambda's runtime"
        f" provides it), {runs} each, interleaved; layer .py with .pyc: {share:.0%}",
        {name: value for name, value in built.items() if not name.endswith("_imported")},
        built_targets,
    )
    figures.update({f"built_{name}": value for name, value in built.items() if not name.endswith("_imported")})
    figures["built_layer_bytecode_share"] = share
    return figures


def built_artifacts() -> tuple[Path | None, str]:
    """The first build of the stack this machine can import, or None and why not."""
    reasons = []
    for build in BUILD_DIRS:
        layer = build / "SharedLayer" / "python"
        if not (build / "InterceptFunction" / "app.py").exists() or not layer.is_dir():
            reasons.append(f"no {build.name}")
            continue
        native = [so.name for so in layer.rglob("*.so")]
        machine = os.uname().machine
        if any(machine not in name for name in native):
            reasons.append(f"{build.name} is built for another CPU ({next(n for n in native if machine not in n)})")
            continue
        return build, ""
    return None, "; ".join(reasons) + f" (run `make build-host` to build for this machine's CPU, {HOST_ARCH})"


def runtime_dir() -> Path:
    """A folder holding what Lambda's runtime adds to the layer: this venv's boto3 and its
    dependencies, linked (``RUNTIME_PACKAGES``)."""
    import importlib.util

    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed here: it stands in for Lambda's runtime copy")
        source = Path(spec.origin)
        source = source.parent if source.name == "__init__.py" else source
        link = RUNTIME_DIR / source.name
        if not link.exists():
            link.symlink_to(source)
    return RUNTIME_DIR


if __name__ == "__main__":
    main()
