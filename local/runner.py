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
  the outbox is synced into it through ``airtable_sync`` after every invocation
- ``POST /_local/schedules/<pool_monitor|standby_keeper|lease_sweeper|outbox_republisher>``: runs a schedule now
- ``GET /_local/faults``: the injected fault rates and what was injected so far;
  ``POST /_local/faults`` (JSON ``{"<kind>": rate, ..., "seed": n}``, kinds in
  ``local.faults.ALL_KINDS``; ``{}`` turns them off) injects DynamoDB, SQS and Twilio faults

The retry queue is polled every second and delivered to ``resend`` (with a 5 s delay
instead of 600 s). The API's own integrations (template.yaml DefinitionBody) are emulated:
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
from local.backends import DEMO_ADMIN_API_KEY, DEMO_AUTH_TOKEN, REGION, VERIFICATION_PHONE, EmbeddedAws  # noqa: E402
from local.template import ApiRoute, IntegrationRoute, api_routes, function_spec, integration_routes, load_template  # noqa: E402

STAGE = "local"
QUEUE_CONSUMERS = {"outbox": "AirtableSyncFunction", "retry": "ResendFunction"}
SCHEDULES = {
    "pool_monitor": "PoolMonitorFunction",
    "standby_keeper": "StandbyKeeperFunction",
    "lease_sweeper": "LeaseSweeperFunction",
    "outbox_republisher": "OutboxRepublisherFunction",
}
# nothing lost: storage. Queues API Gateway integrations write to, by logical id -> env name
INTEGRATION_QUEUES = {"FallbackQueue": "FALLBACK_QUEUE_URL"}
FALLBACK_CONSUMER = "FallbackReplayFunction"
MAX_RECEIVES = 10  # the fallback queue's maxReceiveCount
MIRROR_TABLES = ("Sitters", "Clients", "Messages", "Number Inventory", "Audit Log", "Calls")
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

    def __init__(self, host: str = "127.0.0.1", port: int = 3000, *, quiet: bool = False) -> None:
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the local runner only listens on loopback, not {host}")
        self.host, self.port, self.quiet = host, port, quiet
        self.aws = EmbeddedAws()
        self.routes: list[Route] = []
        self.integrations: list[IntegrationRoute] = []
        self.handlers: dict[str, Handler] = {}
        self.outbox: list[dict[str, Any]] = []
        self.consumers: dict[str, Handler] = {}
        self.standin: Any = None
        self._stopping = threading.Event()
        # One invocation at a time, like one Lambda execution environment: Powertools'
        # Logger and Metrics are process-wide, and the SMS printing diffs the sandbox.
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, port: int | None = None) -> None:
        """Starts moto, sets the functions' environment, seeds the demo, imports the functions."""
        if port is not None:
            self.port = port
        os.environ.setdefault("LOG_LEVEL", "ERROR" if self.quiet else "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        self.aws.start()
        os.environ["PUBLIC_BASE_URL"] = self.base_url  # Twilio signs the URL it calls

        from local.demo_data import CLIENTS, PROVIDERS, demo_numbers, seed_demo
        from masking.core.settings import clear_settings_cache
        from masking.store.dynamo import DynamoRoutingStore

        clear_settings_cache()
        seed_demo(DynamoRoutingStore(self.aws.env["TABLE_NAME"]))
        # The demo's numbers and phones are taken: the sandbox Twilio never offers them for sale.
        taken = [n.number for n in demo_numbers()] + [party.phone for party in (*PROVIDERS, *CLIENTS)] + [VERIFICATION_PHONE]
        self.sandbox.bought.extend(taken)
        self.start_airtable_standin()
        os.environ["WEBHOOK_BASE_URL"] = self.base_url  # numbers bought by a schedule point here
        self.routes = sorted((Route.of(api) for api in api_routes()), key=lambda r: r.specificity)
        for route in self.routes:
            if route.api.function not in self.handlers:
                self.handlers[route.api.function] = load_handler(route.api)
        for logical_id in (*QUEUE_CONSUMERS.values(), *SCHEDULES.values(), FALLBACK_CONSUMER):
            self.consumers[logical_id] = load_function(logical_id, *function_spec(logical_id))
        self.integrations = integration_routes()
        threading.Thread(target=self._poll_retry_queue, name="retry-queue", daemon=True).start()
        threading.Thread(target=self._poll_storage, name="fallback-queue", daemon=True).start()

    def start_airtable_standin(self) -> None:
        """The operator's Airtable base, in memory on a loopback port (schema applied)."""
        from local.airtable_standin import AirtableStandin, apply_mirror_schema
        from local.backends import AIRTABLE_BASE_ID

        self.standin = AirtableStandin()
        apply_mirror_schema(self.standin, AIRTABLE_BASE_ID)
        server, _ = self.standin.serve("127.0.0.1", 0)
        os.environ["AIRTABLE_API_URL"] = f"http://127.0.0.1:{server.server_address[1]}"

    def _poll_retry_queue(self) -> None:
        """Delivers the retry queue (resends, delayed) to its consumer, as SQS would."""
        while not self._stopping.wait(1.0):
            with self._lock:
                try:
                    bodies = self.aws.drain("RETRY_QUEUE_URL")
                    if bodies:
                        self.consume("ResendFunction", bodies)
                        self.mirror_outbox()
                except Exception:
                    traceback.print_exc()

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
                "messageId": str(uuid.uuid4()),
                "receiptHandle": str(uuid.uuid4()),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{logical_id}",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
        memory, timeout = function_limits(logical_id)
        return self.consumers[logical_id](
            {"Records": records}, FakeLambdaContext(logical_id, memory_limit_in_mb=memory, timeout_seconds=timeout)
        )

    def mirror_outbox(self) -> None:
        """Drains the outbox: keeps the records for /_local/outbox and syncs them to the
        Airtable stand-in through airtable_sync (call under the lock)."""
        bodies = self.aws.drain_outbox()
        if not bodies:
            return
        self.outbox.extend(json.loads(text) for text in bodies)
        try:
            self.consume("AirtableSyncFunction", bodies)
        except Exception:
            traceback.print_exc()

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
        self._stopping.set()
        self.aws.stop()

    @property
    def sandbox(self) -> Any:
        from masking.wiring import sandbox_http_client

        return sandbox_http_client()

    # ---- requests
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        path = urlsplit(raw_path).path
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
            self.base_url + raw_path,
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
            return json_body(200, {"ok": True, "service": SERVICE, "public_base_url": self.base_url, "stage": STAGE, "routes": routes})
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
        if method == "GET" and parts.path.startswith("/_local/airtable"):
            from local.backends import AIRTABLE_BASE_ID

            table = unquote(parts.path[len("/_local/airtable") :].strip("/"))
            if not table:
                return json_body(200, {name: len(self.standin.rows(name, AIRTABLE_BASE_ID)) for name in MIRROR_TABLES})
            return json_body(200, self.standin.rows(table, AIRTABLE_BASE_ID))
        if parts.path == "/_local/faults" and method in ("GET", "POST"):
            from local import faults

            return self.set_faults(body) if method == "POST" else json_body(200, faults.PLAN.describe())
        if method == "POST" and parts.path == "/_local/sign":
            lowered = {k.lower(): v for k, v in headers.items()}
            url = lowered.get("x-url") or f"{self.base_url}/twilio/sms"
            form = body.decode("utf-8", "replace")
            signature = twilio_signature(self.aws.auth_token, url, parse_qsl(form, keep_blank_values=True))
            curl = f"curl -s -H 'X-Twilio-Signature: {signature}' --data {shlex.quote(form)} {shlex.quote(url)}"
            return json_body(200, {"url": url, "signature": signature, "curl": curl})
        return json_body(404, {"success": False, "error": "no route", "details": {"method": method, "path": parts.path}})

    def banner(self) -> str:
        from local.demo_data import CLIENTS, POOL_NUMBERS, PROVIDERS, STANDBY_NUMBER

        lines = [f"Local runner on {self.base_url} (stage {STAGE!r}, no Docker, Twilio sandbox: nothing leaves this machine)", "Routes:"]
        lines += [f"  {r.api.method:6} {self.base_url}{r.api.path}  -> {r.api.function}" for r in self.routes]
        lines += [
            "  GET    /_local/health | /_local/sent[?clear=1] | /_local/outbox[?clear=1] | /_local/airtable[/<table>]",
            "  POST   /_local/sign (form body, X-Url header)",
            "  POST   /_local/schedules/<pool_monitor|standby_keeper|lease_sweeper|outbox_republisher>",
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
    daemon_threads = True

    def __init__(self, runner: LocalRunner) -> None:
        super().__init__((runner.host, runner.port), RequestHandler)
        self.runner = runner


def start_server(port: int = 0, host: str = "127.0.0.1", *, quiet: bool = True) -> tuple[RunnerServer, threading.Thread]:
    """Binds (port 0: any free port), starts the runner, serves in a daemon thread.

    One per process: it starts moto and sets os.environ. Stop with ``server.shutdown()``,
    ``server.server_close()`` and ``server.runner.stop()``.
    """
    runner = LocalRunner(host, port, quiet=quiet)
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
    args = parser.parse_args(argv)
    runner = LocalRunner(args.host, args.port, quiet=args.quiet)
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
