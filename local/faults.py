"""Fault injection for DynamoDB and SQS, in front of moto (moto itself never fails).

``FaultyDynamoClient`` and ``FaultySqsClient`` wrap a boto3 client. Each call of an operation
in scope draws, with a seeded ``random.Random``, whether a fault of each kind hits it
(``rates``: kind -> probability per call), and tests can force the next faults with
``fail_next(operation, kind, times)``. The faults model what reaches *our* code, after
botocore's own retry layer:

DynamoDB (``DYNAMO_KINDS``):

- ``dynamodb_conflict``: TransactWriteItems is cancelled with a ``TransactionConflict``
  reason on one item. botocore never retries it (/work/research/aws.md section 4), so it
  reaches the store as is.
- ``dynamodb_throttle``: ``ProvisionedThroughputExceededException`` on any operation: what
  is left once botocore's retries of a throttle ran out (persistent throttling).
- ``dynamodb_applied_timeout``: a write is applied, the answer is lost (read timeout), and
  botocore sends the same request again; the store sees the answer to that second request.
  For a conditional PutItem it is ConditionalCheckFailed on its own first write; for
  TransactWriteItems the retry carries the same ClientRequestToken, and DynamoDB answers
  success without writing twice (its documented idempotency, which moto lacks: emulated
  here by remembering applied tokens with their items for 10 minutes).
- ``dynamodb_timeout``: ``ReadTimeoutError`` before anything is applied (every botocore
  attempt timed out).

SQS (``SQS_KINDS``): ``sqs_batch_fail`` makes a whole SendMessageBatch (or SendMessage)
raise; ``sqs_partial`` fails each entry of a batch with that probability (in ``Failed``).

Twilio (``TWILIO_KINDS``, on a ``SandboxHttpClient``'s Messages POSTs, ``wrap_twilio``):
``twilio_5xx`` (HTTP 500, code 20500), ``twilio_429`` (HTTP 429, code 20429),
``twilio_timeout`` (a read timeout, nothing sent) and ``twilio_accepted_timeout`` (Twilio
accepted and sent the message, the answer was lost).

``install(plan)`` wraps the clients every ``DynamoTable`` and ``SqsOutbox`` creates from
then on (the local runner's ``POST /_local/faults``); ``uninstall()`` undoes it.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

DYNAMO_KINDS = ("dynamodb_conflict", "dynamodb_throttle", "dynamodb_applied_timeout", "dynamodb_timeout")
SQS_KINDS = ("sqs_batch_fail", "sqs_partial")
TWILIO_KINDS = ("twilio_5xx", "twilio_429", "twilio_timeout", "twilio_accepted_timeout")
ALL_KINDS = (*DYNAMO_KINDS, *SQS_KINDS, *TWILIO_KINDS)
DYNAMO_WRITES = frozenset({"put_item", "update_item", "delete_item", "transact_write_items"})
DYNAMO_READS = frozenset({"get_item", "batch_get_item", "query"})
SQS_SENDS = frozenset({"send_message_batch", "send_message"})
TOKEN_WINDOW_SECONDS = 600


def client_error(code: str, message: str, operation: str, **extra: Any) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}, **extra}
    return ClientError(response, operation)  # type: ignore[arg-type]


def _operation_name(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("_"))


@dataclass
class FaultPlan:
    """Rates per fault kind, a seeded random source, forced faults and what was injected."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    forced: list[tuple[str, str]] = field(default_factory=list)  # (operation or "*", kind)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def set(self, rates: dict[str, float], seed: int | None = None) -> None:
        unknown = set(rates) - set(ALL_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        for kind, rate in rates.items():
            if not 0 <= float(rate) <= 1:
                raise ValueError(f"{kind}: a rate is a probability from 0 to 1")
        with self._lock:
            self.rates = {kind: float(rate) for kind, rate in rates.items() if float(rate) > 0}
            if seed is not None:
                self.seed = seed
                self.random = random.Random(seed)

    def fail_next(self, operation: str, kind: str, times: int = 1) -> None:
        with self._lock:
            self.forced.extend([(operation, kind)] * times)

    def draw(self, operation: str, kinds: tuple[str, ...]) -> str | None:
        """The fault kind that hits this call of ``operation``, or None."""
        with self._lock:
            for index, (op, kind) in enumerate(self.forced):
                if kind in kinds and op in (operation, "*"):
                    del self.forced[index]
                    self.injected[kind] += 1
                    return kind
            for kind in kinds:
                rate = self.rates.get(kind, 0.0)
                if rate and self.random.random() < rate:
                    self.injected[kind] += 1
                    return kind
        return None

    def chance(self, kind: str) -> bool:
        with self._lock:
            rate = self.rates.get(kind, 0.0)
            hit = bool(rate) and self.random.random() < rate
            if hit:
                self.injected[kind] += 1
            return hit

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"rates": dict(self.rates), "seed": self.seed, "injected": dict(self.injected), "forced": list(self.forced)}


