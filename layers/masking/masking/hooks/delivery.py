"""One delivery: an event POSTed to one subscription, signed, retried, set aside.

- The body is the event's JSON (``HookEvent.body``), the same bytes on every attempt.
- ``X-Masking-Signature: v1=<hex>`` is HMAC-SHA256, keyed with the subscription's secret,
  over ``<X-Masking-Timestamp>.<body>`` (the timestamp in Unix seconds, a dot, the raw
  body), so a consumer can check both who sent it and how fresh it is.
- 2xx: done; a marker ``HOOKSENT#<hook>`` / ``<event id>`` (a conditional PutItem) is
  written, and any later copy of that delivery (a redelivered SQS message, an outbox record
  read again) is not POSTed again.
- 429, 5xx, a timeout or a connection error: retried through the hooks queue after
  ``HOOK_RETRY_DELAYS`` (a 429's ``Retry-After`` when longer, up to SQS's 900 s); after the
  last attempt the delivery goes to the hooks DLQ (with an alarm).
- 410 Gone: the subscription is deleted (Zapier answers 410 to a Zap that was turned off:
  https://docs.zapier.com/platform/build/cli-hook-trigger), nothing more is sent to it.
- Any other answer (3xx, 4xx): not retried; logged as an error and put in the DLQ.
- A target whose host resolves to a non-public address (``HttpAnswer.refused``, from
  ``masking.adapters.hook_http``): nothing is POSTed; logged and put in the DLQ like a 4xx.

Logs carry the hook id, the event id and name, the status and the target's host, never the
target's path (Zapier's URL is itself a secret) nor the event's data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from masking.core.observability import count, logger
from masking.core.settings import SQS_MAX_DELAY_SECONDS
from masking.hooks.events import HookEvent
from masking.hooks.settings import HookSettings

if TYPE_CHECKING:
    from masking.core.ports import HookStore

SIGNATURE_HEADER = "X-Masking-Signature"
TIMESTAMP_HEADER = "X-Masking-Timestamp"
DELIVERED_MARKER_SECONDS = 30 * 86400  # longer than any retry or DLQ redrive would take
USER_AGENT = "masking-hooks/1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, event: HookEvent, body: bytes, now: int) -> dict[str, str]:
    timestamp = str(now)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Masking-Event": event.name,
        "X-Masking-Event-Id": event.id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int | None  # None: no answer (connection refused, timeout)
    retry_after: int | None = None  # seconds, from a Retry-After header
    error: str = ""  # the exception's type when there was no answer
    refused: bool = False  # not sent: the target's host resolves to a non-public address

    @property
    def retryable(self) -> bool:
        return not self.refused and (self.status is None or self.status == 429 or self.status >= 500)


# (url, body, headers, read timeout in seconds) -> the answer; masking.adapters.hook_http
HookPoster = Callable[[str, bytes, dict[str, str], float], HttpAnswer]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the hooks queue carries: one event for one subscription, and its attempt."""

    hook_id: str
    event: HookEvent
    attempt: int = 1

    def to_json(self) -> str:
        return json.dumps({"hook_id": self.hook_id, "attempt": self.attempt, "event": self.event.payload()}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Delivery:
        data = json.loads(text)
        return cls(str(data["hook_id"]), HookEvent.from_payload(data["event"]), int(data.get("attempt", 1)))


class HookQueue(Protocol):
    """The hooks queue (SQS) and its DLQ: ``masking.adapters.aws_queues.SqsHookQueue``."""

    def send(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Queues the deliveries now; returns the ones that could not be queued."""
        ...

    def retry(self, delivery: Delivery, delay_seconds: int) -> None: ...

    def dead_letter(self, delivery: Delivery) -> None: ...


class Outcome(StrEnum):
    DELIVERED = "delivered"
    ALREADY_DELIVERED = "already_delivered"
    NO_HOOK = "no_hook"  # unsubscribed since the event was queued
    UNSUBSCRIBED = "unsubscribed"  # the consumer answered 410
    REJECTED = "rejected"  # 3xx or 4xx: set aside, not retried
    RETRYING = "retrying"
    GAVE_UP = "gave_up"  # the last attempt failed: set aside


@dataclass(eq=False)
class Deliverer:
    store: HookStore
    post: HookPoster
    queue: HookQueue
    settings: HookSettings
    clock: Callable[[], float]

    def deliver(self, delivery: Delivery) -> Outcome:
        event = delivery.event
        hook = self.store.get_hook(delivery.hook_id)
        if hook is None:
            count("HookDropped")
            return Outcome.NO_HOOK
        if self.store.delivered(hook.hook_id, event.id):
            count("HookAlreadyDelivered")
            return Outcome.ALREADY_DELIVERED
        body, now = event.body(), int(self.clock())
        answer = self.post(hook.target_url, body, signed_headers(hook.secret, event, body, now), self.settings.timeout_seconds)
        log = {
            "hook": hook.hook_id,
            "event": event.name,
            "event_id": event.id,
            "attempt": delivery.attempt,
            "status": answer.status,
            "error": answer.error or None,
            "host": urlsplit(hook.target_url).hostname,
        }
        if answer.status is not None and 200 <= answer.status < 300:
            if not self.store.mark_delivered(hook.hook_id, event.id, now + DELIVERED_MARKER_SECONDS):
                logger.warning("hook delivery acknowledged twice (two copies raced)", extra=log)
            count("HookDelivered")
            logger.info("hook delivered", extra=log)
            return Outcome.DELIVERED
        if answer.status == 410:
            self.store.delete_hook(hook.hook_id)
            count("HookUnsubscribedGone")
            logger.warning("hook answered 410 Gone: unsubscribed", extra=log)
            return Outcome.UNSUBSCRIBED
        if answer.retryable:
            return self._retry(delivery, answer, log)
        if answer.refused:
            count("HookTargetRefused")
            logger.error("hook target resolves to a non-public address; not sent, set aside in the hooks DLQ", extra=log)
        else:
            count("HookRejected")
            logger.error("hook refused the delivery; set aside in the hooks DLQ", extra=log)
        self.queue.dead_letter(delivery)
        return Outcome.REJECTED

    def _retry(self, delivery: Delivery, answer: HttpAnswer, log: dict[str, object]) -> Outcome:
        if delivery.attempt >= self.settings.attempts:
            count("HookGivenUp")
            logger.error("hook delivery failed its last attempt; set aside in the hooks DLQ", extra=log)
            self.queue.dead_letter(delivery)
            return Outcome.GAVE_UP
        delay = self.settings.retry_delays[delivery.attempt - 1]
        if answer.retry_after:
            delay = min(max(delay, answer.retry_after), SQS_MAX_DELAY_SECONDS)
        self.queue.retry(replace(delivery, attempt=delivery.attempt + 1), delay)
        count("HookRetried")
        logger.warning("hook delivery failed; retried later", extra={**log, "delay_seconds": delay})
        return Outcome.RETRYING
