"""An SMS to a number in handover (``masking.core.handover``), for ``SmsRouter``.

``route_handover`` answers it, or (``forward`` mode) routes it to the successor through
the router's client path: a new lease, as for any new client. The answer (``notify`` mode) goes out from the texted
number as a system reply (tracked, limited per sender and country like every system
reply) and at most once per sender, number and UTC day: two auto-responders answering
each other exchange one message a day at most. STOP gets no answer, and a sender that is
not a phone number (a short code, an alphanumeric sender) none either.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from masking.core.handover import handover_active, handover_text
from masking.core.models import InboundLookup, NumberRecord
from masking.core.observability import count, mask_phone
from masking.core.phones import is_e164
from masking.messaging.text import classify_keyword

if TYPE_CHECKING:
    from masking.messaging.routing import RouteResult, SmsRouter, _Context


def route_handover(router: SmsRouter, ctx: _Context, number: NumberRecord, lookup: InboundLookup) -> RouteResult:
    if not handover_active(number, ctx.now) or not number.successor_id:
        return router._unrouted(ctx, "Message to a handed-over number", "the handover has ended; nothing forwarded")
    if router.settings.handover_mode == "forward" and lookup.provider_id != number.successor_id:
        ctx.audit(
            "Handover forwarded",
            "A client texted a departed provider's number: routed to the successor as a new contact",
            "Messaging",
            "Info",
            number.successor_id,
            lookup.client.client_id if lookup.client else None,
            number=mask_phone(number.number),
            previous_provider=number.provider_id,
        )
        count("HandoverForwarded")
        return router._from_client(ctx, number.successor_id, lookup.client)
    return _notify(router, ctx, number, lookup)


def _notify(router: SmsRouter, ctx: _Context, number: NumberRecord, lookup: InboundLookup) -> RouteResult:
    from masking.messaging.routing import RouteResult

    sms = ctx.sms
    client_id = lookup.client.client_id if lookup.client else None
    stop = not sms.media_urls and classify_keyword(sms.body, opted_out=False) == "stop"
    outcome = "handover_stop" if stop else "handover_notice"
    router.store.claim_message(router._record(ctx, "handover", number.provider_id, client_id, outcome=outcome))
    details = {"number": mask_phone(number.number), "successor": number.successor_id}
    if stop:
        ctx.audit(
            "Handover number opted out",
            "STOP to a departed provider's number: no answer",
            "Messaging",
            "Info",
            number.provider_id,
            client_id,
            **details,
        )
        return RouteResult(outcome=outcome, direction="handover")
    day = ctx.now.strftime("%Y-%m-%d")
    first_today = is_e164(sms.from_phone) and router.protection.quotas.once(
        f"handover#{number.number}#{sms.from_phone}#{day}", int((ctx.now + timedelta(days=2)).timestamp())
    )
    if not first_today:
        router._finish(sms.message_sid, "handover_notice_withheld", [])
        count("HandoverNoticesWithheld")
        ctx.audit(
            "Handover notice withheld",
            "This sender had today's answer from this number already (or cannot be answered)",
            "Messaging",
            "Info",
            number.provider_id,
            client_id,
            **details,
        )
        return RouteResult(outcome="handover_notice_withheld", direction="handover")
    router._send_system(ctx, number.number, sms.from_phone, handover_text(router.settings.handover_text, number))
    count("HandoverNotices")
    ctx.audit(
        "Handover notice",
        f"A client texted a departed provider's number and was told how to reach {number.successor_name}",
        "Messaging",
        "Info",
        number.provider_id,
        client_id,
        **details,
    )
    return RouteResult(outcome=outcome, direction="handover")
