"""Builds the adapters from settings, once per Lambda container.

Handlers call ``get_sms_services()``, ``get_voice_services()`` or ``get_admin_context()``;
tests build the same objects from in-memory fakes instead. With ``TWILIO_TRANSPORT=sandbox``
every Twilio request goes to ``sandbox_http_client()``, which records it (the local runner
shows what it recorded). The DynamoDB and SQS adapters (boto3) are imported with this
module, so a container pays for them at init, not on its first request; the twilio REST
client is imported where the SMS gateway is built (the voice webhook never needs it), and
``functions/intercept`` imports it at init itself. The call store (voice and admin only)
is imported where it is built; ``functions/call_connect`` imports it at init itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from masking.adapters.aws_queues import SnsOwnerAlerts, SqsForwardQueue, SqsHookQueue, SqsOutbox, SqsRetryQueue
from masking.adapters.secrets import TwilioCredentials, load_twilio_credentials
from masking.core.ports import RoutingStore
from masking.core.records import Record
from masking.core.settings import (
    TwilioSettings,
    get_aws_settings,
    get_delivery_settings,
    get_forward_settings,
    get_routing_settings,
    get_twilio_settings,
)
from masking.mirror.outbox import Outbox
from masking.store.dynamo import DynamoRoutingStore
from masking.store.spill import DynamoOutboxSpill

if TYPE_CHECKING:
    from masking.adapters.twilio_recordings import SandboxRecordings
    from masking.adapters.twilio_sandbox import SandboxHttpClient
    from masking.admin.context import AdminContext
    from masking.core.ports import HookStore, RecordingFetcher, SmsGateway
    from masking.hooks.delivery import Deliverer, HookQueue
    from masking.messaging.failures import FailureHandler
    from masking.messaging.routing import SmsRouter
    from masking.store.calls import DynamoCallStore
    from masking.voice.services import VoiceServices


@dataclass(repr=False, eq=False)
class SmsServices(Record):
    """What ``intercept``, ``resend`` and ``forward`` need: the SMS router (its
    ``forwarding`` sends parked forwards) and its adapters."""

    router: SmsRouter
    outbox: Outbox
    twilio: TwilioSettings
    credentials: Callable[[], TwilioCredentials]
    failures: FailureHandler

    @property
    def store(self) -> RoutingStore:
        return self.router.store


@lru_cache(maxsize=1)
def sandbox_http_client() -> SandboxHttpClient:
    # also answers the account and listing calls of tools.setup and the doctor
    from masking.adapters.twilio_admin_sandbox import AdminSandboxHttpClient

    return AdminSandboxHttpClient()


def _credentials() -> TwilioCredentials:
    return load_twilio_credentials(get_aws_settings().secrets_path)


@lru_cache(maxsize=1)
def get_outbox() -> Outbox:
    aws = get_aws_settings()
    return SqsOutbox(aws.outbox_queue_url, spill=DynamoOutboxSpill(aws.table_name))


@lru_cache(maxsize=1)
def _gateway() -> SmsGateway:
    from masking.adapters.twilio_gateway import LazyTwilioGateway

    return LazyTwilioGateway(_credentials, get_twilio_settings(), sandbox_http_client)


@lru_cache(maxsize=1)
def get_sms_services() -> SmsServices:
    from masking.core.privacy_settings import get_privacy_settings
    from masking.messaging.failures import FailureHandler
    from masking.messaging.forwarding import ForwardWorker
    from masking.messaging.protection import Protection
    from masking.messaging.routing import SmsRouter
    from masking.store.quotas import DynamoQuotas

    store = DynamoRoutingStore(get_aws_settings().table_name)
    delivery = get_delivery_settings()
    forward = get_forward_settings()
    forwarding = ForwardWorker(
        store,
        _gateway(),
        SqsForwardQueue(forward.queue_url, forward.dead_letter_queue_url),
        SnsOwnerAlerts(delivery.owner_alert_topic_arn),
        forward,
    )
    protection = Protection(get_privacy_settings(), DynamoQuotas(store), SnsOwnerAlerts(delivery.owner_alert_topic_arn))
    router = SmsRouter(store, _gateway(), get_routing_settings(), forwarding=forwarding, protection=protection)
    failures = FailureHandler(
        store,
        _gateway(),
        SqsRetryQueue(delivery.retry_queue_url, int(delivery.retry_delay_seconds)),
        SnsOwnerAlerts(delivery.owner_alert_topic_arn),
        delivery,
    )
    return SmsServices(router=router, outbox=get_outbox(), twilio=get_twilio_settings(), credentials=_credentials, failures=failures)


@lru_cache(maxsize=1)
def get_voice_services() -> VoiceServices:
    from masking.core.operator_settings import get_voice_settings
    from masking.core.privacy_settings import get_privacy_settings
    from masking.store.calls import DynamoCallStore
    from masking.voice.routing import VoiceRouter
    from masking.voice.services import VoiceServices

    unverified = get_privacy_settings().unverified_caller
    router = VoiceRouter(
        DynamoCallStore(get_aws_settings().table_name), get_routing_settings(), get_voice_settings(), unverified_caller=unverified
    )
    return VoiceServices(
        router=router, outbox=get_outbox(), twilio=get_twilio_settings(), credentials=_credentials, sms=_gateway, recordings=_recordings
    )


@lru_cache(maxsize=1)
def sandbox_recordings() -> SandboxRecordings:
    from masking.adapters.twilio_recordings import SandboxRecordings

    return SandboxRecordings(_credentials)


@lru_cache(maxsize=1)
def _recordings() -> RecordingFetcher:
    from masking.adapters.twilio_recordings import TwilioRecordingFetcher, requests_get

    sandbox = get_twilio_settings().transport == "sandbox"
    return TwilioRecordingFetcher(_credentials, sandbox_recordings().get if sandbox else requests_get)


def get_admin_context() -> AdminContext:
    """A fresh context per admin request or schedule run (its mirror records are that
    request's); the adapters under it are built once per container."""
    from masking.admin.context import AdminContext
    from masking.core.operator_settings import get_inventory_settings

    return AdminContext(
        store=_admin_store(get_aws_settings().table_name),
        gateway=_gateway(),  # type: ignore[arg-type]  # LazyTwilioGateway forwards the number operations
        routing=get_routing_settings(),
        inventory=get_inventory_settings(),
        twilio=get_twilio_settings(),
    )


@lru_cache(maxsize=1)
def _admin_store(table_name: str) -> DynamoCallStore:
    """The admin flows' store; a call store too, for click-to-call (``POST /calls``)."""
    from masking.store.calls import DynamoCallStore

    return DynamoCallStore(table_name)


@lru_cache(maxsize=1)
def get_hook_store() -> HookStore:
    from masking.store.hooks import DynamoHookStore

    return DynamoHookStore(get_aws_settings().table_name)


@lru_cache(maxsize=1)
def get_hook_queue() -> HookQueue | None:
    """The hooks queue, or None where HOOKS_QUEUE_URL is not set (no hooks dispatched)."""
    from masking.hooks.settings import get_hook_settings

    settings = get_hook_settings()
    return SqsHookQueue(settings.queue_url, settings.dead_letter_queue_url) if settings.queue_url else None


def require_hook_queue() -> HookQueue:
    """The hooks queue, where hooks must be sent (a consumer, a test delivery)."""
    queue = get_hook_queue()
    if queue is None:
        raise RuntimeError("HOOKS_QUEUE_URL is not set")
    return queue


@lru_cache(maxsize=1)
def get_hook_deliverer() -> Deliverer:
    import time
    from functools import partial

    from masking.adapters.hook_http import post_json
    from masking.hooks.delivery import Deliverer
    from masking.hooks.settings import get_hook_settings

    queue = require_hook_queue()
    settings = get_hook_settings()
    post = partial(post_json, allow_loopback=settings.allow_loopback)
    return Deliverer(get_hook_store(), post, queue, settings, time.time)


def clear_wiring_cache() -> None:
    """Forgets every adapter built so far (tests, and the local runner between setups)."""
    cached_builders = (sandbox_http_client, get_outbox, _gateway, get_sms_services, get_voice_services, _admin_store)
    for cached in (*cached_builders, sandbox_recordings, _recordings, get_hook_store, get_hook_queue, get_hook_deliverer):
        cached.cache_clear()
