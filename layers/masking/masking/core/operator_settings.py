"""The voice and admin settings: buying numbers, the schedules, calls.

Split from ``masking.core.settings`` so the SMS webhook's import does not build them
(three frozen dataclasses, about 2 ms of its cold import: bench/cold_import.py);
``masking.core.settings`` still exports them by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from masking.core.settings import SettingsError, _flag, _from_env, _whole, get_twilio_settings


@dataclass(frozen=True, slots=True)
class InventorySettings:
    """Buying and attaching numbers."""

    preferred_area_codes: tuple[str, ...] = ("303", "720")
    verification_phone: str = ""  # where the verification SMS of a new number goes

    def __post_init__(self) -> None:
        codes = self.preferred_area_codes
        if isinstance(codes, str):
            codes = tuple(code.strip() for code in codes.split(",") if code.strip())
            object.__setattr__(self, "preferred_area_codes", codes)
        if not codes or not all(re.fullmatch(r"[2-9]\d\d", code) for code in codes):
            raise SettingsError(f"PREFERRED_AREA_CODES must be comma-separated 3-digit area codes, not {self.preferred_area_codes!r}")
        if self.verification_phone and not re.fullmatch(r"\+[1-9]\d{6,14}", self.verification_phone):
            raise SettingsError("VERIFICATION_PHONE must be an E.164 number like +13035550100")


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """The pool monitor and standby keeper (EventBridge schedules)."""

    utilization_threshold: float = 0.87
    purchase_cooldown_hours: float = 72
    webhook_base_url: str = ""  # the API's public base URL, for numbers bought by a schedule

    def __post_init__(self) -> None:
        if not 0 < float(self.utilization_threshold) <= 1:
            raise SettingsError("POOL_UTILIZATION_THRESHOLD must be more than 0 and at most 1")
        if float(self.purchase_cooldown_hours) < 0:
            raise SettingsError("POOL_PURCHASE_COOLDOWN_HOURS must be >= 0")
        base = self.webhook_base_url.strip().rstrip("/")
        if base and not base.startswith(("https://", "http://")):
            raise SettingsError("WEBHOOK_BASE_URL must start with https://")
        object.__setattr__(self, "webhook_base_url", base)


RECORDING_MODE = "record-from-answer-dual"  # both legs, from when the client answers, one channel each


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """Calls: click-to-call rate limit, recording (off by default), whisper and voicemail."""

    calls_per_provider_per_hour: int = 10
    record_calls: bool = False
    whisper: bool = True  # the provider hears "Call from <client>" and presses 1 to accept
    dial_timeout: int = 20  # seconds <Dial> rings (Twilio: min 5, max 600, default 30)
    voicemail: bool = True  # no answer / declined: our own masked voicemail
    voicemail_max_seconds: int = 120  # <Record maxLength>; at most 300 so the link page stays small
    voicemail_transcribe: bool = False
    recording_link_hours: int = 72  # how long the voicemail link in the provider's SMS works

    def __post_init__(self) -> None:
        limit = _whole("CALLS_PER_PROVIDER_PER_HOUR", self.calls_per_provider_per_hour, 1, 10_000)
        object.__setattr__(self, "calls_per_provider_per_hour", limit)
        object.__setattr__(self, "record_calls", _flag("RECORD_CALLS", self.record_calls))
        object.__setattr__(self, "whisper", _flag("WHISPER", self.whisper))
        object.__setattr__(self, "voicemail", _flag("VOICEMAIL", self.voicemail))
        object.__setattr__(self, "voicemail_transcribe", _flag("VOICEMAIL_TRANSCRIBE", self.voicemail_transcribe))
        object.__setattr__(self, "dial_timeout", _whole("DIAL_TIMEOUT_SECONDS", self.dial_timeout, 5, 600))
        object.__setattr__(self, "voicemail_max_seconds", _whole("VOICEMAIL_MAX_SECONDS", self.voicemail_max_seconds, 5, 300))
        object.__setattr__(self, "recording_link_hours", _whole("RECORDING_LINK_HOURS", self.recording_link_hours, 1, 720))

    @property
    def dial_record(self) -> str | None:
        """The ``record`` attribute of a bridging ``<Dial>``."""
        return RECORDING_MODE if self.record_calls else None


@lru_cache(maxsize=1)
def get_inventory_settings() -> InventorySettings:
    return _from_env(InventorySettings)


@lru_cache(maxsize=1)
def get_schedule_settings() -> ScheduleSettings:
    settings = _from_env(
        ScheduleSettings, utilization_threshold="POOL_UTILIZATION_THRESHOLD", purchase_cooldown_hours="POOL_PURCHASE_COOLDOWN_HOURS"
    )
    if not settings.webhook_base_url:  # a custom domain serves the webhooks too
        settings = ScheduleSettings(settings.utilization_threshold, settings.purchase_cooldown_hours, get_twilio_settings().public_base_url)
    return settings


@lru_cache(maxsize=1)
def get_voice_settings() -> VoiceSettings:
    return _from_env(VoiceSettings, dial_timeout="DIAL_TIMEOUT_SECONDS")


def clear_operator_settings_cache() -> None:
    for getter in (get_inventory_settings, get_schedule_settings, get_voice_settings):
        getter.cache_clear()
