"""Shared test helpers: a seeded world, signed webhook events, the events/ loader."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local.apigw import signed_twilio_event
from masking.adapters.memory import MemoryForwardQueue, MemoryOutbox, MemoryOwnerAlerts, MemoryRetryQueue
from masking.adapters.secrets import TwilioCredentials
from masking.adapters.twilio_gateway import TwilioGateway
from masking.adapters.twilio_sandbox import SandboxHttpClient
from masking.admin.context import AdminContext
from masking.core.models import Client, Lifecycle, NumberRecord, NumberStatus, Provider
from masking.core.ports import RoutingStore
from masking.core.settings import DeliverySettings, ForwardSettings, InventorySettings, RoutingSettings, TwilioSettings
from masking.messaging.failures import FailureHandler
from masking.messaging.forwarding import ForwardWorker
from masking.messaging.routing import SmsRouter
from masking.store.admin import DynamoAdminStore
from masking.wiring import SmsServices

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
API_HOST = "abc123.execute-api.us-east-1.amazonaws.com"
STAGE = "dev"
SMS_URL = f"https://{API_HOST}/twilio/sms"  # what the event carries
SIGNED_SMS_URL = f"https://{API_HOST}/{STAGE}/twilio/sms"  # what Twilio calls and signs

PROVIDER = Provider(provider_id="prov-sam", name="Sam Sitter", phone="+13035550101", reserved_number="+17205550001")
OTHER_PROVIDER = Provider(provider_id="prov-kim", name="Kim Keeper", phone="+13035550102", reserved_number="+17205550002")
POOL = ["+17205550100", "+17205550101", "+17205550102"]
OLIVIA = Client(client_id="cl-olivia", name="Olivia Owner", phone="+13035550201")
PETE = Client(client_id="cl-pete", name="Pete Parent", phone="+13035550202")


FALLBACK_URL = f"https://{API_HOST}/{STAGE}/twilio/sms/fallback"


def fallback_record(params: dict[str, str], signed_for: str = FALLBACK_URL, signature: str | None = None) -> dict[str, Any]:
    """What API Gateway's SQS integration stores (template.yaml): the raw body, the
    signature and the URL parts as message attributes. Twilio adds ErrorCode/ErrorUrl."""
    import uuid
    from urllib.parse import urlencode

    from local.apigw import twilio_signature

    fields = {**params, "ErrorCode": "11200", "ErrorUrl": SIGNED_SMS_URL}
    sig = signature if signature is not None else twilio_signature(AUTH_TOKEN, signed_for, fields)

    def attribute(value: str) -> dict[str, str]:
        return {"stringValue": value, "dataType": "String"}

    return {
        "messageId": str(uuid.uuid4()),
        "body": urlencode(fields),
        "messageAttributes": {
            "TwilioSignature": attribute(sig),
            "Host": attribute(API_HOST),
            "Path": attribute(f"/{STAGE}/twilio/sms/fallback"),
            "ResourcePath": attribute("/twilio/sms/fallback"),
        },
    }


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def seed(store: RoutingStore, pool: list[str] | None = None) -> None:
    for provider in (PROVIDER, OTHER_PROVIDER):
        store.put_provider(provider)
        assert provider.reserved_number
        store.put_number(NumberRecord(number=provider.reserved_number, lifecycle=Lifecycle.RESERVED, provider_id=provider.provider_id))
    for number in POOL if pool is None else pool:
        store.put_number(NumberRecord(number=number, lifecycle=Lifecycle.POOL, status=NumberStatus.READY))
    for client in (OLIVIA, PETE):
        store.put_client(client)


class Clock:
    """A settable clock for lease expiry."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    store: RoutingStore
    sandbox: SandboxHttpClient
    outbox: MemoryOutbox
    clock: Clock
    router: SmsRouter
    services: SmsServices
    retries: MemoryRetryQueue
    alerts: MemoryOwnerAlerts
    forwards: MemoryForwardQueue
    forwarding: ForwardWorker
    sids: list[int] = field(default_factory=lambda: [0])

    def run_parked(self, rounds: int = 50) -> list[Any]:
        """Delivers the parked forwards to their consumer, round after round, advancing the
        clock past each delay (as the forward queue would); returns the mirror records."""
        records: list[Any] = []
        for _ in range(rounds):
            parked = list(self.forwards.parked)
            if not parked:
                break
            self.clock.advance(seconds=max(delay for _, delay in parked) + 1)
            for forward in self.forwards.take():
                records += self.forwarding.process(forward)
        self.outbox.publish(records)
        return records

    def next_sid(self) -> str:
        self.sids[0] += 1
        return f"SM{self.sids[0]:032d}"

    def sms_params(
        self, from_phone: str, to_number: str, body: str, sid: str | None = None, media: list[str] | None = None
    ) -> dict[str, str]:
        params = {
            "MessageSid": sid or self.next_sid(),
            "AccountSid": ACCOUNT_SID,
            "From": from_phone,
            "To": to_number,
            "Body": body,
            "NumMedia": str(len(media or [])),
        }
        for index, url in enumerate(media or []):
            params[f"MediaUrl{index}"] = url
            params[f"MediaContentType{index}"] = "image/jpeg"
        return params

    def sms_event(self, from_phone: str, to_number: str, body: str, **kwargs: Any) -> dict[str, Any]:
        params = self.sms_params(from_phone, to_number, body, **kwargs)
        return signed_event(SMS_URL, params)

    def sent_to(self, phone: str) -> list[Any]:
        return [sms for sms in self.sandbox.sent if sms.to_phone == phone]


