"""Docker-free local runner: every API route of template.yaml on 127.0.0.1.

    python -m local.runner --port 3000 [--quiet]

Each request becomes an API Gateway (REST, proxy) event and is handed to the function's
``lambda_handler`` in-process (routes with ``Auth: ApiKeyRequired`` first need the demo
admin key in ``x-api-key``, as API Gateway would check it), with moto as AWS (``local.backends``), Twilio in the
sandbox transport (nothing leaves the machine) and the demo data of ``local.demo_data``.
After each invocation the outbox is drained into memory and every SMS the sandbox
recorded is printed. Local-only endpoints:

- ``GET /_local/health``: up, routes, public base URL
- ``GET /_local/sent[?clear=1]``: SMS sent so far, newest last
- ``GET /_local/outbox[?clear=1]``: mirror records drained from the outbox
- ``POST /_local/sign`` (form body, header ``X-Url``): the X-Twilio-Signature for it
- ``GET /_local/airtable[/<table>]``: the Airtable stand-in's tables (row counts) or rows;
  the outbox is synced into it through ``airtable_sync`` by a background thread (no request
  waits for Airtable); this endpoint answers once what the outbox held is written
- ``POST /_local/schedules/<name>``: runs a schedule now (``SCHEDULES`` below)
- ``POST /_local/hooks/catch[?status=NNN]``: a hook consumer to subscribe (``POST /hooks``
  with ``target_url`` http://127.0.0.1:<port>/_local/hooks/catch): keeps each delivery and
  answers ``status`` (default 200; 500, 429 or 410 show a retry or an unsubscribe);
  ``GET /_local/hooks/caught[?clear=1]``: the deliveries so far, once the outbox and the
  hooks queue are delivered
- ``GET /``: the browser console (``local/console/``): one phone per demo person and an
  operator panel; its own endpoints are under ``/_local/console/`` (see ``Console``)
- ``GET /_local/faults``: the injected fault rates and what was injected so far;
  ``POST /_local/faults`` (JSON ``{"<kind>": rate, ..., "seed": n}``, kinds in
  ``local.faults.ALL_KINDS``; ``{}`` turns them off) injects DynamoDB, SQS and Twilio faults

The retry queue is polled every second and delivered to ``resend`` (with a 5 s delay
instead of 600 s), and so is the forward queue to ``forward`` (forwards parked after a
transient Twilio failure; the waits are 1-5 s instead of 15 s to 2 h) and the hooks queue
to ``hooks`` (retries after 1-3 s instead of 30 s to 15 min). A forward record
the consumer reports as failed goes back on the queue, as SQS would redeliver it.
The API's own integrations (template.yaml DefinitionBody) are emulated:
``POST /twilio/sms/fallback`` stores the request on the fallback queue as API Gateway's SQS
integration does (raw body, signature and URL as message attributes), and the queue is
polled every second into ``fallback_replay``; ``POST /twilio/voice/fallback`` answers its
static TwiML. Records the outbox spilled to the table are republished every 5 seconds.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import importlib.util
import ipaddress
import json
import os
import queue
import re
import shlex
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "masking"
if str(LAYER) not in sys.path:  # what the Lambda layer provides in AWS
    sys.path.insert(0, str(LAYER))

from local.apigw import api_gateway_event, twilio_signature  # noqa: E402
from local.backends import DEMO_ACCOUNT_SID, DEMO_ADMIN_API_KEY, DEMO_AUTH_TOKEN, REGION, VERIFICATION_PHONE, EmbeddedAws  # noqa: E402
from local.template import ApiRoute, IntegrationRoute, api_routes, function_spec, integration_routes, load_template  # noqa: E402

STAGE = "local"
QUEUE_CONSUMERS = {"outbox": "AirtableSyncFunction", "retry": "ResendFunction", "forward": "ForwardFunction", "hooks": "HooksFunction"}
SCHEDULES = {
    "pool_monitor": "PoolMonitorFunction",
    "standby_keeper": "StandbyKeeperFunction",
    "lease_sweeper": "LeaseSweeperFunction",
    "airtable_redrive": "AirtableRedriveFunction",
    "outbox_republisher": "OutboxRepublisherFunction",
    "airtable_provisioner": "AirtableProvisionerFunction",
}
# nothing lost: storage. Queues API Gateway integrations write to, by logical id -> env name
INTEGRATION_QUEUES = {"FallbackQueue": "FALLBACK_QUEUE_URL"}
FALLBACK_CONSUMER = "FallbackReplayFunction"
MAX_RECEIVES = 10  # the fallback queue's maxReceiveCount
MIRROR_TABLES = ("Sitters", "Clients", "Messages", "Number Inventory", "Audit Log", "Calls", "Pool Stats")
SERVICE = "masking-local-runner"
Handler = Callable[[dict[str, Any], Any], Any]
Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Route:
    """An API route of the template, with its path template compiled to a regex."""

    api: ApiRoute
    pattern: re.Pattern[str]
    params: tuple[str, ...]

    @classmethod
    def of(cls, api: ApiRoute) -> Route:
        params: list[str] = []

        def group(match: re.Match[str]) -> str:
            name, greedy = match.group(1), match.group(2)
            params.append(name)
            return f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"

        parts = re.split(r"(\{[A-Za-z0-9_]+\+?\})", api.path.rstrip("/") or "/")
        regex = "".join(re.sub(r"\{([A-Za-z0-9_]+)(\+?)\}", group, p) if p.startswith("{") else re.escape(p) for p in parts)
        return cls(api=api, pattern=re.compile(f"^{regex}/?$"), params=tuple(params))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}

    @property
    def specificity(self) -> tuple[int, int]:
        """Static routes first, then fewer parameters, then longer templates."""
        return len(self.params), -len(self.api.path)


@dataclass
class FakeLambdaContext:
    """The attributes Powertools and handlers read from Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 10
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def load_handler(route: ApiRoute) -> Handler:
    """Imports ``<CodeUri>/<module>.py`` under a unique name (every function has an app.py)."""
    return load_function(route.function, route.code_uri, route.handler)


