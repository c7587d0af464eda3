"""Domain errors.

- ``DuplicateMessage``, ``DuplicateCall``, ``LeaseConflict``: outcomes of the routing store's
  conditional writes, which the routers turn into answers (never into a 5xx).
- ``AdminError`` and its subclasses: the admin flows'; ``handlers.admin_api`` maps each to
  its HTTP answer in one place.
"""

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


class DuplicateMessage(Exception):
    """This MessageSid was processed already (Twilio retried, or a replay)."""


class LeaseConflict(Exception):
    """The lease changed under us (another message touched, took or renewed it)."""


class StoreBusy(Exception):
    """DynamoDB stayed contended, throttled or unreachable through every retry. Nothing is
    decided: the webhook answers 500 so Twilio calls the fallback URL (the message is kept)."""


class ClaimInProgress(Exception):
    """Another invocation claimed this MessageSid moments ago and has not finished it: a
    replay must wait (the fallback consumer retries it later), not call it a duplicate.
    ``record``: that claim, when it was read (a planned forward is checked later instead:
    ``ForwardWorker.take_up``)."""

    def __init__(self, message_sid: str, record: Any = None) -> None:
        super().__init__(message_sid)
        self.record = record


class DuplicateCall(Exception):
    """This CallSid was answered already (Twilio retried, or a replay)."""


class UnconfirmedForward(Exception):
    """A stale claim of this MessageSid planned a forward (``masking.messaging.parts``) and
    nothing says it finished: the invocation that wrote it died before, during or after the
    send. It has been taken over; ``record`` is that claim, whose planned parts the caller
    delivers after reconciling each with Twilio (``ForwardWorker.take_up``), never re-routed."""

    def __init__(self, record: Any) -> None:
        super().__init__(getattr(record, "message_sid", ""))
        self.record = record
