"""(h) A cost and latency model of a forwarded SMS, from measured figures plus stated assumptions.

Measured here (or passed in by ``python -m bench``, which measured them already):
- external calls per steady-state message (bench/calls_per_message.py: DynamoDB, SQS, Twilio);
- in-process CPU time per webhook, p50 and p99 (bench/warm_latency.py).

Assumed, each a parameter (``--dynamodb-ms 5`` ...): the latency of one call to each
service. The webhook waits on every call in turn, so its time is the CPU time plus the
sum of its calls. p99 uses the p99 CPU time and each service's p99 latency.

Cost per 1,000 forwarded messages, with the unit prices below (us-east-1, on-demand):
- Lambda: one invocation for the webhook, plus the status callbacks Twilio posts for the
  forwarded SMS (``STATUS_CALLBACKS``: sent and delivered), billed per request and per
  GB-second at the function's memory for the modelled duration;
- API Gateway REST: the same requests;
- DynamoDB on-demand: the webhook's reads and writes (a transaction costs 2 write units per
  item, a strongly consistent read 1 read unit per 4 KB item), plus one UpdateItem per
  status callback;
- SQS: the outbox SendMessageBatch, and airtable_sync's receive and delete per 10 records.
Next to it, Twilio's own price for the two SMS segments (inbound and outbound).

The month for the reference operator: 34 providers x 25 clients x 5 messages a day.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from bench import Target, print_figures

# Unit prices, USD, us-east-1, from the public pricing pages below as of 2026-11 (check them before relying on the totals):
# Lambda: https://aws.amazon.com/lambda/pricing/ (per GB-second: x86_64 0.0000166667, arm64 0.0000133334;
#   per million requests 0.20)
LAMBDA_GB_SECOND = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
LAMBDA_PER_MILLION_REQUESTS = 0.20
# API Gateway REST API, first 333 million requests a month: https://aws.amazon.com/api-gateway/pricing/
API_GATEWAY_REST_PER_MILLION = 3.50
# DynamoDB on-demand: https://aws.amazon.com/dynamodb/pricing/on-demand/ (per million write / read request units)
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625
DYNAMODB_PER_MILLION_READ_UNITS = 0.125
# SQS standard queue, per million requests: https://aws.amazon.com/sqs/pricing/
SQS_PER_MILLION_REQUESTS = 0.40
# Twilio Programmable Messaging, US long code, per segment in or out (carrier fees extra): https://www.twilio.com/en-us/sms/pricing/us
TWILIO_SMS_SEGMENT = 0.0083

MEMORY_MB = 512  # template.yaml Globals.Function.MemorySize
STATUS_CALLBACKS = 2  # Twilio posts "sent" and "delivered" for a forwarded SMS
REFERENCE_MESSAGES_A_MONTH = 34 * 25 * 5 * 30

# The steady-state webhook's DynamoDB calls, by kind (bench/calls_per_message.py and the README):
# 2 BatchGetItem (3 and 2 items), 1 TransactWriteItems (MSG claim with the planned parts + 2
# lease items), and, when measured at 4 calls (before issue 19), 1 UpdateItem of the message
# record. A write unit covers 1 KB: the claim carries the inbound body and the planned parts
# (the body again, with any prefix), so it stays in one unit up to about 250 characters;
# a 1,600-character body makes it 4 units (8 in the transaction).
READ_UNITS_PER_BATCH_GET = {1: 3, 2: 2}  # items read, each under 4 KB, strongly consistent
WRITE_UNITS_PER_TRANSACTION = 2 * 3  # 3 items of at most 1 KB, twice the units inside a transaction
WRITE_UNITS_PER_UPDATE = 1

TARGETS: dict[str, Target] = {
    "webhook_p50_ms": None,
    "webhook_p99_ms": None,
    "aws_usd_per_1000": None,
    "twilio_usd_per_1000": None,
    "aws_share_of_total": None,
    "reference_month_aws_usd": None,
    "reference_month_twilio_usd": None,
}


@dataclass(frozen=True)
class Latency:
    """Assumed latency of one call, milliseconds (p50, p99)."""

    dynamodb: tuple[float, float] = (5.0, 12.0)
    sqs: tuple[float, float] = (10.0, 25.0)
    twilio: tuple[float, float] = (150.0, 450.0)


def webhook_ms(calls: dict[str, float], cpu_ms: float, latency: Latency, quantile: int) -> float:
    pick = 0 if quantile == 50 else 1
    return cpu_ms + calls["dynamodb"] * latency.dynamodb[pick] + calls["sqs"] * latency.sqs[pick] + calls["twilio"] * latency.twilio[pick]


def aws_cost_per_message(calls: dict[str, float], duration_ms: float, architecture: str) -> dict[str, float]:
    requests = 1 + STATUS_CALLBACKS
    callback_ms = duration_ms - calls["twilio"] * Latency().twilio[0]  # a callback sends nothing
    gb_seconds = MEMORY_MB / 1024 * (duration_ms + STATUS_CALLBACKS * max(callback_ms, 1.0)) / 1000
    dynamodb_calls = int(calls["dynamodb"])
    reads = READ_UNITS_PER_BATCH_GET[1] + READ_UNITS_PER_BATCH_GET[2]
    writes = WRITE_UNITS_PER_TRANSACTION + max(0, dynamodb_calls - 3) * WRITE_UNITS_PER_UPDATE + STATUS_CALLBACKS * WRITE_UNITS_PER_UPDATE
    sqs_requests = calls["sqs"] + STATUS_CALLBACKS * calls["sqs"] + 2 * (calls["sqs"] + STATUS_CALLBACKS) / 10
    return {
        "lambda": requests * LAMBDA_PER_MILLION_REQUESTS / 1e6 + gb_seconds * LAMBDA_GB_SECOND[architecture],
        "api_gateway": requests * API_GATEWAY_REST_PER_MILLION / 1e6,
        "dynamodb": writes * DYNAMODB_PER_MILLION_WRITE_UNITS / 1e6 + reads * DYNAMODB_PER_MILLION_READ_UNITS / 1e6,
        "sqs": sqs_requests * SQS_PER_MILLION_REQUESTS / 1e6,
    }


def measured_calls() -> dict[str, float]:
    from bench import calls_per_message

    figures = calls_per_message.main(n_messages=60)
    return {service: float(figures[f"steady_{service}_avg"]) for service in ("dynamodb", "sqs", "twilio")}


def measured_cpu() -> tuple[float, float]:
    from bench import warm_latency

    figures = warm_latency.main(timed=400)
    return float(figures["webhook_p50_ms"]), float(figures["webhook_p99_ms"])


def main(
    calls: dict[str, float] | None = None,
    cpu_ms: tuple[float, float] | None = None,
    latency: Latency | None = None,
    architecture: str = "arm64",
) -> dict[str, Any]:
    calls = calls or measured_calls()
    cpu_p50, cpu_p99 = cpu_ms or measured_cpu()
    latency = latency or Latency()
    p50 = webhook_ms(calls, cpu_p50, latency, 50)
    p99 = webhook_ms(calls, cpu_p99, latency, 99)
    parts = aws_cost_per_message(calls, p50, architecture)
    aws = sum(parts.values()) * 1000
    twilio = 2 * TWILIO_SMS_SEGMENT * 1000
    figures: dict[str, Any] = {
        "webhook_p50_ms": round(p50, 1),
        "webhook_p99_ms": round(p99, 1),
        "aws_usd_per_1000": round(aws, 4),
        "twilio_usd_per_1000": round(twilio, 2),
        "aws_share_of_total": f"{aws / (aws + twilio):.2%}",
        "reference_month_aws_usd": round(aws * REFERENCE_MESSAGES_A_MONTH / 1000, 2),
        "reference_month_twilio_usd": round(twilio * REFERENCE_MESSAGES_A_MONTH / 1000, 2),
    }
    title = (
        f"(h) cost and latency model: {architecture}, {MEMORY_MB} MB; calls per message DynamoDB {calls['dynamodb']:.2f},"
        f" SQS {calls['sqs']:.2f}, Twilio {calls['twilio']:.2f}; assumed ms p50/p99 DynamoDB {latency.dynamodb},"
        f" SQS {latency.sqs}, Twilio {latency.twilio}"
    )
    print_figures(title, figures, TARGETS)
    print("  per 1,000 messages, USD: " + ", ".join(f"{name} {value * 1000:.4f}" for name, value in parts.items()))
    print(f"  reference operator: {REFERENCE_MESSAGES_A_MONTH:,} messages a month (34 providers x 25 clients x 5 a day x 30 days)")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.cost_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dynamodb-ms", type=float, nargs=2, default=Latency.dynamodb, metavar=("P50", "P99"))
    parser.add_argument("--sqs-ms", type=float, nargs=2, default=Latency.sqs, metavar=("P50", "P99"))
    parser.add_argument("--twilio-ms", type=float, nargs=2, default=Latency.twilio, metavar=("P50", "P99"))
    parser.add_argument("--architecture", choices=sorted(LAMBDA_GB_SECOND), default="arm64")
    args = parser.parse_args()
    main(latency=Latency(tuple(args.dynamodb_ms), tuple(args.sqs_ms), tuple(args.twilio_ms)), architecture=args.architecture)
