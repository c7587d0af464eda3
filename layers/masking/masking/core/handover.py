"""A departed provider's reserved number during its handover, as the webhooks see it.

When a provider is removed with a successor (``masking.admin.handover``), their reserved
number does not go to standby at once: for ``HANDOVER_DAYS`` it has the lifecycle
``Handover`` and carries the successor (id, name, reserved number) and the end time on the
number item itself, which the SMS and voice webhooks already read in their first
BatchGetItem, so answering costs no extra read.

- ``notify`` (``HANDOVER_MODE``, default): a client who texts the number gets one short
  answer from it (at most one per sender and day, ``masking.messaging.handover``); a
  caller hears the same text, then the call ends (``masking.voice.handover``). The text
  names the successor's masked reserved number, never a real phone.
- ``forward``: the message or call is routed as if the client had texted or called the
  successor's reserved number (``successor_line``): a new lease with the successor, the
  same path as any new client.

After the end time the number answers like any number without a lease (nothing
forwarded, an audit row) until the standby keeper returns it to standby.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from masking.core.models import Lifecycle, NumberRecord

# One GSM-7 segment (160 characters) for a name up to about 70 characters.
DEFAULT_HANDOVER_TEXT = "Automatic reply: this number is no longer in use. Please text or call {name} at {number}."


def handover_active(number: NumberRecord, now: datetime) -> bool:
    """True while ``number`` answers for a successor."""
    return (
        number.lifecycle == Lifecycle.HANDOVER
        and bool(number.successor_id and number.successor_number)
        and (number.handover_until or 0) > int(now.timestamp())
    )


def spoken_number(e164: str) -> str:
    """Digits a text-to-speech voice reads one by one: ``+17205550002`` -> ``7 2 0, 5 5 5,
    0 0 0 2`` (a North American number without its country code), else every digit after
    the ``+``. The default ``<Say>`` voice reads plain text, no SSML
    (https://www.twilio.com/docs/voice/twiml/say)."""
    digits = e164.lstrip("+")
    groups = [digits[1:4], digits[4:7], digits[7:]] if len(digits) == 11 and digits.startswith("1") else [digits]
    return ", ".join(" ".join(group) for group in groups)


def handover_text(template: str, number: NumberRecord, spoken: bool = False) -> str:
    """The answer naming the successor and their masked reserved number (``HANDOVER_TEXT``,
    validated by the settings, or ``DEFAULT_HANDOVER_TEXT``)."""
    successor_number = number.successor_number or ""
    shown = spoken_number(successor_number) if spoken else successor_number
    return (template or DEFAULT_HANDOVER_TEXT).format(name=number.successor_name or "the new contact", number=shown)


def successor_line(number: NumberRecord) -> NumberRecord:
    """The number seen as the successor's reserved line (``forward`` mode): the router then
    takes the client path to the successor, opening a lease as for any new client."""
    return replace(number, lifecycle=Lifecycle.RESERVED, provider_id=number.successor_id)