def signed_event(url: str, params: dict[str, str], signature: str | None = None) -> dict[str, Any]:
    """An API Gateway event for ``url`` signed for the stage URL Twilio would have called."""
    from local.apigw import twilio_signature

    signed_url = url.replace(f"https://{API_HOST}/", f"https://{API_HOST}/{STAGE}/")
    sig = signature if signature is not None else twilio_signature(AUTH_TOKEN, signed_url, params)
    return signed_twilio_event(url, params, AUTH_TOKEN, stage=STAGE, signature=sig)


def make_world(store: RoutingStore, *, prefix_policy: str = "first", pool: list[str] | None = None, ttl_days: float = 14) -> World:
    seed(store, pool)
    clock = Clock()
    sandbox = SandboxHttpClient(clock=lambda: clock().timestamp())
    gateway = TwilioGateway.create(ACCOUNT_SID, AUTH_TOKEN, http_client=sandbox)
    retries, alerts, forwards = MemoryRetryQueue(), MemoryOwnerAlerts(), MemoryForwardQueue()
    forwarding = ForwardWorker(store, gateway, forwards, alerts, ForwardSettings(), clock=clock)
    routing = RoutingSettings(prefix_policy=prefix_policy, lease_ttl_days=ttl_days)
    router = SmsRouter(store, gateway, routing, clock=clock, forwarding=forwarding)
    outbox = MemoryOutbox()
    credentials = TwilioCredentials(ACCOUNT_SID, AUTH_TOKEN)
    failures = FailureHandler(store, gateway, retries, alerts, DeliverySettings(), clock=clock)  # type: ignore[arg-type]
    services = SmsServices(
        router=router, outbox=outbox, twilio=TwilioSettings(transport="sandbox"), credentials=lambda: credentials, failures=failures
    )
    return World(
        store=store,
        sandbox=sandbox,
        outbox=outbox,
        clock=clock,
        router=router,
        services=services,
        retries=retries,
        alerts=alerts,
        forwards=forwards,
        forwarding=forwarding,
    )


@dataclass
class FakeLambdaContext:
    function_name: str = "masking-intercept"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:masking-intercept"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/masking-intercept"
    log_stream_name: str = "2026/11/21/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def reset_caches() -> None:
    """Forgets the settings, every adapter built (``masking.wiring``) and the cached secrets,
    as a new execution environment starts: between two set-ups of embedded AWS, in the
    tests and the bench (an adapter kept from the last set-up would talk to its clients)."""
    from aws_lambda_powertools.utilities.parameters import clear_caches

    from masking.core.settings import clear_settings_cache
    from masking.wiring import clear_wiring_cache

    clear_settings_cache()
    clear_wiring_cache()
    clear_caches()


def load_handler(function_dir: str) -> Any:
    """Imports functions/<dir>/app.py the way Lambda does, under a unique module name."""
    import importlib.util
    import sys

    name = f"fn_{function_dir}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / function_dir / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


BASE = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
VERIFY_PHONE = "+13035550199"


class Admin:
    """Admin flows on a DynamoDB table (moto) with the Twilio sandbox."""

    def __init__(self, table: str) -> None:
        self.sandbox = SandboxHttpClient()
        self.outbox = MemoryOutbox()
        self.clock = Clock()
        self.store = DynamoAdminStore(table)
        self.ctx = AdminContext(
            store=self.store,
            gateway=TwilioGateway.create(ACCOUNT_SID, AUTH_TOKEN, http_client=self.sandbox),
            routing=RoutingSettings(),
            inventory=InventorySettings(verification_phone=VERIFY_PHONE),
            twilio=TwilioSettings(transport="sandbox"),
            clock=self.clock,
        )

    def flush(self) -> None:
        """What the admin handler does when a request ends: its records go on the outbox."""
        self.outbox.publish(self.ctx.take_records())

    def events(self) -> list[str]:
        self.flush()
        return [str(r.fields["Event"]) for r in self.outbox.records if r.kind == "audit"]

    def standby(self, number: str = "+17205550050", status: NumberStatus = NumberStatus.READY) -> NumberRecord:
        record = NumberRecord(number=number, lifecycle=Lifecycle.STANDBY, status=status, twilio_sid="PN" + "5" * 32)
        self.store.put_number(record)
        return record