class FaultyDynamoClient:
    """A boto3 DynamoDB client with faults injected by ``plan`` (see the module docstring)."""

    def __init__(self, client: Any, plan: FaultPlan | None = None) -> None:
        self._client = client
        self.plan = plan or FaultPlan()
        self._tokens: dict[str, tuple[float, str]] = {}  # ClientRequestToken -> (applied at, items)
        self._tokens_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in DYNAMO_WRITES or name in DYNAMO_READS:
            return lambda **kwargs: self._call(name, attr, kwargs)
        return attr

    def _call(self, name: str, method: Any, kwargs: dict[str, Any]) -> Any:
        kinds = ("dynamodb_throttle", "dynamodb_timeout")
        if name in DYNAMO_WRITES:
            kinds = ("dynamodb_applied_timeout", *kinds)
        if name == "transact_write_items":
            kinds = ("dynamodb_conflict", *kinds)
        kind = self.plan.draw(name, kinds)
        operation = _operation_name(name)
        if kind == "dynamodb_conflict":
            reasons = [{"Code": "None"} for _ in kwargs["TransactItems"]]
            reasons[self.plan.random.randrange(len(reasons))] = {
                "Code": "TransactionConflict",
                "Message": "Transaction is ongoing for the item",
            }
            codes = ", ".join(reason["Code"] for reason in reasons)
            raise client_error(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                operation,
                CancellationReasons=reasons,
            )
        if kind == "dynamodb_throttle":
            raise client_error(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
                operation,
            )
        if kind == "dynamodb_timeout":
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/")
        if kind == "dynamodb_applied_timeout":
            with contextlib.suppress(ClientError):
                self._send(name, method, kwargs)  # applied; its answer is lost
            # botocore's retry of the same request (the same ClientRequestToken)
        return self._send(name, method, kwargs)

    def _send(self, name: str, method: Any, kwargs: dict[str, Any]) -> Any:
        if name != "transact_write_items" or not kwargs.get("ClientRequestToken"):
            return method(**kwargs)
        token = str(kwargs["ClientRequestToken"])
        items = json.dumps(kwargs["TransactItems"], sort_keys=True, default=str)
        now = time.monotonic()
        with self._tokens_lock:
            seen = self._tokens.get(token)
            if seen is not None and now - seen[0] < TOKEN_WINDOW_SECONDS:
                if seen[1] != items:
                    raise client_error("IdempotentParameterMismatchException", "same token, other parameters", "TransactWriteItems")
                return {}  # already applied: DynamoDB answers success and writes nothing
        response = method(**kwargs)
        with self._tokens_lock:
            self._tokens[token] = (now, items)
        return response


