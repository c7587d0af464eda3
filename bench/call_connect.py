"""(e) call_connect: cold import of the voice handler, and DynamoDB calls per inbound call.

1. Cold import: ``functions/call_connect/app.py`` vs ``import boto3, twilio.rest``, measured
   exactly like (a) (``bench.cold_import``: fresh ``python -I`` interpreters, the template's
   environment, interleaved, medians). Target ratio <= 1.25; pydantic, pyairtable and the
   X-Ray SDK must not be imported.
2. External calls per inbound call on an existing lease: the real handler on moto
   (EmbeddedAws), wired by ``masking.wiring.get_voice_services`` as in Lambda, counted with
   the botocore ``before-call`` hook of (b) (``bench.calls_per_message``). Warm-up: each
   pair's client calls the provider's reserved number (opens the lease; the container's
   first call also loads the credentials). Then N calls on those leases, both ways:
   clients to reserved numbers, providers to pool numbers. Target: DynamoDB <= 3
   (one BatchGetItem: number + caller as client and as provider + the CallSid's earlier
   answer; one BatchGetItem: provider + lease; one TransactWriteItems: lease touch + the
   answer under the CallSid), SQS <= 1, Twilio 0 (the answer is TwiML).
"""

from __future__ import annotations

import importlib.util
import random
import statistics
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from contextlib import redirect_stdout
from types import ModuleType
from typing import Any

from bench import LAYER_DIR, ROOT, FakeLambdaContext, Target, ops_summary, percentile, print_figures, quiet_logs, stats

FUNCTION_DIR = ROOT / "functions" / "call_connect"
RUNS = 15
N_CALLS = 120
CLIENT_SHARE = 0.55
SERVICES = ("dynamodb", "sqs", "ssm", "twilio", "airtable")

TARGETS: dict[str, Target] = {
    "handler_import_median_ms": None,
    "boto3_twilio_import_median_ms": None,
    "import_ratio_of_medians": ("<=", 1.25),
    "pydantic_imported": ("==", False),
    "pyairtable_imported": ("==", False),
    "aws_xray_sdk_imported": ("==", False),
    "steady_dynamodb_max": ("<=", 3),
    "steady_dynamodb_avg": None,
    "steady_sqs_max": ("<=", 1),
    "steady_twilio_max": ("==", 0),
    "steady_airtable_max": ("==", 0),
    "new_lease_dynamodb_max": None,
    "dial_action_dynamodb_max": None,
    "calls_not_bridged": ("==", 0),
    "hook_saw_all_aws_requests": ("==", True),
}
SUMMARY = [
    "import_ratio_of_medians",
    "pyairtable_imported",
    "pydantic_imported",
    "steady_dynamodb_max",
    "steady_sqs_max",
    "steady_twilio_max",
    "calls_not_bridged",
]


# ---------------------------------------------------------------- 1. cold import


def cold_import(runs: int = RUNS) -> dict[str, Any]:
    from bench.cold_import import BASELINE, WATCHED, _sample, child, import_breakdown

    watched = (*WATCHED, "pydantic")
    handler = child([str(FUNCTION_DIR), str(LAYER_DIR)], "import app", watched=watched)
    _sample(handler)  # untimed: bytecode cache, OS cache
    _sample(BASELINE)
    handler_ms: list[float] = []
    baseline_ms: list[float] = []
    seen = dict.fromkeys(watched, False)
    for index in range(runs):
        order = (handler, BASELINE) if index % 2 == 0 else (BASELINE, handler)
        for code in order:
            sample = _sample(code)
            if code is handler:
                handler_ms.append(sample["ms"])
                for name, present in sample["modules"].items():
                    seen[name] = seen.get(name, False) or present
            else:
                baseline_ms.append(sample["ms"])
    breakdown = import_breakdown(handler)
    print(
        "  call_connect import by top-level package (-X importtime, self ms summed): "
        + ", ".join(f"{name} {ms:.0f}" for name, ms in breakdown)
    )
    return {
        "handler_import_median_ms": statistics.median(handler_ms),
        "handler_import_p90_ms": percentile(handler_ms, 90),
        "boto3_twilio_import_median_ms": statistics.median(baseline_ms),
        "import_ratio_of_medians": statistics.median(handler_ms) / statistics.median(baseline_ms),
        "pydantic_imported": seen["pydantic"],
        "pyairtable_imported": seen["pyairtable"],
        "aws_xray_sdk_imported": seen["aws_xray_sdk"],
    }


# ---------------------------------------------------------------- 2. calls per inbound call