def load_function(logical_id: str, code_uri: str, handler: str) -> Handler:
    module_path, attribute = handler.rsplit(".", 1)
    code_dir = ROOT / code_uri
    if str(code_dir) not in sys.path:  # the function's own packages, as in /var/task
        sys.path.append(str(code_dir))
    source = code_dir / (module_path.replace(".", "/") + ".py")
    spec = importlib.util.spec_from_file_location(f"fn_{logical_id}", source)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {source}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, attribute)  # type: ignore[no-any-return]


def function_limits(logical_id: str) -> tuple[int, int]:
    """(MemorySize, Timeout) of a function, from its properties or the template's Globals."""
    template = load_template()
    defaults = (template.get("Globals") or {}).get("Function") or {}
    props = template["Resources"][logical_id].get("Properties") or {}
    return int(props.get("MemorySize", defaults.get("MemorySize", 512))), int(props.get("Timeout", defaults.get("Timeout", 10)))


def json_body(status: int, payload: Any) -> Response:
    return status, {"Content-Type": "application/json"}, json.dumps(payload, ensure_ascii=False).encode()


class LocalRunner:
    """Embedded AWS + demo data + the template's functions, invoked one at a time."""

    def __init__(self, host: str = "127.0.0.1", port: int = 3000, *, quiet: bool = False, public_base_url: str | None = None) -> None:
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the local runner only listens on loopback, not {host}")
        if public_base_url is not None and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", public_base_url):
            raise ValueError(f"--public-base-url takes an http(s) URL without query, e.g. http://127.0.0.1:3000, not {public_base_url!r}")
        self.host, self.port, self.quiet = host, port, quiet
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.aws = EmbeddedAws()
        self.routes: list[Route] = []
        self.integrations: list[IntegrationRoute] = []
        self.handlers: dict[str, Handler] = {}
        self.outbox: list[dict[str, Any]] = []
        self.consumers: dict[str, Handler] = {}
        self.standin: Any = None
        self._stopping = threading.Event()
        self._mirror_queue: queue.Queue[list[str]] = queue.Queue()
        self.caught: list[dict[str, Any]] = []  # what /_local/hooks/catch received
        self._caught_lock = threading.Lock()  # not self._lock: the hooks consumer POSTs while holding it
        self._threads: list[threading.Thread] = []
        # One invocation at a time, like one Lambda execution environment: Powertools'
        # Logger and Metrics are process-wide, and the SMS printing diffs the sandbox.
        self._lock = threading.Lock()
        self.console = Console(self)  # the browser console's endpoints (block below LocalRunner)

    @property
    def base_url(self) -> str:
        """The URL the runner listens on."""
        return f"http://{self.host}:{self.port}"

    @property
    def public_base_url(self) -> str:
        """The URL callers use and Twilio signs: ``base_url`` unless ``--public-base-url``
        says otherwise (a proxy in front, or the README's examples, signed for port 3000,
        replayed on another port)."""
        return self._public_base_url or self.base_url

    def start(self, port: int | None = None) -> None:
        """Starts moto, sets the functions' environment, seeds the demo, imports the functions."""
        if port is not None:
            self.port = port
        os.environ.setdefault("LOG_LEVEL", "ERROR" if self.quiet else "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        self.aws.start()
        os.environ["PUBLIC_BASE_URL"] = self.public_base_url  # Twilio signs the URL it calls

        from local.demo_data import CLIENTS, PROVIDERS, demo_numbers, seed_demo
        from masking.core.settings import clear_settings_cache
        from masking.store.dynamo import DynamoRoutingStore

        clear_settings_cache()
        seed_demo(DynamoRoutingStore(self.aws.env["TABLE_NAME"]))
        # The demo's numbers and phones are taken: the sandbox Twilio never offers them for sale.
        # (Its range, 555-5000 and up, is disjoint from them anyway: tests/unit/test_sandbox_numbers.py.)
        taken = [n.number for n in demo_numbers()] + [party.phone for party in (*PROVIDERS, *CLIENTS)] + [VERIFICATION_PHONE]
        self.sandbox.bought.extend(taken)
        self.start_airtable_standin()
        os.environ["WEBHOOK_BASE_URL"] = self.public_base_url  # numbers bought by a schedule point here
        self.routes = sorted((Route.of(api) for api in api_routes()), key=lambda r: r.specificity)
        for route in self.routes:
            if route.api.function not in self.handlers:
                self.handlers[route.api.function] = load_handler(route.api)
        for logical_id in (*QUEUE_CONSUMERS.values(), *SCHEDULES.values(), FALLBACK_CONSUMER):
            self.consumers[logical_id] = load_function(logical_id, *function_spec(logical_id))
        self.integrations = integration_routes()
        for target, name in (
            (self._poll_retry_queue, "retry-queue"),
            (self._sync_mirror, "airtable-sync"),
            (self._poll_storage, "fallback-queue"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def start_airtable_standin(self) -> None:
        """The operator's Airtable base, in memory on a loopback port (schema applied)."""
        from local.airtable_standin import AirtableStandin, apply_mirror_schema
        from local.backends import AIRTABLE_BASE_ID
        from local.demo_data import FORM_SITTER_ROW

        self.standin = AirtableStandin()
        apply_mirror_schema(self.standin, AIRTABLE_BASE_ID)
        self.standin.insert("Sitters", FORM_SITTER_ROW, AIRTABLE_BASE_ID)  # the Add Sitter form's Pending row
        server, _ = self.standin.serve("127.0.0.1", 0)
        os.environ["AIRTABLE_API_URL"] = f"http://127.0.0.1:{server.server_address[1]}"

    def _poll_retry_queue(self) -> None:
        """Delivers the retry queue (resends) and the forward queue (parked forwards), both
        delayed, to their consumers, as SQS would."""
        while not self._stopping.wait(1.0):
            with self._lock:
                try:
                    self.deliver_queue("RETRY_QUEUE_URL", "ResendFunction")
                    self.deliver_queue("FORWARD_QUEUE_URL", "ForwardFunction")
                    self.deliver_queue("HOOKS_QUEUE_URL", "HooksFunction")
                except Exception:
                    traceback.print_exc()

    def deliver_queue(self, queue_env: str, logical_id: str) -> None:
        """One poll of a queue (call under the lock): its visible messages to the consumer;
        the records it reports failed go back on the queue (SQS would redeliver them)."""
        bodies = self.aws.drain(queue_env)
        if not bodies:
            return
        result = self.consume(logical_id, bodies)
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        if failed:
            self.aws.requeue(queue_env, [body for index, body in enumerate(bodies) if f"m{index}" in failed], delay_seconds=2)
        self.mirror_outbox()

    def _poll_storage(self) -> None:
        """Delivers the fallback queue to fallback_replay (a failed record comes back, as
        SQS would, until MAX_RECEIVES) and republishes spilled outbox records every 5 s."""
        ticks = 0
        while not self._stopping.wait(1.0):
            ticks += 1
            with self._lock:
                try:
                    self.replay_fallback_queue()
                    if ticks % 5 == 0:
                        self.consumers["OutboxRepublisherFunction"](
                            {"source": "aws.scheduler"}, FakeLambdaContext("OutboxRepublisherFunction")
                        )
                        self.mirror_outbox()
                except Exception:
                    traceback.print_exc()

    def replay_fallback_queue(self) -> int:
        """Receives the fallback queue into fallback_replay once (call under the lock);
        returns how many records were delivered."""
        import boto3

        sqs = boto3.client("sqs", region_name=REGION)
        url = self.aws.env["FALLBACK_QUEUE_URL"]
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["ApproximateReceiveCount"]
        ).get("Messages", [])
        if not messages:
            return 0
        records = [
            {
                "messageId": m["MessageId"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    name: {"stringValue": value.get("StringValue", ""), "dataType": value.get("DataType", "String")}
                    for name, value in (m.get("MessageAttributes") or {}).items()
                },
            }
            for m in messages
        ]
        result = self.consumers[FALLBACK_CONSUMER]({"Records": records}, FakeLambdaContext(FALLBACK_CONSUMER))
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        for m in messages:
            received = int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if m["MessageId"] not in failed or received >= MAX_RECEIVES:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:  # visible again in 5 s instead of the queue's 60 s visibility timeout
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=5)
        self.mirror_outbox()
        return len(messages)

    def store_on_queue(self, route: IntegrationRoute, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        """API Gateway's SQS integration of ``route`` (template.yaml's request template):
        the raw body, the signature, the host and the path as message attributes."""
        import boto3

        lowered = {k.lower(): v for k, v in headers.items()}
        path = urlsplit(raw_path).path
        attributes = {
            "TwilioSignature": lowered.get("x-twilio-signature") or "missing",
            "Host": lowered.get("host") or "unknown",
            "Path": f"/{STAGE}{path}",
            "ResourcePath": route.path,
        }
        try:
            boto3.client("sqs", region_name=REGION).send_message(
                QueueUrl=self.aws.env[INTEGRATION_QUEUES[route.queue]],
                MessageBody=body.decode("utf-8"),
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        except Exception:
            traceback.print_exc()
            return 500, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}'
        status, content_type, answer = route.static_answer()
        return status, {"Content-Type": content_type}, answer.encode()

    def set_faults(self, body: bytes) -> Response:
        from local import faults

        try:
            wanted = json.loads(body or b"{}")
            if not isinstance(wanted, dict):
                raise ValueError("a JSON object of fault kind -> rate")
            seed = wanted.pop("seed", None)
            faults.PLAN.set({str(k): float(v) for k, v in wanted.items()}, seed=int(seed) if seed is not None else None)
        except (ValueError, TypeError) as exc:
            return json_body(422, {"success": False, "error": str(exc), "details": {"kinds": list(faults.ALL_KINDS)}})
        faults.install(faults.PLAN)
        faults.wrap_twilio(self.sandbox, faults.PLAN)
        return json_body(200, {"success": True, **faults.PLAN.describe()})

    def consume(self, logical_id: str, bodies: list[str]) -> Any:
        """Invokes a queue consumer with an SQS event of ``bodies`` (call under the lock)."""
        records = [
            {
                "messageId": f"m{index}",
                "receiptHandle": str(uuid.uuid4()),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{logical_id}",
                "awsRegion": REGION,
            }
            for index, body in enumerate(bodies)
        ]
        memory, timeout = function_limits(logical_id)
        return self.consumers[logical_id](
            {"Records": records}, FakeLambdaContext(logical_id, memory_limit_in_mb=memory, timeout_seconds=timeout)
        )

    def mirror_outbox(self) -> None:
        """Drains the outbox: keeps the records for /_local/outbox and hands them to the
        mirror thread, which syncs them to the Airtable stand-in through airtable_sync (call
        under the lock). As in AWS, no request waits for Airtable (a 429 costs 30 s)."""
        bodies = self.aws.drain_outbox()
        if not bodies:
            return
        self.outbox.extend(json.loads(text) for text in bodies)
        self._mirror_queue.put(bodies)

    def _sync_mirror(self) -> None:
        """The outbox consumer: one airtable_sync invocation per drained batch, in order."""
        while not self._stopping.is_set():
            try:
                bodies = self._mirror_queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self.consume("AirtableSyncFunction", bodies)
            except Exception:
                traceback.print_exc()
            finally:
                self._mirror_queue.task_done()

    def run_schedule(self, name: str) -> Response:
        logical_id = SCHEDULES.get(name)
        if logical_id is None:
            return json_body(404, {"success": False, "error": "no such schedule", "details": {"schedules": sorted(SCHEDULES)}})
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": "123456789012",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [],
            "detail": {},
        }
        memory, timeout = function_limits(logical_id)
        with self._lock:
            result = self.consumers[logical_id](event, FakeLambdaContext(logical_id, memory_limit_in_mb=memory, timeout_seconds=timeout))
            self.mirror_outbox()
        return json_body(200, {"success": True, "schedule": name, "result": result})

    def stop(self) -> None:
        """Stops the pollers first (a poll after moto stops would go to the real AWS), then moto."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.aws.stop()

    @property
    def sandbox(self) -> Any:
        from masking.wiring import sandbox_http_client

        return sandbox_http_client()

    # ---- requests
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        path = urlsplit(raw_path).path
        if Console.serves(path):
            return self.console.handle(method, raw_path, headers, body)
        if path.startswith("/_local/"):
            return self.local_endpoint(method, raw_path, headers, body)
        for integration in self.integrations:
            if integration.path == path and integration.method == method:
                if integration.kind == "sqs":
                    return self.store_on_queue(integration, raw_path, headers, body)
                status, content_type, answer = integration.static_answer()
                return status, {"Content-Type": content_type}, answer.encode()
        allowed = []
        for route in self.routes:
            params = route.match(path)
            if params is None:
                continue
            if route.api.method in (method, "ANY"):
                if route.api.api_key_required and not self.has_api_key(headers):
                    return json_body(403, {"message": "Forbidden"})  # API Gateway's own answer
                return self.invoke(route, params, method, raw_path, headers, body)
            allowed.append(route.api.method)
        if allowed:
            status, response_headers, payload = json_body(
                405, {"success": False, "error": "method not allowed", "details": {"method": method, "path": path, "allowed": allowed}}
            )
            return status, {**response_headers, "Allow": ", ".join(sorted(set(allowed)))}, payload
        known = [f"{r.api.method} {r.api.path}" for r in self.routes]
        return json_body(404, {"success": False, "error": "no route", "details": {"method": method, "path": path, "routes": known}})

    def has_api_key(self, headers: dict[str, str]) -> bool:
        provided = next((v for k, v in headers.items() if k.lower() == "x-api-key"), "")
        return hmac.compare_digest(provided.encode(), self.aws.admin_api_key.encode())

    def invoke(self, route: Route, params: dict[str, str], method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        event = api_gateway_event(
            method,
            self.public_base_url + raw_path,
            body=body if body else None,
            headers=headers,
            stage=STAGE,
            resource=route.api.path,
            path_parameters=params or None,
        )
        memory, timeout = function_limits(route.api.function)
        context = FakeLambdaContext(route.api.function, memory_limit_in_mb=memory, timeout_seconds=timeout)
        with self._lock:
            already_sent = len(self.sandbox.sent)
            try:
                result = self.handlers[route.api.function](event, context)
            except Exception:
                traceback.print_exc()
                result = {"statusCode": 502, "body": json.dumps({"message": "Internal server error"})}
            self.console.observe(route.api.path, body, result)
            self.mirror_outbox()
            new_sms = list(self.sandbox.sent[already_sent:])
        if not self.quiet:
            for sms in new_sms:
                media = f"  [+{len(sms.media_urls)} media]" if sms.media_urls else ""
                print(f"SMS  {sms.from_number} -> {sms.to_phone}  {json.dumps(sms.body, ensure_ascii=False)}{media}", flush=True)
        return self.to_http(result)

    @staticmethod
    def to_http(result: Any) -> Response:
        """A Lambda proxy result as API Gateway answers it (malformed: 502)."""
        if not isinstance(result, dict) or not isinstance(result.get("statusCode", 200), int):
            return json_body(502, {"message": "Internal server error"})
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(str(v) for v in values)
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return int(result.get("statusCode", 200)), headers, payload

    # ---- /_local/*
    def local_endpoint(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(raw_path)
        clear = parse_qs(parts.query).get("clear", ["0"])[-1] not in ("", "0", "false")
        if method == "GET" and parts.path == "/_local/health":
            routes = [f"{r.api.method} {r.api.path}" for r in self.routes]
            health = {"ok": True, "service": SERVICE, "public_base_url": self.public_base_url, "stage": STAGE, "routes": routes}
            return json_body(200, health)
        if method == "GET" and parts.path == "/_local/sent":
            with self._lock:
                sent = [asdict(sms) for sms in self.sandbox.sent]
                if clear:
                    self.sandbox.clear()
            return json_body(200, sent)
        if method == "GET" and parts.path == "/_local/outbox":
            with self._lock:
                records = list(self.outbox)
                if clear:
                    self.outbox.clear()
            return json_body(200, records)
        if method == "POST" and parts.path.startswith("/_local/schedules/"):
            return self.run_schedule(parts.path.rsplit("/", 1)[-1])
        if parts.path in ("/_local/hooks/catch", "/_local/hooks/caught"):
            return self.hooks_endpoint(method, parts.path, parse_qs(parts.query), headers, body, clear)
        if method == "GET" and parts.path.startswith("/_local/airtable"):
            from local.backends import AIRTABLE_BASE_ID

            table = unquote(parts.path[len("/_local/airtable") :].strip("/"))
            self._mirror_queue.join()  # what the outbox held so far is in the stand-in
            if not table:
                return json_body(200, {name: len(self.standin.rows(name, AIRTABLE_BASE_ID)) for name in MIRROR_TABLES})
            return json_body(200, self.standin.rows(table, AIRTABLE_BASE_ID))
        if parts.path == "/_local/faults" and method in ("GET", "POST"):
            from local import faults

            return self.set_faults(body) if method == "POST" else json_body(200, faults.PLAN.describe())
        if method == "POST" and parts.path == "/_local/sign":
            lowered = {k.lower(): v for k, v in headers.items()}
            url = lowered.get("x-url") or f"{self.public_base_url}/twilio/sms"
            form = body.decode("utf-8", "replace")
            signature = twilio_signature(self.aws.auth_token, url, parse_qsl(form, keep_blank_values=True))
            curl = f"curl -s -H 'X-Twilio-Signature: {signature}' --data {shlex.quote(form)} {shlex.quote(url)}"
            return json_body(200, {"url": url, "signature": signature, "curl": curl})
        return json_body(404, {"success": False, "error": "no route", "details": {"method": method, "path": parts.path}})

    def hooks_endpoint(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes, clear: bool
    ) -> Response:
        """A hook consumer on the runner itself (see the module docstring)."""
        if method == "POST" and path == "/_local/hooks/catch":
            status = int(query.get("status", ["200"])[-1])
            signed = {k: v for k, v in headers.items() if k.lower().startswith("x-masking-")}
            try:
                payload: Any = json.loads(body)
            except ValueError:
                payload = body.decode("utf-8", "replace")
            with self._caught_lock:
                self.caught.append({"answered": status, "headers": signed, "body": payload})
            return json_body(status, {"status": "caught"})
        if method == "GET" and path == "/_local/hooks/caught":
            self._mirror_queue.join()  # the outbox's events are on the hooks queue
            with self._lock:
                self.deliver_queue("HOOKS_QUEUE_URL", "HooksFunction")
            with self._caught_lock:
                caught = list(self.caught)
                if clear:
                    self.caught.clear()
            return json_body(200, caught)
        return json_body(405, {"success": False, "error": "method not allowed", "details": {"method": method, "path": path}})

    def banner(self) -> str:
        from local.demo_data import CLIENTS, POOL_NUMBERS, PROVIDERS, STANDBY_NUMBER

        lines = [f"Local runner on {self.base_url} (stage {STAGE!r}, no Docker, Twilio sandbox: nothing leaves this machine)"]
        if self.public_base_url != self.base_url:
            lines += [f"Public base URL (what callers use and Twilio signs): {self.public_base_url}"]
        lines += [f"Browser console: open {self.base_url}/ (one phone per demo person, an operator panel)", "Routes:"]
        lines += [f"  {r.api.method:6} {self.base_url}{r.api.path}  -> {r.api.function}" for r in self.routes]
        lines += [
            "  GET    /_local/health | /_local/sent[?clear=1] | /_local/outbox[?clear=1] | /_local/airtable[/<table>]",
            "  POST   /_local/sign (form body, X-Url header)",
            "  POST   /_local/schedules/<name>  (" + ", ".join(SCHEDULES) + ")",
            "  POST   /_local/hooks/catch[?status=500]: a hook target; GET /_local/hooks/caught[?clear=1]: what it received",
            "  GET|POST /_local/faults (JSON rates per fault kind: dynamodb_throttle, dynamodb_conflict, sqs_batch_fail, twilio_5xx...)",
            "Demo data:",
        ]
        lines += [f"  provider {p.name:12} phone {p.phone}  reserved number {p.reserved_number}" for p in PROVIDERS]
        lines += [f"  client   {c.name:12} phone {c.phone}" for c in CLIENTS]
        lines += [f"  pool numbers {', '.join(POOL_NUMBERS)};  standby {STANDBY_NUMBER}"]
        lines += [
            f"Admin API key (header x-api-key, demo only): {DEMO_ADMIN_API_KEY}",
            f"  curl -s -H 'x-api-key: {DEMO_ADMIN_API_KEY}' {self.base_url}/pool/stats",
            f"Twilio auth token for X-Twilio-Signature (demo only): {DEMO_AUTH_TOKEN}",
            "Try it: POST a Twilio form to /_local/sign; it answers the signature and the curl command that sends it:",
            f"  curl -s --data 'MessageSid=SM{'0' * 31}1&From=%2B13035550201&To=%2B17205550001&Body=Hi+Sam' {self.base_url}/_local/sign",
        ]
        return "\n".join(lines)


# =====================================================================================
# Browser console: GET / and /_local/console/* (the page is plain files in local/console/)
# =====================================================================================
#
# The page shows one phone per demo person as that person's real phone would: threads
# grouped by the number the messages came from, pictures shown, and never a real number
# where the real phone shows a masked one. Sending from a phone signs a Twilio webhook
# here, server-side, with the demo auth token (as /_local/sign does) and drives it
# through ``LocalRunner.handle``: the same route, API Gateway event, signature check and
# handler as a request from Twilio. ``observe`` records every signed SMS webhook the
# runner answered 200 (what each phone sent, curl and ``make demo`` included) and every
# /twilio/voice answer (the TwiML says which phone rings and with which caller ID).

CONSOLE_DIR = ROOT / "local" / "console"
CONSOLE_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
CONSOLE_TYPES[".svg"] = "image/svg+xml"
# Pictures the console's camera button attaches: https URLs (the SMS webhook accepts no
# other MediaUrl) on a reserved example domain, shown from local/console/pictures/.
PAGE_MEDIA_PREFIX = "https://example.com/console/"  # what the page sends (console.js MEDIA_PREFIX)
# What the webhook gets instead: a URL of Twilio's media shape (the SMS webhook accepts no other
# host), on the demo account; its last segment names the picture.
CONSOLE_MEDIA_PREFIX = f"https://api.twilio.com/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/Messages/MM{'c' * 32}/Media/"
PICTURE_PLACEHOLDER = "/console/pictures/placeholder.svg"  # any other MediaUrl: nothing is fetched
NEW_NUMBER_PHONE = "+13035550299"  # the "new number" phone: nobody in the demo data knows it
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def pretty_number(e164: str) -> str:
    """``+17205550001`` -> ``+1 720 555 0001`` (NANP); other numbers unchanged."""
    found = re.fullmatch(r"\+1(\d{3})(\d{3})(\d{4})", e164)
    return f"+1 {found.group(1)} {found.group(2)} {found.group(3)}" if found else e164


def short_name(name: str) -> str:
    return name if name.lower().startswith("new ") else (name.split() or [name])[0]


@dataclass(frozen=True)
class ConsolePhone:
    key: str
    name: str
    phone: str
    role: str  # "provider" or "client"
    reserved_number: str | None = None


class Console:
    """The browser console's endpoints and what it records (one per ``LocalRunner``)."""

    PREFIXES = ("/console/", "/_local/console/")

    def __init__(self, runner: LocalRunner) -> None:
        self.runner = runner
        self.texts: list[dict[str, Any]] = []  # signed SMS webhooks answered 200, oldest first
        self.calls: list[dict[str, Any]] = []  # /twilio/voice answers, oldest first
        self._seen: set[str] = set()
        self._store: Any = None

    @classmethod
    def serves(cls, path: str) -> bool:
        return path in ("/", "/index.html") or path.startswith(cls.PREFIXES)

    @staticmethod
    def phones() -> list[ConsolePhone]:
        from local.demo_data import CLIENTS, PROVIDERS

        people = [ConsolePhone(p.provider_id, p.name, p.phone, "provider", p.reserved_number) for p in PROVIDERS]
        people += [ConsolePhone(c.client_id, c.name, c.phone, "client") for c in CLIENTS]
        return [*people, ConsolePhone("new-number", "New number", NEW_NUMBER_PHONE, "client")]

    # ---- recording (called by LocalRunner.invoke, under its lock)
    def observe(self, api_path: str, body: bytes, result: Any) -> None:
        if api_path not in ("/twilio/sms", "/twilio/voice") or not isinstance(result, dict) or result.get("statusCode", 200) != 200:
            return
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        sid = form.get("MessageSid") or form.get("CallSid") or ""
        if not sid or sid in self._seen:
            return  # a replay: the phone sent it once
        self._seen.add(sid)
        at = time.time()
        if api_path == "/twilio/sms":
            media = [form[f"MediaUrl{i}"] for i in range(10) if form.get(f"MediaUrl{i}")]
            self.texts.append(
                {"sid": sid, "from": form.get("From", ""), "to": form.get("To", ""), "body": form.get("Body", ""), "media": media, "at": at}
            )
            return
        _, _, payload = LocalRunner.to_http(result)
        self.calls.append({"sid": sid, "from": form.get("From", ""), "to": form.get("To", ""), "at": at, **self.read_twiml(payload)})

    @staticmethod
    def read_twiml(payload: bytes) -> dict[str, str]:
        """The first ``<Dial callerId><Number>`` of a voice answer, or what it ``<Say>``s.

        ``<Number>`` is the phone that rings; ``callerId`` is what it shows, whatever the
        inbound caller ID was (https://www.twilio.com/docs/voice/twiml/dial).
        """
        import xml.etree.ElementTree as ElementTree

        try:
            root = ElementTree.fromstring(payload)
        except ElementTree.ParseError:
            return {"say": "(no TwiML)"}
        dial = root.find("Dial")
        number = dial.find("Number") if dial is not None else None
        if dial is not None and number is not None and number.text:
            return {"rings": number.text.strip(), "caller_id": dial.get("callerId", "")}
        return {"say": " ".join((say.text or "").strip() for say in root.iter("Say")) or "(hung up)"}

    # ---- requests
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        parts = urlsplit(raw_path)
        path = parts.path
        if method in ("GET", "HEAD") and (path in ("/", "/index.html") or path.startswith("/console/")):
            return self.static(path)
        if method == "GET" and path == "/_local/console/state":
            return json_body(200, self.state())
        if method == "POST" and path in ("/_local/console/sms", "/_local/console/call"):
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                return json_body(400, {"success": False, "error": "the body is not JSON"})
            if not isinstance(request, dict):
                return json_body(400, {"success": False, "error": "the body is not a JSON object"})
            return self.send_sms(request) if path.endswith("/sms") else self.place_call(request)
        return json_body(404, {"success": False, "error": "no route", "details": {"method": method, "path": path}})

    @staticmethod
    def static(path: str) -> Response:
        name = "index.html" if path in ("/", "/index.html") else path[len("/console/") :]
        target = (CONSOLE_DIR / name).resolve()
        if not target.is_relative_to(CONSOLE_DIR) or not target.is_file() or target.suffix not in CONSOLE_TYPES:
            return json_body(404, {"success": False, "error": "no such console file", "details": {"path": path}})
        cache = "max-age=300" if target.suffix == ".svg" else "no-store"  # pictures are re-rendered on every change
        return 200, {"Content-Type": CONSOLE_TYPES[target.suffix], "Cache-Control": cache}, target.read_bytes()

    def signed_post(self, path: str, form: dict[str, str]) -> Response:
        """Signs ``form`` as Twilio would for ``path`` (demo token) and hands it to the runner."""
        from urllib.parse import urlencode

        signature = twilio_signature(self.runner.aws.auth_token, self.runner.base_url + path, form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"}
        return self.runner.handle("POST", path, headers, urlencode(form).encode())

    @staticmethod
    def bad_field(field_name: str, reason: str) -> Response:
        return json_body(422, {"success": False, "error": f"{field_name}: {reason}", "details": {"field": field_name}})

    def send_sms(self, request: dict[str, Any]) -> Response:

        sender, to, text = request.get("from"), request.get("to"), request.get("body", "")
        media = request.get("media") or []
        for name, value in (("from", sender), ("to", to)):
            if not isinstance(value, str) or not E164.match(value):
                return self.bad_field(name, "an E.164 number is required")
        if not isinstance(text, str) or len(text) > 1600:
            return self.bad_field("body", "text of at most 1,600 characters")
        if not isinstance(media, list) or len(media) > 10 or not all(isinstance(u, str) and u.startswith("https://") for u in media):
            return self.bad_field("media", "at most 10 https URLs")
        if not text and not media:
            return self.bad_field("body", "a text or a picture is required")
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": DEMO_ACCOUNT_SID, "From": sender, "To": to, "Body": text}
        form["NumMedia"] = str(len(media))
        for index, url in enumerate(media):
            picture = url.removeprefix(PAGE_MEDIA_PREFIX) if url.startswith(PAGE_MEDIA_PREFIX) else ""
            form[f"MediaUrl{index}"] = CONSOLE_MEDIA_PREFIX + picture.removesuffix(".svg") if picture else url
            form[f"MediaContentType{index}"] = "image/svg+xml" if picture else "image/jpeg"
        status, _, _ = self.signed_post("/twilio/sms", form)
        return json_body(
            200 if status == 200 else 502, {"success": status == 200, "webhook_status": status, "message_sid": form["MessageSid"]}
        )

    def place_call(self, request: dict[str, Any]) -> Response:

        caller, to = request.get("from"), request.get("to")
        for name, value in (("from", caller), ("to", to)):
            if not isinstance(value, str) or not E164.match(value):
                return self.bad_field(name, "an E.164 number is required")
        sid = "CA" + uuid.uuid4().hex
        form = {"CallSid": sid, "AccountSid": DEMO_ACCOUNT_SID, "From": str(caller), "To": str(to)}
        form |= {"CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        status, _, payload = self.signed_post("/twilio/voice", form)
        answer = self.read_twiml(payload) if status == 200 else {"say": f"(webhook answered {status})"}
        rings = next((p for p in self.phones() if p.phone == answer.get("rings")), None)
        # What the caller's own phone may know: who rings (by name), never their real number.
        return json_body(
            200, {"success": status == 200, "call_sid": sid, "rings_person": rings.name if rings else None, "say": answer.get("say")}
        )

    # ---- the page's state
    @property
    def store(self) -> Any:
        if self._store is None:
            from masking.store.admin import DynamoAdminStore

            self._store = DynamoAdminStore(self.runner.aws.env["TABLE_NAME"])
        return self._store

    def state(self) -> dict[str, Any]:
        from local.backends import AIRTABLE_BASE_ID

        now = int(time.time())
        found = [(pid, self.store.get_provider(pid)) for pid in self.store.list_provider_ids()]
        providers = dict(sorted(found, key=lambda item: item[1].phone if item[1] else item[0]))  # Sam, then Kim
        leases = [lease for pid in providers for lease in self.store.provider_leases(pid)]
        slots = {pid: self.store.provider_slots(pid) for pid in providers}
        with self.runner._lock:
            sent = [asdict(sms) for sms in self.runner.sandbox.sent]
            texts, calls = list(self.texts), list(self.calls)
            audit = [r for r in self.runner.outbox if r.get("kind") == "audit"][-8:]
        people = self.phones()
        phones = [self.phone_state(person, people, providers, slots, sent, texts, calls, now) for person in people]
        status, _, pool = self.runner.handle("GET", "/pool/stats", {"x-api-key": self.runner.aws.admin_api_key}, b"")
        names = {p.phone: p.name for p in people}
        return {
            "phones": phones,
            "operator": {
                "leases": [
                    {
                        "provider": providers[lease.provider_id].name if providers.get(lease.provider_id) else lease.provider_id,
                        "client": lease.client_name,
                        "pool_number": pretty_number(lease.pool_number),
                        "expires": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(lease.expires_at)),
                        "active": lease.expires_at > now,
                    }
                    for lease in sorted(leases, key=lambda lease: lease.last_activity_at, reverse=True)
                ],
                "pool": json.loads(pool).get("pool", {}) if status == 200 else {"error": f"/pool/stats answered {status}"},
                "audit": [
                    {"at": r.get("at", ""), **{k: (r.get("fields") or {}).get(k) for k in ("Event", "Severity", "Category", "Description")}}
                    for r in reversed(audit)
                ],
                "airtable": {name: len(self.runner.standin.rows(name, AIRTABLE_BASE_ID)) for name in MIRROR_TABLES},
                "calls": [
                    {
                        "caller": names.get(c["from"], pretty_number(c["from"])),
                        "called": pretty_number(c["to"]),
                        "rings": f"{names.get(c['rings'], 'phone')} {pretty_number(c['rings'])}" if c.get("rings") else None,
                        "caller_id": pretty_number(c.get("caller_id", "")) if c.get("rings") else None,
                        "say": c.get("say"),
                    }
                    for c in reversed(calls[-8:])
                ],
                "schedules": sorted(SCHEDULES),
            },
        }

    def phone_state(
        self,
        me: ConsolePhone,
        people: list[ConsolePhone],
        providers: dict[str, Any],
        slots: dict[str, list[Any]],
        sent: list[dict[str, Any]],
        texts: list[dict[str, Any]],
        calls: list[dict[str, Any]],
        now: int,
    ) -> dict[str, Any]:
        """What ``me``'s real phone shows: only numbers that reached it or that it dialled."""
        names: dict[str, str] = {}  # a number on this phone -> who it stands for
        if me.role == "client":
            for provider in providers.values():
                if provider is not None and provider.reserved_number:
                    names[provider.reserved_number] = short_name(provider.name)
        else:
            names[me.reserved_number or ""] = "my business number"
            for slot in slots.get(me.key, []):
                if slot.expires_at > now or slot.pool_number not in names:
                    names[slot.pool_number] = short_name(slot.client_name)
        threads: dict[str, list[dict[str, Any]]] = {}
        for text in texts:
            if text["from"] == me.phone:
                threads.setdefault(text["to"], []).append(
                    {"dir": "out", "body": text["body"], "media": self.pictures(text["media"]), "at": text["at"]}
                )
        for sms in sent:
            if sms["to_phone"] == me.phone:
                threads.setdefault(sms["from_number"], []).append(
                    {"dir": "in", "body": sms["body"], "media": self.pictures(sms["media_urls"]), "at": sms["at"]}
                )
        for call in calls:
            if call["from"] == me.phone:
                rings = next((p.name for p in people if p.phone == call.get("rings")), None)
                note = (
                    f"Outgoing call: rang {short_name(rings)}'s phone"
                    if rings
                    else "Outgoing call"
                    if call.get("rings")
                    else f"Call not connected: {call.get('say')}"
                )
                threads.setdefault(call["to"], []).append({"dir": "out", "call": True, "body": note, "media": [], "at": call["at"]})
            if call.get("rings") == me.phone and call.get("caller_id"):
                threads.setdefault(call["caller_id"], []).append(
                    {"dir": "in", "call": True, "body": "Incoming call", "media": [], "at": call["at"]}
                )
        ordered = sorted(threads.items(), key=lambda item: max(m["at"] for m in item[1]), reverse=True)
        contacts = [
            {"number": number, "pretty": pretty_number(number), "name": name}
            for number, name in names.items()
            if number and number != me.reserved_number and (me.role == "client" or number in threads)
        ]
        return {
            "key": me.key,
            "name": me.name,
            "role": me.role,
            "number": pretty_number(me.phone),
            "e164": me.phone,
            "business_number": pretty_number(me.reserved_number) if me.reserved_number else None,
            "contacts": contacts,
            "threads": [
                {
                    "number": number,
                    "pretty": pretty_number(number),
                    "name": names.get(number),
                    "messages": sorted(items, key=lambda m: m["at"]),
                }
                for number, items in ordered
            ],
        }

    @staticmethod
    def pictures(urls: list[str]) -> list[str]:
        """Where the page shows each picture from: a console picture, else a placeholder (never fetched)."""
        shown = []
        for url in urls:
            name = url[len(CONSOLE_MEDIA_PREFIX) :] + ".svg" if url.startswith(CONSOLE_MEDIA_PREFIX) else ""
            local = CONSOLE_DIR / "pictures" / name
            shown.append(f"/console/pictures/{name}" if re.fullmatch(r"[a-z0-9-]+\.svg", name) and local.is_file() else PICTURE_PLACEHOLDER)
        return shown


class RequestHandler(BaseHTTPRequestHandler):
    server: RunnerServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        started = time.monotonic()
        status, response_headers, payload = self.server.runner.handle(self.command, self.path, headers, body)
        self.send_response(status)
        for name, value in response_headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        if not self.server.runner.quiet and not self.path.startswith("/_local/"):
            print(f"{self.command} {self.path} -> {status} ({(time.monotonic() - started) * 1000:.0f} ms)", flush=True)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Request lines are printed by ``_serve``; the stdlib's stderr log stays quiet."""


class RunnerServer(ThreadingHTTPServer):
    """One thread per connection, and a listen backlog of 128 instead of socketserver's 5.

    API Gateway takes a burst of webhooks without refusing any; with a backlog of 5, a burst
    of 20 at once got connection resets here. The invocations themselves still run one at a
    time (``LocalRunner._lock``); the backlog and the threads only make the burst wait its turn.
    """

    daemon_threads = True
    # socketserver.TCPServer.request_queue_size is 5 (Lib/socketserver.py); listen(2) caps the
    # backlog at /proc/sys/net/core/somaxconn, 4096 since Linux 5.4
    # (https://man.archlinux.org/man/listen.2.en, NOTES).
    request_queue_size = 128

    def __init__(self, runner: LocalRunner) -> None:
        super().__init__((runner.host, runner.port), RequestHandler)
        self.runner = runner


def start_server(
    port: int = 0, host: str = "127.0.0.1", *, quiet: bool = True, public_base_url: str | None = None
) -> tuple[RunnerServer, threading.Thread]:
    """Binds (port 0: any free port), starts the runner, serves in a daemon thread.

    One per process: it starts moto and sets os.environ. Stop with ``server.shutdown()``,
    ``server.server_close()`` and ``server.runner.stop()``.
    """
    runner = LocalRunner(host, port, quiet=quiet, public_base_url=public_base_url)
    server = RunnerServer(runner)
    runner.start(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name="local-runner", daemon=True)
    thread.start()
    return server, thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.runner", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--quiet", action="store_true", help="no banner, no request or SMS lines")
    parser.add_argument(
        "--public-base-url",
        help="the URL callers use and Twilio signs, when it is not http://<host>:<port> (default: the listening URL)",
    )
    args = parser.parse_args(argv)
    try:
        runner = LocalRunner(args.host, args.port, quiet=args.quiet, public_base_url=args.public_base_url)
    except ValueError as error:
        parser.error(str(error))
    server = RunnerServer(runner)  # bind first: port 0 picks a free one
    runner.start(port=server.server_address[1])
    print(runner.banner() if not args.quiet else f"Local runner on {runner.base_url}", flush=True)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # also when started in the background, where SIGINT is ignored
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        if not args.quiet:
            print("\nstopped", flush=True)
    finally:
        server.server_close()
        runner.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
