"""Domain errors of the admin flows; the admin API maps each to its HTTP answer."""

from __future__ import annotations

from typing import Any


class AdminError(Exception):
    status = 400

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(AdminError):
    status = 404


class Conflict(AdminError):
    """The request contradicts what exists (a phone owned by another client...)."""

    status = 409


class NoNumbersAvailable(AdminError):
    """Twilio has no number to sell in any area code we may use."""

    status = 409


class Unprocessable(AdminError):
    """A field is present but not acceptable (e.g. not a phone number)."""

    status = 422


class UpstreamError(AdminError):
    """Twilio refused or failed; nothing was half-written."""

    status = 502
