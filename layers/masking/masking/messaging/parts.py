"""The parts of a forward: planned on the MessageSid claim, named by their status callbacks.

A forward's parts (from, to, body, media) are all known before anything is sent, so the
webhook writes them on the MessageSid claim, in the same TransactWriteItems as the lease
touch, keyed by index (``MessageRecord.planned``, outcome ``FORWARDING``), and writes
nothing after the send (issue 19: three DynamoDB calls per steady-state message, not four).
What the removed post-send UpdateItem told, the status callbacks and a reconciliation tell:

- every part carries ``StatusCallback=<base>/twilio/sms/status/<MessageSid>.<index>``
  (``part_callback``). Twilio posts a callback for each status change after the message
  is created, never for its initial status ("A status callback request is not sent for
  the initial status of a newly created Message resource",
  https://www.twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks),
  so a part's first callback (``sent``, ``failed``, ``undelivered``; ``queued`` through a
  Messaging Service) names its outbound SID: it is stored per SID with the part index
  (``masking.messaging.delivery``), and a failure finds the part's text in ``planned``
  (``masking.messaging.failures``). Nothing depends on the callback arriving after the
  create call returned: the claim was written before the send.
- Twilio retries a callback only when it cannot connect (the default retry policy
  ``rp=ct``, ``rc=1``: https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides),
  and a 4xx/5xx answer is only logged (warning 15003:
  https://www.twilio.com/docs/api/errors/15003). So a missing callback never proves a part
  was not sent: a claim taken over with planned parts not named by a callback is
  reconciled with Twilio's Messages list before anything is sent again, and a repeat of
  the MessageSid while the claim is fresh queues that check for when it is stale
  (``ForwardWorker.take_up``).

The old ref forms stay accepted for callbacks in flight: ``<MessageSid>`` (a forward, its
part recorded in ``forwarded`` by SID), ``<MessageSid>.system`` and ``<MessageSid>.alert``.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from masking.core.models import FORWARDING, MessageRecord, OutboundSms
from masking.messaging.text import split_body

STATUS_PATH = "/twilio/sms/status"
MAX_PARTS = 99  # a 1,600-character body with its prefix is 2 parts; the ref allows 2 digits
_PART_SUFFIX = re.compile(r"(?<=[0-9A-Za-z])\.[0-9]{1,2}(?=$|&)")  # the ref's part index: the URL's end or a query field's
_REF = re.compile(r"(?P<sid>[A-Za-z]{2}[0-9A-Za-z]{1,62})(?:\.(?:(?P<kind>system|alert)|(?P<part>[0-9]{1,2})))?")


class Ref(NamedTuple):
    message_sid: str  # the inbound MessageSid
    kind: str  # forward, system, alert
    part: int | None  # a forward part's index, when the ref names it


def status_callback_url(base: str, message_sid: str, kind: str = "forward") -> str:
    """Where Twilio reports the delivery of one SMS we send for ``message_sid``."""
    suffix = "" if kind == "forward" else f".{kind}"
    return f"{base.rstrip('/')}{STATUS_PATH}/{message_sid}{suffix}"


def part_callback(status_callback: str | None, index: int) -> str | None:
    """The status callback of part ``index`` of a forward (``<ref>.<index>``)."""
    return f"{status_callback}.{index}" if status_callback else None


def without_part(status_callback: str) -> str:
    """``.../status/SM1.0`` -> ``.../status/SM1`` (``?ref=SM1.0`` too): a resend's callback names no part."""
    return _PART_SUFFIX.sub("", status_callback, count=1)


def parse_ref(ref: str) -> Ref | None:
    """``SM1`` -> forward, ``SM1.0`` -> forward part 0, ``SM1.system`` -> system; None if malformed."""
    found = _REF.fullmatch(ref or "")
    if not found:
        return None
    part = found["part"]
    return Ref(found["sid"], found["kind"] or "forward", int(part) if part is not None else None)


def outbound_parts(outbound: OutboundSms, max_body_length: int) -> list[OutboundSms]:
    """``outbound`` as the SMS to send: the body split into parts, the media on the first;
    none when it has neither body nor media."""
    if not outbound.body.strip() and not outbound.media_urls:
        return []
    return [
        OutboundSms(outbound.from_number, outbound.to_phone, part, list(outbound.media_urls) if index == 0 else [])
        for index, part in enumerate(split_body(outbound.body, max_body_length))
    ]


def plan(record: MessageRecord, outbound: OutboundSms | None, max_body_length: int, lease_id: str | None) -> None:
    """Puts the parts of ``outbound`` on the claim ``record``, before the store writes it;
    ``None`` (nothing will be sent, or no forward queue could resume it): a plain claim."""
    parts = outbound_parts(outbound, max_body_length) if outbound is not None else []
    if 0 < len(parts) <= MAX_PARTS:
        record.planned = [_planned(part) for part in parts]
        record.outcome, record.lease_id = FORWARDING, lease_id
    else:  # nothing to plan (any more: acquire_lease may try another lease)
        record.planned, record.lease_id = [], None
        if record.outcome == FORWARDING:
            record.outcome = "received"


def planned_parts(record: MessageRecord) -> list[OutboundSms]:
    return [OutboundSms(**part) for part in record.planned]


def planned_matches(record: MessageRecord | None, parts: list[OutboundSms]) -> bool:
    """Whether ``record`` was claimed with exactly ``parts`` planned."""
    return record is not None and record.outcome == FORWARDING and record.planned == [_planned(part) for part in parts]


def _planned(part: OutboundSms) -> dict[str, Any]:
    """``asdict(part)``, without its deep copy (this runs twice per message)."""
    return {"from_number": part.from_number, "to_phone": part.to_phone, "body": part.body, "media_urls": list(part.media_urls)}


def planned_part(record: MessageRecord, index: int | None) -> dict[str, Any] | None:
    """Part ``index`` as a ``forwarded`` entry (a first attempt), if it was planned."""
    if index is None or not 0 <= index < len(record.planned):
        return None
    part = record.planned[index]
    return {"from": part["from_number"], "to": part["to_phone"], "body": part["body"], "media_urls": list(part["media_urls"]), "attempt": 1}
