"""Settings read from the environment, validated once and cached.

One frozen dataclass per concern; ``clear_settings_cache()`` resets them in tests. A
bad value raises ``SettingsError`` naming the variable, on the first invocation.

Why not pydantic here: these models are loaded by every webhook function, and pydantic
costs ~45 ms of cold import on its own (bench/cold_import.py), more than the 15 % the
hot path may add to boto3 + twilio. Pydantic validates request bodies where a request
has one (the admin API), not three environment variables.

No ``from __future__ import annotations`` here, as in ``masking.core.models``: ``@dataclass``
looks at every string annotation for ``ClassVar`` and ``InitVar``, about 0.8 ms of this
module's import (bench/cold_import.py).
"""

import os
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, get_args

from masking.core.records import FrozenRecord

PrefixPolicy = Literal["first", "always", "never"]
HandoverMode = Literal["notify", "forward"]
Transport = Literal["twilio", "sandbox"]


class SettingsError(ValueError):
    """A setting is missing or out of range; the message names the variable."""


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class RoutingSettings(FrozenRecord):
    """How SMS and calls are routed: lease lifetime, the client-name prefix policy, and the
    handover of a departed provider's number (``masking.admin.handover``)."""

    lease_ttl_days: float = 14
    prefix_policy: PrefixPolicy = "first"
    # Twilio's hard limit for one message body, in UTF-16 code units.
    max_body_length: int = 1600
    handover_days: float = 30  # 0: a removed provider's number goes straight to standby
    handover_mode: HandoverMode = "notify"  # notify: tell the client the successor's number; forward: open a lease with them
    handover_text: str = ""  # {name} and {number} of the successor; "" the built-in text

    def __post_init__(self) -> None:
        if not 0 < float(self.lease_ttl_days) <= 365:
            raise SettingsError(f"LEASE_TTL_DAYS must be more than 0 and at most 365, not {self.lease_ttl_days!r}")
        _one_of("PREFIX_POLICY", self.prefix_policy, get_args(PrefixPolicy))
        if not 10 <= self.max_body_length <= 1600:
            raise SettingsError("max_body_length must be from 10 to 1600")
        if not 0 <= float(self.handover_days) <= 365:
            raise SettingsError(f"HANDOVER_DAYS must be from 0 to 365, not {self.handover_days!r}")
        _one_of("HANDOVER_MODE", self.handover_mode, get_args(HandoverMode))
        try:
            self.handover_text.format(name="", number="")
        except (KeyError, IndexError, ValueError):
            raise SettingsError("HANDOVER_TEXT may only use the placeholders {name} and {number}") from None


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class AwsSettings(FrozenRecord):
    """Where the routing state, the outbox and the secrets live."""

    table_name: str
    outbox_queue_url: str
    secrets_path: str = "/masking/dev"

    def __post_init__(self) -> None:
        if len(self.table_name) < 3:
            raise SettingsError("TABLE_NAME is missing")
        if not self.outbox_queue_url:
            raise SettingsError("OUTBOX_QUEUE_URL is missing")
        if not re.fullmatch(r"/[A-Za-z0-9_./-]+", self.secrets_path):
            raise SettingsError(f"SECRETS_PATH must be an SSM path like /masking/dev, not {self.secrets_path!r}")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class TwilioSettings(FrozenRecord):
    """How to reach Twilio, and which public URL Twilio calls us on."""

    transport: Transport = "twilio"
    public_base_url: str = ""
    messaging_service_sid: str = ""
    status_callback_path: str = "/twilio/sms/status"
    connect_timeout_seconds: float = 3.0  # every Twilio REST request (TWILIO_CONNECT_TIMEOUT)
    read_timeout_seconds: float = 10.0  # TWILIO_READ_TIMEOUT; keep connect + read < the webhook's Lambda timeout

    def __post_init__(self) -> None:
        _one_of("TWILIO_TRANSPORT", self.transport, get_args(Transport))
        if not (0 < float(self.connect_timeout_seconds) <= 60 and 0 < float(self.read_timeout_seconds) <= 60):
            raise SettingsError("TWILIO_CONNECT_TIMEOUT and TWILIO_READ_TIMEOUT must be from 0 to 60 seconds")
        base = self.public_base_url.strip().rstrip("/")
        if base and not base.startswith(("https://", "http://")):
            raise SettingsError("PUBLIC_BASE_URL must start with https:// (or http:// locally)")
        object.__setattr__(self, "public_base_url", base)