class FaultySqsClient:
    """A boto3 SQS client whose sends fail by ``plan`` (``sqs_batch_fail``, ``sqs_partial``)."""

    def __init__(self, client: Any, plan: FaultPlan | None = None) -> None:
        self._client = client
        self.plan = plan or FaultPlan()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in SQS_SENDS:
            return lambda **kwargs: self._send(name, attr, kwargs)
        return attr

    def _send(self, name: str, method: Any, kwargs: dict[str, Any]) -> Any:
        if self.plan.draw(name, ("sqs_batch_fail",)):
            raise client_error("ServiceUnavailable", "injected: SQS is unavailable", _operation_name(name))
        if name != "send_message_batch":
            return method(**kwargs)
        failed = [entry for entry in kwargs["Entries"] if self.plan.chance("sqs_partial")]
        if len(failed) == len(kwargs["Entries"]):
            response: dict[str, Any] = {"Successful": []}
        else:
            kept = [entry for entry in kwargs["Entries"] if entry not in failed]
            response = dict(method(**{**kwargs, "Entries": kept}))
        if failed:
            response["Failed"] = [
                {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"} for entry in failed
            ]
        return response


def wrap_twilio(sandbox: Any, plan: FaultPlan) -> None:
    """Makes a ``SandboxHttpClient``'s message sends fail by ``plan`` (once per sandbox)."""
    if getattr(sandbox, "_faults_wrapped", False):
        return
    original = sandbox.request

    def request(method: str, uri: str, *args: Any, **kwargs: Any) -> Any:
        if method.upper() != "POST" or not uri.endswith("/Messages.json"):
            return original(method, uri, *args, **kwargs)
        kind = plan.draw("send_sms", TWILIO_KINDS)
        if kind == "twilio_5xx":
            sandbox.fail_next(20500)
        elif kind == "twilio_429":
            from twilio.http.response import Response

            return Response(429, json.dumps({"code": 20429, "message": "Too Many Requests", "status": 429}))
        elif kind == "twilio_timeout":
            import requests

            raise requests.exceptions.ReadTimeout("injected: Twilio read timeout")
        elif kind == "twilio_accepted_timeout":
            import requests

            original(method, uri, *args, **kwargs)  # accepted and sent
            raise requests.exceptions.ReadTimeout("injected: Twilio accepted, the answer was lost")
        return original(method, uri, *args, **kwargs)

    sandbox.request = request
    sandbox._faults_wrapped = True


# ---- process-wide installation (the local runner)
PLAN = FaultPlan()
_originals: dict[str, Any] = {}


def install(plan: FaultPlan = PLAN) -> FaultPlan:
    """Wraps the DynamoDB client of every ``DynamoTable`` and the SQS client of every
    ``SqsOutbox`` with ``plan`` (clients already built are wrapped on their next use)."""
    from masking.adapters.aws_queues import SqsOutbox
    from masking.store.items import DynamoTable

    if _originals:
        return plan
    _originals["dynamo"] = DynamoTable.client
    _originals["sqs"] = SqsOutbox.client

    def dynamo_client(self: Any) -> Any:
        client = _originals["dynamo"].fget(self)
        if not isinstance(client, FaultyDynamoClient):
            client = self._client = FaultyDynamoClient(client, plan)
        return client

    def sqs_client(self: Any) -> Any:
        client = _originals["sqs"].fget(self)
        if not isinstance(client, FaultySqsClient):
            client = self._client = FaultySqsClient(client, plan)
        return client

    DynamoTable.client = property(dynamo_client)  # type: ignore[assignment,method-assign]
    SqsOutbox.client = property(sqs_client)  # type: ignore[assignment,method-assign]
    return plan


def uninstall() -> None:
    from masking.adapters.aws_queues import SqsOutbox
    from masking.store.items import DynamoTable

    if not _originals:
        return
    DynamoTable.client = _originals.pop("dynamo")  # type: ignore[method-assign]
    SqsOutbox.client = _originals.pop("sqs")  # type: ignore[method-assign]
