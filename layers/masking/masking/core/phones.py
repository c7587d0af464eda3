"""Phone numbers: a fast E.164 check for the hot path, full normalization for input.

Twilio always sends E.164 in webhooks, so the hot path only checks the shape.
Operator and Zapier input goes through ``normalize_e164`` (libphonenumber), which is
imported on first use so webhook cold starts do not pay for it.
"""

from __future__ import annotations

import re

# [0-9], not \d (which matches "²" and other Unicode digits); used with fullmatch, since
# "$" also matches before a final newline ("+13035550201\n" would pass).
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class InvalidPhoneNumber(ValueError):
    def __init__(self, value: str, reason: str = "not a valid phone number") -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason


def is_e164(value: str | None) -> bool:
    return bool(value) and bool(E164.fullmatch(value or ""))


def ascii_digits(value: str) -> bool:
    """Only 0-9 (``str.isdigit`` also takes "²" and "٣", which ``int`` then refuses or reads)."""
    return bool(value) and value.isascii() and value.isdigit()


def normalize_e164(value: str, default_region: str = "US") -> str:
    """Parses a number as people type it and returns E.164, or raises InvalidPhoneNumber."""
    import phonenumbers

    raw = (value or "").strip()
    if not raw:
        raise InvalidPhoneNumber(value, "phone number is empty")
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(value, f"cannot parse phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(value, "not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