# SendMessage DelaySeconds: "Valid values: 0 to 900. Maximum: 15 minutes"
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html):
# the longest wait any of our queues can give a message.
SQS_MAX_DELAY_SECONDS = 900

# Twilio error codes worth one more try after 10 minutes: queue overflow, unreachable
# handset, unknown error, missing segment, carrier congestion, A2P rate limits. Every
# other code (30005 unknown handset, 30006 landline, 30007 filtered...) is permanent.
DEFAULT_TEMPORARY_ERROR_CODES = ("30001", "30003", "30008", "30009", "30017", "30022")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class DeliverySettings(FrozenRecord):
    """Delivery failures: which errors get the one timed resend, and when the owner hears."""

    temporary_error_codes: tuple[str, ...] = DEFAULT_TEMPORARY_ERROR_CODES
    retry_queue_url: str = ""
    retry_delay_seconds: float = 600
    owner_alert_topic_arn: str = ""
    owner_alert_threshold: float = 5  # alert when more than this many fail in the window
    owner_alert_window_hours: float = 24

    def __post_init__(self) -> None:
        codes = self.temporary_error_codes
        if isinstance(codes, str):
            codes = tuple(code.strip() for code in codes.split(",") if code.strip())
            object.__setattr__(self, "temporary_error_codes", codes)
        if not all(code.isdigit() for code in codes):
            raise SettingsError(f"TEMPORARY_ERROR_CODES must be comma-separated Twilio error codes, not {self.temporary_error_codes!r}")
        if not 0 <= float(self.retry_delay_seconds) <= SQS_MAX_DELAY_SECONDS:
            raise SettingsError(f"RETRY_DELAY_SECONDS must be from 0 to {SQS_MAX_DELAY_SECONDS} (the SQS maximum)")
        if float(self.owner_alert_threshold) < 0 or float(self.owner_alert_window_hours) <= 0:
            raise SettingsError("OWNER_ALERT_THRESHOLD must be >= 0 and OWNER_ALERT_WINDOW_HOURS > 0")


# Waits before each retry of a forward parked after a transient Twilio failure.
DEFAULT_FORWARD_RETRY_DELAYS = (15, 60, 300, 1800, 7200)


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class ForwardSettings(FrozenRecord):
    """Parked forwards (``masking.messaging.forwarding``): the queue and the backoff."""

    queue_url: str = ""
    dead_letter_queue_url: str = ""
    retry_delays: tuple[int, ...] = DEFAULT_FORWARD_RETRY_DELAYS  # FORWARD_RETRY_DELAYS="15,60,300,1800,7200"
    claim_stale_seconds: float = 120  # a part claim older than this belongs to a dead attempt
    hot_path_budget_seconds: float = 5  # the webhook parks the remaining parts after this long

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry_delays", _delays("FORWARD_RETRY_DELAYS", self.retry_delays))


def _delays(name: str, raw: Any) -> tuple[int, ...]:
    """Waits in seconds, e.g. ``"15,60,300"``: at least one, none negative."""
    delays = raw
    if isinstance(raw, str):
        try:
            delays = tuple(int(d.strip()) for d in raw.split(",") if d.strip())
        except ValueError:
            raise SettingsError(f"{name} must be comma-separated seconds, not {raw!r}") from None
    if not delays or any(d < 0 for d in delays):
        raise SettingsError(f"{name} needs at least one delay, none negative")
    return tuple(delays)


