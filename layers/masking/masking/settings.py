"""Settings read from the environment, validated once and cached.

Each concern has its own model; ``get_*_settings.cache_clear()`` resets them in tests.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, field_validator

PrefixPolicy = Literal["first", "always", "never"]


class RoutingSettings(BaseModel):
    """How SMS are routed: lease lifetime and the client-name prefix policy."""

    lease_ttl_days: float = Field(default=14, gt=0, le=365)
    prefix_policy: PrefixPolicy = "first"
    # Twilio's hard limit for one message body, in UTF-16 code units.
    max_body_length: int = Field(default=1600, ge=10, le=1600)


class AwsSettings(BaseModel):
    """Where the routing state, the outbox and the secrets live."""

    table_name: str = Field(min_length=3)
    outbox_queue_url: str = Field(min_length=1)
    secrets_path: str = Field(default="/masking/dev", pattern=r"^/[A-Za-z0-9_./-]+$")


class TwilioSettings(BaseModel):
    """How to reach Twilio, and which public URL Twilio calls us on."""

    transport: Literal["twilio", "sandbox"] = "twilio"
    public_base_url: str = ""
    messaging_service_sid: str = ""
    status_callback_path: str = "/twilio/sms/status"

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("PUBLIC_BASE_URL must start with https:// (or http:// locally)")
        return value


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _from_env(model: type[BaseModel], names: dict[str, str]) -> BaseModel:
    values = {field: _env(env) for field, env in names.items()}
    return model.model_validate({k: v for k, v in values.items() if v is not None})


@lru_cache(maxsize=1)
def get_routing_settings() -> RoutingSettings:
    return _from_env(  # type: ignore[return-value]
        RoutingSettings,
        {"lease_ttl_days": "LEASE_TTL_DAYS", "prefix_policy": "PREFIX_POLICY"},
    )


@lru_cache(maxsize=1)
def get_aws_settings() -> AwsSettings:
    return _from_env(  # type: ignore[return-value]
        AwsSettings,
        {
            "table_name": "TABLE_NAME",
            "outbox_queue_url": "OUTBOX_QUEUE_URL",
            "secrets_path": "SECRETS_PATH",
        },
    )


@lru_cache(maxsize=1)
def get_twilio_settings() -> TwilioSettings:
    return _from_env(  # type: ignore[return-value]
        TwilioSettings,
        {
            "transport": "TWILIO_TRANSPORT",
            "public_base_url": "PUBLIC_BASE_URL",
            "messaging_service_sid": "MESSAGING_SERVICE_SID",
        },
    )


def clear_settings_cache() -> None:
    for getter in (get_routing_settings, get_aws_settings, get_twilio_settings):
        getter.cache_clear()