def load_call_connect(name: str = "bench_call_connect_app") -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FUNCTION_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call_params(from_phone: str, to_number: str) -> dict[str, str]:
    from tests.support import ACCOUNT_SID

    return {
        "CallSid": f"CA{uuid.uuid4().hex}",
        "AccountSid": ACCOUNT_SID,
        "From": from_phone,
        "To": to_number,
        "CallStatus": "ringing",
        "Direction": "inbound",
    }


def calls_per_inbound_call(n_calls: int = N_CALLS, seed: int = 11) -> dict[str, Any]:
    from bench.calls_per_message import AirtableGuard, AwsCounter, bench_aws, measured_row, seed_world
    from tests.support import API_HOST, signed_event

    quiet_logs()
    counter = AwsCounter()
    guard = AirtableGuard()
    from masking.core.settings import get_voice_settings
    from masking.wiring import get_voice_services

    with bench_aws(counter, guard, get_voice_services.cache_clear, get_voice_settings.cache_clear) as (embedded, devnull):
        from masking.store.calls import DynamoCallStore
        from masking.wiring import sandbox_http_client

        store = DynamoCallStore(embedded.env["TABLE_NAME"])
        pairs = seed_world(store)
        handler = load_call_connect().lambda_handler
        sandbox = sandbox_http_client()
        not_bridged: Counter[str] = Counter()

        def invoke(path: str, params: dict[str, str], bridged: bool = True) -> dict[str, Any]:
            counter.reset()
            guard.reset()
            before = len(sandbox.requests)
            with redirect_stdout(devnull):  # Powertools' EMF line
                response = handler(signed_event(f"https://{API_HOST}{path}", params), FakeLambdaContext())
            row = measured_row(counter, guard, len(sandbox.requests) - before)
            row["root"] = ET.fromstring(response["body"]) if response["statusCode"] == 200 else None
            if bridged and (row["root"] is None or row["root"].find("Dial") is None):
                not_bridged[f"{response['statusCode']}"] += 1
            return row

        rng = random.Random(seed)
        new_lease_rows = [invoke("/twilio/voice", call_params(client.phone, provider.reserved_number)) for provider, client in pairs]
        pool_of = {
            client.client_id: store.get_provider_and_pair(provider.provider_id, client.client_id)[1].pool_number  # type: ignore[union-attr]
            for provider, client in pairs
        }
        steady_rows = []
        dial_rows = []
        for _ in range(n_calls):
            provider, client = rng.choice(pairs)
            if rng.random() < CLIENT_SHARE:
                params = call_params(client.phone, provider.reserved_number)
            else:
                params = call_params(provider.phone, pool_of[client.client_id])
            row = invoke("/twilio/voice", params)
            steady_rows.append(row)
            if len(dial_rows) < 20 and row["root"] is not None and row["root"].find("Dial") is not None:
                sid = params["CallSid"]
                outcome = {"CallSid": sid, "AccountSid": params["AccountSid"], "DialCallStatus": "completed", "DialCallDuration": "30"}
                dial_rows.append(invoke(f"/twilio/voice/status/{sid}/dial", outcome, bridged=False))

    figures: dict[str, Any] = {}
    for service in SERVICES:
        figures[f"steady_{service}_avg"], figures[f"steady_{service}_max"] = stats(steady_rows, service)
    figures["new_lease_dynamodb_avg"], figures["new_lease_dynamodb_max"] = stats(new_lease_rows[1:], "dynamodb")
    figures["dial_action_dynamodb_avg"], figures["dial_action_dynamodb_max"] = stats(dial_rows, "dynamodb")
    figures["first_invocation_ssm"] = new_lease_rows[0]["ssm"]
    figures["calls_not_bridged"] = sum(not_bridged.values())
    figures["hook_saw_all_aws_requests"] = all(row["unseen_aws"] == 0 for row in [*new_lease_rows, *steady_rows, *dial_rows])
    print(f"  steady ops per inbound call: {ops_summary(steady_rows)}")
    print(f"  new-lease ops per inbound call: {ops_summary(new_lease_rows[1:])}")
    print(f"  dial action ops: {ops_summary(dial_rows)}")
    return figures


def main(runs: int = RUNS, n_calls: int = N_CALLS) -> dict[str, Any]:
    print(f"\n== (e) call_connect: cold import ({runs} fresh interpreters each) and calls per inbound call ({n_calls}, moto)")
    figures = cold_import(runs) | calls_per_inbound_call(n_calls)
    print_figures("(e) call_connect", {name: figures[name] for name in TARGETS}, TARGETS)
    return figures


if __name__ == "__main__":
    main()
