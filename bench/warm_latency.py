"""(c) Warm latency of one SMS webhook, in-process, on fakes.

``tests.support.make_world(MemoryRoutingStore())``: the real router, the twilio library's
REST client on a SandboxHttpClient, a MemoryOutbox. The leases are opened first (one
per pair), then each timed call handles one pre-built signed event (steady state, both
directions), signature check included:

- ``handle_sms_webhook(event, services)`` directly;
- ``lambda_handler(event, context)`` with its Powertools decorators (context injection,
  EMF metrics flush, printed to /dev/null), with the handler module's
  ``get_sms_services`` replaced by the same services.

200 warm-up calls, then 2,000 timed with ``perf_counter_ns``; the GC stays on.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

from bench import FakeLambdaContext, Target, load_handler, percentile, print_figures, quiet_logs
from bench.calls_per_message import bench_people, sms_params, steady_messages

WARMUP = 200
TIMED = 2_000
TARGETS: dict[str, Target] = {"webhook_p50_ms": ("<=", 2.0)}


def _summary(prefix: str, samples_ms: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": percentile(samples_ms, 50),
        f"{prefix}_p95_ms": percentile(samples_ms, 95),
        f"{prefix}_p99_ms": percentile(samples_ms, 99),
        f"{prefix}_mean_ms": statistics.fmean(samples_ms),
    }


def _time(call: Callable[[dict[str, Any]], dict[str, Any]], events: list[dict[str, Any]]) -> list[float]:
    for event in events[:WARMUP]:
        call(event)
    samples = []
    for event in events[WARMUP:]:
        started = time.perf_counter_ns()
        response = call(event)
        samples.append((time.perf_counter_ns() - started) / 1e6)
        if response["statusCode"] != 200:
            raise RuntimeError(f"webhook answered {response['statusCode']}: {response['body']}")
    return samples


def main(timed: int = TIMED, seed: int = 11) -> dict[str, Any]:
    from masking.core.observability import metrics
    from masking.handlers.sms import handle_sms_webhook
    from masking.store.memory import MemoryRoutingStore
    from tests.support import SMS_URL, make_world, signed_event

    quiet_logs()
    rng = random.Random(seed)
    store = MemoryRoutingStore()
    extra_clients, pool, pairs = bench_people()
    world = make_world(store, pool=pool)
    for client in extra_clients:
        store.put_client(client)
    services = world.services
    for provider, client in pairs:  # open the leases
        handle_sms_webhook(signed_event(SMS_URL, sms_params(client.phone, provider.reserved_number, "hello")), services)
    pool_of = {
        client.client_id: store.get_provider_and_pair(provider.provider_id, client.client_id)[1].pool_number  # type: ignore[union-attr]
        for provider, client in pairs
    }

    def events() -> list[dict[str, Any]]:
        return [signed_event(SMS_URL, params) for params in steady_messages(rng, pairs, pool_of, WARMUP + timed)]

    direct_events = events()
    handler_events = events()
    forwarded_before = len(world.sandbox.sent)

    module = load_handler("bench_intercept_app_warm")
    module.get_sms_services = lambda: services  # what the handler calls per request
    context = FakeLambdaContext()
    # stdout to /dev/null: the EMF lines Powertools prints (per invocation, or per 100 metrics outside the handler)
    with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
        direct = _time(lambda event: handle_sms_webhook(event, services), direct_events)
        metrics.clear_metrics()  # what the direct calls counted: not this handler's
        through_handler = _time(lambda event: module.lambda_handler(event, context), handler_events)

    forwarded = len(world.sandbox.sent) - forwarded_before
    figures: dict[str, Any] = {**_summary("webhook", direct), **_summary("lambda_handler", through_handler)}
    figures["forwarded"] = forwarded
    print_figures(f"(c) warm latency, {timed} signed webhooks after {WARMUP} warm-up, memory store + sandbox Twilio", figures, TARGETS)
    expected = 2 * (WARMUP + timed)
    if forwarded != expected:
        print(f"  WARNING: {forwarded} of {expected} webhooks were forwarded")
    return figures


if __name__ == "__main__":
    main()
