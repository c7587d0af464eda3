"""Builds the adapters from settings, once per Lambda container.

Handlers call ``get_sms_services()``; tests build ``SmsServices`` from fakes instead.
With ``TWILIO_TRANSPORT=sandbox`` every Twilio request goes to ``sandbox_http_client()``,
which records it (the local runner shows what it recorded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from masking.failures import FailureHandler, SnsOwnerAlerts, SqsRetryQueue
from masking.models import OutboundSms, SentSms
from masking.outbox import Outbox, SqsOutbox
from masking.secrets import TwilioCredentials, load_twilio_credentials
from masking.settings import (
    TwilioSettings,
    get_aws_settings,
    get_delivery_settings,
    get_inventory_settings,
    get_routing_settings,
    get_twilio_settings,
)
from masking.sms import SmsRouter
from masking.store.base import RoutingStore
from masking.store.dynamo import DynamoRoutingStore
from masking.twilio_gateway import SandboxHttpClient, SmsGateway, TwilioGateway

if TYPE_CHECKING:
    from masking.admin_context import AdminContext
    from masking.store.admin import DynamoAdminStore


@dataclass
class SmsServices:
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
    from masking.twilio_admin_sandbox import AdminSandboxHttpClient  # also answers the account and listing calls (doctor)

    return AdminSandboxHttpClient()


class LazyTwilioGateway:
    """Creates the Twilio client on first send, and again when the credentials rotate."""

    def __init__(self, credentials: Callable[[], TwilioCredentials], settings: TwilioSettings) -> None:
        self._credentials = credentials
        self._settings = settings
        self._gateway: TwilioGateway | None = None
        self._built_for: TwilioCredentials | None = None

    def gateway(self) -> TwilioGateway:
        credentials = self._credentials()
        if self._gateway is None or credentials != self._built_for:
            http_client = sandbox_http_client() if self._settings.transport == "sandbox" else None
            self._gateway = TwilioGateway.create(
                credentials.account_sid, credentials.auth_token, self._settings.messaging_service_sid, http_client
            )
            self._built_for = credentials
        return self._gateway

    def send_sms(self, message: OutboundSms, status_callback: str | None = None) -> SentSms:
        return self.gateway().send_sms(message, status_callback)

    def __getattr__(self, name: str) -> Any:
        """The number operations (search, buy, configure...) of the current gateway."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.gateway(), name)


@lru_cache(maxsize=1)
def get_sms_services() -> SmsServices:
    aws = get_aws_settings()
    twilio = get_twilio_settings()

    def credentials() -> TwilioCredentials:
        return load_twilio_credentials(aws.secrets_path)

    gateway: SmsGateway = LazyTwilioGateway(credentials, twilio)
    store = DynamoRoutingStore(aws.table_name)
    router = SmsRouter(store, gateway, get_routing_settings())
    delivery = get_delivery_settings()
    failures = FailureHandler(
        store,
        gateway,
        SqsRetryQueue(delivery.retry_queue_url, int(delivery.retry_delay_seconds)),
        SnsOwnerAlerts(delivery.owner_alert_topic_arn),
        delivery,
    )
    return SmsServices(router=router, outbox=SqsOutbox(aws.outbox_queue_url), twilio=twilio, credentials=credentials, failures=failures)


def get_admin_context() -> AdminContext:
    """A fresh context per admin request (its mirror records are per request); the
    adapters under it are built once per container."""
    from masking.admin_context import AdminContext

    sms = get_sms_services()
    aws = get_aws_settings()
    return AdminContext(
        store=_admin_store(aws.table_name),
        gateway=sms.router.gateway,  # type: ignore[arg-type]
        outbox=sms.outbox,
        routing=get_routing_settings(),
        inventory=get_inventory_settings(),
        twilio=get_twilio_settings(),
    )


@lru_cache(maxsize=1)
def _admin_store(table_name: str) -> DynamoAdminStore:
    from masking.store.admin import DynamoAdminStore

    return DynamoAdminStore(table_name)