def _flag(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word not in ("true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"{name} must be true or false, not {raw!r}")
    return word in ("true", "1", "yes")


def _whole(name: str, raw: Any, low: int, high: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be from {low} to {high}, not {value}")
    return value


def _from_env[T](cls: type[T], *, skip: tuple[str, ...] = (), prefix: str = "", **renamed: str) -> T:
    """Builds ``cls`` from the environment: field ``x`` from variable ``<prefix>X`` (or
    ``renamed[x]``); the fields in ``skip`` keep their defaults."""
    names = {f.name: renamed.get(f.name, prefix + f.name.upper()) for f in fields(cls) if f.name not in skip}  # type: ignore[arg-type]
    types = {f.name: f.type for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for field_name, variable in names.items():
        raw = os.environ.get(variable, "")
        if raw == "":
            continue
        if types[field_name] in ("float", float):
            try:
                values[field_name] = float(raw)
            except ValueError:
                raise SettingsError(f"{variable} must be a number, not {raw!r}") from None
        else:
            values[field_name] = raw
    try:
        return cls(**values)
    except TypeError as exc:  # a required variable is missing
        raise SettingsError(f"missing setting: {', '.join(names.values())} ({exc})") from None


@lru_cache(maxsize=1)
def get_routing_settings() -> RoutingSettings:
    return _from_env(RoutingSettings, skip=("max_body_length",))


@lru_cache(maxsize=1)
def get_aws_settings() -> AwsSettings:
    return _from_env(AwsSettings)


@lru_cache(maxsize=1)
def get_twilio_settings() -> TwilioSettings:
    return _from_env(
        TwilioSettings,
        skip=("status_callback_path",),
        transport="TWILIO_TRANSPORT",
        connect_timeout_seconds="TWILIO_CONNECT_TIMEOUT",
        read_timeout_seconds="TWILIO_READ_TIMEOUT",
    )


@lru_cache(maxsize=1)
def get_forward_settings() -> ForwardSettings:
    return _from_env(ForwardSettings, skip=("hot_path_budget_seconds",), prefix="FORWARD_", dead_letter_queue_url="FORWARD_DLQ_URL")


@lru_cache(maxsize=1)
def get_delivery_settings() -> DeliverySettings:
    return _from_env(DeliverySettings)


def clear_settings_cache() -> None:
    for getter in (get_routing_settings, get_aws_settings, get_twilio_settings, get_delivery_settings, get_forward_settings):
        getter.cache_clear()
    from masking.core.operator_settings import clear_operator_settings_cache  # voice and admin: their own module
    from masking.core.privacy_settings import clear_privacy_settings_cache  # privacy: its own module
    from masking.hooks.settings import get_hook_settings  # outbound hooks: their own module

    clear_operator_settings_cache()
    clear_privacy_settings_cache()
    get_hook_settings.cache_clear()


# The voice and admin settings live in masking.core.operator_settings, which the SMS webhook
# never imports (bench/cold_import.py); importing them from here still works.
_OPERATOR_SETTINGS = frozenset(
    {
        "InventorySettings",
        "ScheduleSettings",
        "VoiceSettings",
        "RECORDING_MODE",
        "get_inventory_settings",
        "get_schedule_settings",
        "get_voice_settings",
    }
)

if TYPE_CHECKING:
    from masking.core.operator_settings import RECORDING_MODE as RECORDING_MODE
    from masking.core.operator_settings import InventorySettings as InventorySettings
    from masking.core.operator_settings import ScheduleSettings as ScheduleSettings
    from masking.core.operator_settings import VoiceSettings as VoiceSettings
    from masking.core.operator_settings import get_inventory_settings as get_inventory_settings
    from masking.core.operator_settings import get_schedule_settings as get_schedule_settings
    from masking.core.operator_settings import get_voice_settings as get_voice_settings
else:

    def __getattr__(name: str) -> Any:
        """``from masking.core.settings import VoiceSettings`` and the like, on first use
        (https://peps.python.org/pep-0562/)."""
        if name not in _OPERATOR_SETTINGS:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from masking.core import operator_settings

        return getattr(operator_settings, name)
