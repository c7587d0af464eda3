"""A call to a number in handover (``masking.core.handover``), for ``VoiceRouter``.

``notify`` mode: the caller hears the handover text with the successor's masked reserved
number read digit by digit, then the call ends (``<Say>``, ``<Hangup/>``); nothing is
dialed, so no real number can show. ``forward`` mode: the call takes the client path to
the successor, with every check a call to a reserved number gets (withheld caller ID,
STIR/SHAKEN), and is connected like a call on a new lease.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from masking.core.handover import handover_active, handover_text, successor_line
from masking.core.models import InboundLookup, NumberRecord
from masking.core.observability import count
from masking.voice.twiml import UNKNOWN_NUMBER

if TYPE_CHECKING:
    from masking.voice.routing import VoiceResult, VoiceRouter, _CallContext


def route_handover_call(
    router: VoiceRouter, ctx: _CallContext, number: NumberRecord, lookup: InboundLookup
) -> tuple[VoiceResult | None, NumberRecord]:
    """``(answer, number)``: the answer when the call ends here; else ``number`` is the
    successor's line, which the router routes as a call to a reserved number."""
    client_id = lookup.client.client_id if lookup.client else None
    if not handover_active(number, ctx.now):
        answer = router._refuse(
            ctx, "unknown_number", UNKNOWN_NUMBER, "Call to a handed-over number", "the handover has ended; nothing dialed"
        )
        return answer, number
    if router.routing.handover_mode == "forward" and lookup.provider_id != number.successor_id:
        count("HandoverCallsForwarded")
        ctx.audit(
            "Handover forwarded",
            "A client called a departed provider's number: routed to the successor as a new contact",
            "Messaging",
            "Info",
            number.successor_id,
            client_id,
            previous_provider=number.provider_id,
        )
        return None, successor_line(number)
    count("HandoverCallNotices")
    answer = router._refuse(
        ctx,
        "handover",
        handover_text(router.routing.handover_text, number, spoken=True),
        "Handover notice",
        f"A client called a departed provider's number and was told how to reach {number.successor_name}",
        severity="Info",
        provider_id=number.provider_id,
        client_id=client_id,
    )
    return answer, number
