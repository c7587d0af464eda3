"""Buying and attaching Twilio numbers (docs/architecture.md, "Operations").

purchase: search local SMS+voice numbers in the requested area code, then the preferred
ones in order; buy the first available with our webhooks; record it Pending. Nothing is
written when nothing could be bought, and a purchase whose record cannot be written is
released at Twilio again.

attach: (re)point the webhooks, join the Messaging Service when one is configured, send
the verification SMS; mark Ready, or Failed with an audit event.
"""

from __future__ import annotations

from dataclasses import replace

from masking.admin.context import SMS_WEBHOOK_PATH, VOICE_WEBHOOK_PATH, AdminContext
from masking.core.errors import Conflict, NoNumbersAvailable, NotFound, UpstreamError
from masking.core.models import Lifecycle, NumberRecord, NumberStatus, OutboundSms
from masking.core.observability import count, logger, mask_phone
from masking.core.ports import SendError
from masking.mirror.outbox import Category

NUMBER_UNAVAILABLE = 21422  # Twilio: the number was sold between search and purchase
VERIFICATION_TEXT = "Masking service: this number ({number}) is attached and can send messages."

CATEGORY_BY_LIFECYCLE: dict[Lifecycle, Category] = {
    Lifecycle.RESERVED: "Provisioning",
    Lifecycle.POOL: "Pool",
    Lifecycle.STANDBY: "Standby",
    Lifecycle.HANDOVER: "Provisioning",  # a departed provider's number (masking.admin.handover): never bought as such
}
PURPOSE_BY_LIFECYCLE = {
    Lifecycle.RESERVED: "Sitter Assignment",
    Lifecycle.POOL: "Pool Expansion",
    Lifecycle.STANDBY: "Standby Replenishment",
}


def area_codes_to_try(ctx: AdminContext, area_code: str | None) -> list[str]:
    codes = [area_code] if area_code else []
    return codes + [code for code in ctx.inventory.preferred_area_codes if code not in codes]


def purchase_number(
    ctx: AdminContext, lifecycle: Lifecycle, webhook_base: str, area_code: str | None = None, purpose: str | None = None
) -> NumberRecord:
    """Buys one number and records it Pending. Raises NoNumbersAvailable or UpstreamError."""
    purpose = purpose or PURPOSE_BY_LIFECYCLE[lifecycle]
    tried: list[str] = []
    for code in area_codes_to_try(ctx, area_code):
        tried.append(code)
        try:
            candidates = ctx.gateway.search_local_numbers(code)
        except SendError as error:
            raise UpstreamError("Twilio number search failed", {"area_code": code, "twilio_code": error.code}) from error
        for candidate in candidates:
            try:
                bought = ctx.gateway.buy_number(
                    candidate,
                    sms_url=webhook_base + SMS_WEBHOOK_PATH,
                    voice_url=webhook_base + VOICE_WEBHOOK_PATH,
                    friendly_name=f"masking {lifecycle.value.lower()}",
                )
            except SendError as error:
                if error.code == NUMBER_UNAVAILABLE:
                    continue  # sold meanwhile: next candidate
                raise UpstreamError("Twilio refused the purchase", {"area_code": code, "twilio_code": error.code}) from error
            record = _record_purchase(ctx, bought.number, bought.sid, lifecycle, purpose, code)
            if record is not None:
                return record
    ctx.audit("Number purchase failed", "No local SMS+voice number available", "Error", "Error", key="purchase", area_codes=tried)
    raise NoNumbersAvailable("no local SMS+voice number available in any allowed area code", {"area_codes_tried": tried})


def _record_purchase(ctx: AdminContext, number: str, sid: str, lifecycle: Lifecycle, purpose: str, area_code: str) -> NumberRecord | None:
    """Records a bought number Pending; None (and the number released) if we had it already."""
    stamp = ctx.stamp()
    record = NumberRecord(
        number=number,
        lifecycle=lifecycle,
        status=NumberStatus.PENDING,
        twilio_sid=sid,
        purpose=purpose,
        purchased_at=stamp,
        attach_status="Pending",
        verification_status="Not Sent",
        updated_at=stamp,
    )
    try:
        created = ctx.store.create_number(record)
    except Exception:
        _release_quietly(ctx, sid)
        raise
    if not created:
        _release_quietly(ctx, sid)
        logger.warning("bought a number already in the inventory; released it", extra={"number": mask_phone(number)})
        return None
    count("NumbersPurchased")
    logger.info("number purchased", extra={"number": mask_phone(number), "lifecycle": str(lifecycle), "area_code": area_code})
    ctx.mirror_number(record)
    ctx.audit(
        "Number purchased",
        f"Bought a {lifecycle.value} number in area code {area_code}",
        _category(lifecycle),
        "Info",
        key=number,
        number=number,
        purpose=purpose,
    )
    return record


def _release_quietly(ctx: AdminContext, sid: str) -> None:
    try:
        ctx.gateway.release_number(sid)
    except SendError:
        logger.exception("could not release a number after a failed write", extra={"twilio_sid": sid})


def _category(lifecycle: Lifecycle) -> Category:
    return CATEGORY_BY_LIFECYCLE[lifecycle]


def attach_number(ctx: AdminContext, number: str, webhook_base: str) -> NumberRecord:
    """Points the number's webhooks at us, verifies it by SMS; Ready or Failed."""
    stored = ctx.store.get_number(number)
    if stored is None:
        raise NotFound("no such number in the inventory", {"number": number})
    if not stored.twilio_sid:
        raise Conflict("the number has no Twilio SID: it was not bought through this service", {"number": number})
    step = "configure webhooks"
    verification = "Not Sent"
    try:
        ctx.gateway.configure_number(stored.twilio_sid, webhook_base + SMS_WEBHOOK_PATH, webhook_base + VOICE_WEBHOOK_PATH)
        if ctx.twilio.messaging_service_sid:
            step = "join the Messaging Service"
            ctx.gateway.add_to_messaging_service(ctx.twilio.messaging_service_sid, stored.twilio_sid)
        if ctx.inventory.verification_phone:
            step = "send the verification SMS"
            ctx.send_system_sms(
                OutboundSms(from_number=number, to_phone=ctx.inventory.verification_phone, body=VERIFICATION_TEXT.format(number=number)),
                webhook_base,
            )
            verification = "Sent"
    except SendError as error:
        failed = replace(
            stored,
            status=NumberStatus.FAILED,
            attach_status="Failed",
            verification_status="Failed" if step == "send the verification SMS" else stored.verification_status,
            updated_at=ctx.stamp(),
        )
        ctx.store.put_number(failed)
        count("NumberAttachFailed")
        ctx.mirror_number(failed)
        ctx.audit("Number attach failed", f"Could not {step}: {error}", "Error", "Error", key=number, number=number, twilio_code=error.code)
        return failed
    ready = replace(stored, status=NumberStatus.READY, attach_status="Ready", verification_status=verification, updated_at=ctx.stamp())
    ctx.store.put_number(ready)
    ctx.mirror_number(ready)
    ctx.audit(
        "Number attached",
        f"Webhooks pointed at the API; verification {verification.lower()}",
        _category(stored.lifecycle),
        "Info",
        key=number,
        number=number,
    )
    return ready


def purchase_and_attach(ctx: AdminContext, lifecycle: Lifecycle, webhook_base: str, area_code: str | None = None) -> NumberRecord:
    """Pending -> attach -> Ready (or Failed)."""
    bought = purchase_number(ctx, lifecycle, webhook_base, area_code)
    return attach_number(ctx, bought.number, webhook_base)
