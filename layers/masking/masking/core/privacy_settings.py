"""Trust and privacy settings: content guard, retention, pool protection, voice spam.

Read from the environment like ``masking.core.settings`` (same ``SettingsError``), kept in
their own module so the routing settings stay as they are. ``get_privacy_settings`` is
cached; ``clear_privacy_settings_cache`` resets it in tests.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Literal, get_args

from masking.core.records import FrozenRecord
from masking.core.settings import SettingsError, _flag, _whole

GuardPolicy = Literal["off", "flag", "redact", "block"]
CallerTreatment = Literal["allow", "announce", "reject"]


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class PrivacySettings(FrozenRecord):
    """Content guard, retention, abuse limits and the unverified-caller treatment, from the environment."""

    content_guard: GuardPolicy = "flag"
    content_guard_urls: bool = False
    # Airtable bodies are blanked after this; DynamoDB's MSG items (with the body) expire
    # after 30 days by TTL (store.items.MESSAGE_RETENTION_SECONDS), hence the minimum of 30
    message_retention_days: int = 90
    provisional_lease_hours: int = 24  # 0: leases of unknown senders are not provisional
    new_contacts_per_provider_per_hour: int = 10  # 0: no limit
    system_replies_per_sender_per_day: int = 5
    # ISO regions system replies may go to; empty: the country of the number replying
    system_reply_countries: tuple[str, ...] = ()
    pool_cool_off_days: float = 7
    unverified_caller: CallerTreatment = "allow"

    def __post_init__(self) -> None:
        if self.content_guard not in get_args(GuardPolicy):
            raise SettingsError(f"CONTENT_GUARD must be one of off, flag, redact, block, not {self.content_guard!r}")
        if self.unverified_caller not in get_args(CallerTreatment):
            raise SettingsError(f"UNVERIFIED_CALLER must be one of allow, announce, reject, not {self.unverified_caller!r}")
        set_ = object.__setattr__
        set_(self, "content_guard_urls", _flag("CONTENT_GUARD_URLS", self.content_guard_urls))
        set_(self, "message_retention_days", _whole("MESSAGE_RETENTION_DAYS", self.message_retention_days, 30, 3650))
        set_(self, "provisional_lease_hours", _whole("PROVISIONAL_LEASE_HOURS", self.provisional_lease_hours, 0, 24 * 30))
        set_(
            self,
            "new_contacts_per_provider_per_hour",
            _whole("NEW_CONTACTS_PER_PROVIDER_PER_HOUR", self.new_contacts_per_provider_per_hour, 0, 100_000),
        )
        set_(
            self,
            "system_replies_per_sender_per_day",
            _whole("SYSTEM_REPLIES_PER_SENDER_PER_DAY", self.system_replies_per_sender_per_day, 0, 1000),
        )
        countries = self.system_reply_countries
        if isinstance(countries, str):
            countries = tuple(code.strip().upper() for code in countries.split(",") if code.strip())
            set_(self, "system_reply_countries", countries)
        if not all(re.fullmatch(r"[A-Z]{2}", code) for code in countries):
            raise SettingsError(f"SYSTEM_REPLY_COUNTRIES must be comma-separated ISO country codes like US,CA, not {countries!r}")
        try:
            cool_off = float(self.pool_cool_off_days)
        except ValueError:
            raise SettingsError(f"POOL_COOL_OFF_DAYS must be a number, not {self.pool_cool_off_days!r}") from None
        if not 0 <= cool_off <= 365:
            raise SettingsError("POOL_COOL_OFF_DAYS must be from 0 to 365")
        set_(self, "pool_cool_off_days", cool_off)

    @property
    def provisional_seconds(self) -> int:
        return self.provisional_lease_hours * 3600

    @property
    def cool_off_seconds(self) -> int:
        return int(self.pool_cool_off_days * 86400)


ENVIRONMENT = {f.name: f.name.upper() for f in fields(PrivacySettings)}  # field -> its variable


@lru_cache(maxsize=1)
def get_privacy_settings() -> PrivacySettings:
    values = {name: os.environ[variable] for name, variable in ENVIRONMENT.items() if os.environ.get(variable, "") != ""}
    return PrivacySettings(**values)  # type: ignore[arg-type]


def clear_privacy_settings_cache() -> None:
    get_privacy_settings.cache_clear()
