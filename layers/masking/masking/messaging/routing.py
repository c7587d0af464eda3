"""Where an inbound SMS goes. Start here to follow a message.

``SmsRouter.route`` takes one inbound SMS (already signature-checked and parsed) and:

1. client -> provider's reserved number: find or create the client, find or allocate the
   pair's pool number, forward from the pool number to the provider's real phone
   (``From <Client Name>: `` prefix per policy);
2. provider -> pool number: find the lease, forward from the reserved number to the
   client's real phone;
3. no lease / unknown sender: a short system reply or nothing, always an audit record;
4. STOP-family, START-family and HELP keywords are handled, not forwarded;
5. idempotent on MessageSid: the claim is written atomically with the lease update,
   before anything is sent, with the parts it is about to send (``masking.messaging.parts``):
   nothing is written after a successful send, and a claim found stale (its invocation
   died) has its planned parts reconciled with Twilio and delivered, never routed again.

It returns what it did; the caller publishes ``records`` on the outbox.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from masking.core.errors import ClaimInProgress, DuplicateMessage, LeaseConflict, UnconfirmedForward
from masking.core.leases import acquire_lease
from masking.core.models import (
    Client,
    ForwardedPart,
    InboundSms,
    Lease,
    Lifecycle,
    MessageRecord,
    NumberStatus,
    OutboundSms,
    Party,
    Provider,
    SentSms,
    utcnow,
)
from masking.core.observability import count, logger, mask_phone
from masking.core.ports import RoutingStore, SendError, SmsGateway
from masking.core.settings import RoutingSettings
from masking.messaging.forwarding import UNDELIVERED_TO_SENDER, ForwardWorker, ParkedForward
from masking.messaging.handover import route_handover
from masking.messaging.parts import outbound_parts, part_callback, plan, planned_matches
from masking.messaging.protection import Protection
from masking.messaging.text import (
    CLIENT_OPTED_OUT_TO_PROVIDER,
    EXPIRED_SMS_TO_PROVIDER,
    HELP_TO_CLIENT,
    HELP_TO_PROVIDER,
    HELP_TO_PROVIDER_NO_LEASE,
    OWN_NUMBER_TO_PROVIDER,
    Keyword,
    classify_keyword,
)
from masking.mirror import rows
from masking.mirror.outbox import Severity
from masking.mirror.webhook import WebhookContext, WebhookResult


@dataclass(slots=True, kw_only=True, repr=False, eq=False)
class RouteResult(WebhookResult):
    """What routing one inbound message did (``WebhookResult``), with the parts it sent."""

    sent: list[SentSms] = field(default_factory=list)


@dataclass(slots=True, kw_only=True, repr=False, eq=False)
class _Context(WebhookContext):
    """What one inbound message has learnt so far."""

    ref_name = "message_sid"

    sms: InboundSms
    status_callback: str | None
    # who claims the MessageSid: one token per route call (masking.store.dynamo._message_put)
    claim_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    content_flags: list[str] = field(default_factory=list)
    claim: MessageRecord | None = None  # the claim that planned the forward's parts
    settle: bool = False  # a fallback replay (off the webhook's path) records the outcome anyway

    @property
    def ref(self) -> str:
        return self.sms.message_sid


class SmsRouter:
    def __init__(
        self,
        store: RoutingStore,
        gateway: SmsGateway,
        settings: RoutingSettings,
        clock: Callable[[], datetime] = utcnow,
        forwarding: ForwardWorker | None = None,
        protection: Protection | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.settings = settings
        self.clock = clock
        self.forwarding = forwarding  # parks forwards after transient Twilio failures
        self.protection = protection or Protection.in_memory()

    @property
    def ttl(self) -> timedelta:
        return timedelta(days=self.settings.lease_ttl_days)

    def route(self, sms: InboundSms, status_callback: str | None = None, settle: bool = False) -> RouteResult:
        ctx = _Context(sms=sms, now=self.clock(), status_callback=status_callback, settle=settle)
        try:
            result = self._route(ctx)
        except DuplicateMessage:
            count("DuplicateMessages")
            logger.info("duplicate MessageSid, nothing forwarded", extra={"message_sid": sms.message_sid})
            return RouteResult(outcome="duplicate")
        except (UnconfirmedForward, ClaimInProgress) as claim:  # another invocation's claim: a planned forward?
            taken = self.forwarding.take_up(claim, sms, status_callback, replay=ctx.settle) if self.forwarding else None
            if taken is None:
                raise
            record, outcome, records = taken
            ctx.records.clear()  # the abandoned routing's rows: the claim's plan is delivered instead
            result = RouteResult(outcome=outcome, direction=record.direction, records=records, lease_id=record.lease_id)
        result.records = ctx.records + result.records
        self.protection.flag_rows(ctx, result.records)
        logger.info(
            "sms routed",
            extra={"outcome": result.outcome, "direction": result.direction, "lease_id": result.lease_id, "parts_sent": len(result.sent)},
        )
        return result

    # ---- dispatch
    def _route(self, ctx: _Context) -> RouteResult:
        sms = ctx.sms
        lookup = self.store.lookup_inbound(sms.to_number, sms.from_phone)
        number = lookup.number
        if number is None or number.status != NumberStatus.READY:
            return self._unrouted(ctx, "Message to unknown number", "the number texted is not a Ready number of ours")
        if number.lifecycle == Lifecycle.HANDOVER:  # a departed provider's number (masking.messaging.handover)
            return route_handover(self, ctx, number, lookup)
        if number.lifecycle == Lifecycle.RESERVED and number.provider_id:
            if lookup.provider_id == number.provider_id:
                return self._provider_texts_own_number(ctx, number.provider_id)
            return self._from_client(ctx, number.provider_id, lookup.client)
        if number.lifecycle == Lifecycle.POOL and lookup.provider_id:
            return self._from_provider(ctx, lookup.provider_id)
        return self._unrouted(ctx, "Message from unknown sender", f"no lease matches this sender on a {number.lifecycle} number")

    def _unrouted(self, ctx: _Context, event: str, description: str) -> RouteResult:
        self.store.claim_message(self._record(ctx, direction="unrouted", outcome="unrouted"))
        ctx.audit(event, description, "Messaging", "Warning", number=mask_phone(ctx.sms.to_number))
        count("MessagesUnrouted")
        return RouteResult(outcome="unrouted")

    # ---- flow 1: client -> reserved number
    def _from_client(self, ctx: _Context, provider_id: str, client: Client | None) -> RouteResult:
        sms = ctx.sms
        if client is None:
            client = ctx.new_client(self.store, sms.from_phone, provider_id, "A new number texted a provider")
        provider, pair = self.store.get_provider_and_pair(provider_id, client.client_id)
        if provider is None:
            return self._unrouted(ctx, "Reserved number without provider", "the number's provider does not exist")
        keyword = classify_keyword(sms.body, opted_out=bool(pair and pair.client_opted_out)) if not sms.media_urls else None
        if keyword is not None:
            return self._keyword(ctx, keyword, "client", provider, pair, client.client_id)
        own = (provider.reserved_number, pair.pool_number if pair else None)
        if stopped := self.protection.guard(self, ctx, provider, client.client_id, "client_to_provider", own):
            return stopped
        if isinstance(ttl := self.protection.lease_ttl(self, ctx, provider, client, pair), RouteResult):
            return ttl  # the new-contact limit: delivered from the reserved number
        record, reused = self._record(ctx, "client_to_provider", provider.provider_id, client.client_id), self.protection.reuse_log()

        def planned(lease: Lease, created: bool, reuse: bool) -> None:  # what the claim plans to send (masking.messaging.parts)
            notice = self.protection.reuse_text(client) if reuse else ""
            outbound = self._to_provider(ctx, lease, provider, client, notice, created) if self.forwarding else None
            plan(record, None if lease.provider_opted_out else outbound, self.settings.max_body_length, lease.lease_id)

        lease, created = acquire_lease(
            self.store, provider.provider_id, client, pair, ctx.now, ttl, record, self.protection.cool_off, reused.append, planned
        )
        if lease is None:
            return self._pool_exhausted(ctx, provider, client)
        ctx.claim = record
        if lease.provider_opted_out:
            self._finish(sms.message_sid, "blocked", [])
            ctx.audit(
                "Provider opted out",
                "Not forwarded: the provider opted out of this pool number",
                "Messaging",
                "Error",
                provider.provider_id,
                client.client_id,
            )
            return RouteResult(outcome="blocked", direction="client_to_provider", lease_id=lease.lease_id)
        if created:
            ctx.audit(
                "Lease opened",
                "A pool number was assigned to the pair",
                "Pool",
                "Info",
                provider.provider_id,
                client.client_id,
                pool_number=mask_phone(lease.pool_number),
                lease_id=lease.lease_id,
            )
        outbound = self._to_provider(ctx, lease, provider, client, self.protection.reuse_notice(ctx, reused, provider, client), created)
        # a transient failure parks this exact body (prefix included) and the lease stays
        return self._forward(ctx, outbound, "client_to_provider", provider, client, lease)

    def _to_provider(self, ctx: _Context, lease: Lease, provider: Provider, client: Client, notice: str, new_lease: bool) -> OutboundSms:
        """A client's message as forwarded to the provider (name prefix per policy)."""
        policy = self.settings.prefix_policy
        prefix = f"From {client.name}: " if policy == "always" or (policy == "first" and new_lease) else ""
        return OutboundSms(lease.pool_number, provider.phone, notice + prefix + ctx.sms.body, list(ctx.sms.media_urls))

    def _keyword(
        self, ctx: _Context, keyword: Keyword, party: Party, provider: Provider, lease: Lease | None, client_id: str | None
    ) -> RouteResult:
        """STOP / START / HELP from a client (on the reserved number) or a provider (on a
        pool number): recorded on the lease, never forwarded; HELP gets a short answer."""
        direction = "client_to_provider" if party == "client" else "provider_to_client"
        self.store.claim_message(self._record(ctx, direction, provider.provider_id, client_id, outcome=f"keyword_{keyword}"))
        who = "A client" if party == "client" else "A provider"
        if keyword == "help":
            if party == "client":
                self._send_system(ctx, provider.reserved_number, ctx.sms.from_phone, HELP_TO_CLIENT.format(provider=provider.name))
            else:
                text = HELP_TO_PROVIDER.format(client=lease.client_name) if lease else HELP_TO_PROVIDER_NO_LEASE
                self._send_system(ctx, ctx.sms.to_number, provider.phone, text)
            ctx.audit("Help requested", f"{who} asked for HELP", "Messaging", "Info", provider.provider_id, client_id)
            return RouteResult(outcome="help", direction=direction)
        opted_out = keyword == "stop"
        if lease is not None:
            self.store.set_opt_out(lease, party, opted_out)
        where = "the client" if party == "client" else "the provider on a pool number"
        event = f"{party.title()} opted {'out' if opted_out else 'in'}"
        severity: Severity = "Warning" if opted_out else "Info"
        ctx.audit(event, f"{sms_keyword(ctx)} from {where}; not forwarded", "Messaging", severity, provider.provider_id, client_id)
        return RouteResult(outcome="opted_out" if opted_out else "opted_in", direction=direction)

    def _claim_from_reserved(self, ctx: _Context, provider: Provider, client: Client, outcome: str) -> OutboundSms | None:
        """Claims (and plans: messaging.parts) a client message sent from the reserved number with
        the name prefix (pool exhausted, new-contact limit); None: no reserved number."""
        record = self._record(ctx, "client_to_provider", provider.provider_id, client.client_id, outcome=outcome)
        reserved, body = provider.reserved_number, f"From {client.name}: {ctx.sms.body}"
        outbound = OutboundSms(reserved, provider.phone, body, list(ctx.sms.media_urls)) if reserved else None
        plan(record, outbound if self.forwarding else None, self.settings.max_body_length, None)
        self.store.claim_message(record)
        ctx.claim = record
        return outbound

    def _send_claimed(self, ctx: _Context, outbound: OutboundSms | None, provider: Provider, client: Client, outcome: str) -> RouteResult:
        """Sends what ``_claim_from_reserved`` claimed: ``forwarded_<outcome>``, or ``<outcome>_undeliverable`` (no reserved number)."""
        if outbound is None:
            return RouteResult(outcome=f"{outcome}_undeliverable", direction="client_to_provider")
        result = self._forward(ctx, outbound, "client_to_provider", provider, client, None)
        if result.outcome == "forwarded":
            result.outcome = f"forwarded_{outcome}"
        return result

    def _pool_exhausted(self, ctx: _Context, provider: Provider, client: Client) -> RouteResult:
        """No pool number free for this provider: deliver anyway from the reserved number."""
        outbound = self._claim_from_reserved(ctx, provider, client, "pool_exhausted")
        count("PoolExhausted")
        ctx.audit(
            "Pool exhausted",
            "No pool number free for this provider; delivered from the reserved number",
            "Pool",
            "Critical",
            provider.provider_id,
            client.client_id,
        )
        return self._send_claimed(ctx, outbound, provider, client, "pool_exhausted")

    # ---- flow 2: provider -> pool number
    def _from_provider(self, ctx: _Context, provider_id: str) -> RouteResult:
        sms = ctx.sms
        provider, slot = self.store.get_provider_and_slot(provider_id, sms.to_number)
        if provider is None:
            return self._unrouted(ctx, "Provider phone without provider", "the phone's provider does not exist")
        active = slot is not None and slot.is_active(ctx.now)
        keyword = classify_keyword(sms.body, opted_out=bool(slot and slot.provider_opted_out)) if not sms.media_urls else None
        if keyword is not None:
            lease = slot if active else None
            return self._keyword(ctx, keyword, "provider", provider, lease, slot.client_id if slot else None)
        if slot is None or not active:
            return self._expired(ctx, provider, slot)
        if slot.client_opted_out:
            self.store.claim_message(self._record(ctx, "provider_to_client", provider.provider_id, slot.client_id, outcome="blocked"))
            self._send_system(ctx, sms.to_number, provider.phone, CLIENT_OPTED_OUT_TO_PROVIDER.format(client=slot.client_name))
            ctx.audit(
                "Client opted out", "Not forwarded: the client has opted out", "Messaging", "Warning", provider.provider_id, slot.client_id
            )
            return RouteResult(outcome="blocked", direction="provider_to_client", lease_id=slot.lease_id)
        if stopped := self.protection.guard(self, ctx, provider, slot.client_id, "provider_to_client", (provider.reserved_number,)):
            return stopped
        record = self._record(ctx, "provider_to_client", provider.provider_id, slot.client_id)
        reserved = provider.reserved_number
        reply = OutboundSms(reserved, slot.client_phone, sms.body, list(sms.media_urls)) if reserved else None
        plan(record, reply if self.forwarding else None, self.settings.max_body_length, slot.lease_id)  # masking.messaging.parts
        try:
            lease = self.store.touch_lease(slot, ctx.stamp, int((ctx.now + self.ttl).timestamp()), record)
        except LeaseConflict:
            return self._expired(ctx, provider, slot)
        ctx.claim = record
        if reply is None:
            self._finish(sms.message_sid, "undeliverable", [])
            ctx.audit(
                "Provider without reserved number",
                "Cannot forward: the provider has no reserved number",
                "Messaging",
                "Error",
                provider.provider_id,
                slot.client_id,
            )
            return RouteResult(outcome="undeliverable", direction="provider_to_client")
        client = Client(client_id=lease.client_id, name=lease.client_name, phone=lease.client_phone)
        return self._forward(ctx, replace(reply, to_phone=lease.client_phone), "provider_to_client", provider, client, lease)

    def _expired(self, ctx: _Context, provider: Provider, slot: Lease | None) -> RouteResult:
        client_id = slot.client_id if slot else None
        self.store.claim_message(self._record(ctx, "provider_to_client", provider.provider_id, client_id, outcome="expired"))
        self._send_system(ctx, ctx.sms.to_number, provider.phone, EXPIRED_SMS_TO_PROVIDER)
        ctx.audit(
            "Expired lease",
            "A provider texted a pool number with no active lease; told it expired",
            "Messaging",
            "Warning",
            provider.provider_id,
            client_id,
            pool_number=mask_phone(ctx.sms.to_number),
        )
        count("MessagesToExpiredLease")
        return RouteResult(outcome="expired", direction="provider_to_client")

    def _provider_texts_own_number(self, ctx: _Context, provider_id: str) -> RouteResult:
        self.store.claim_message(self._record(ctx, "provider_to_client", provider_id, None, outcome="own_number"))
        self._send_system(ctx, ctx.sms.to_number, ctx.sms.from_phone, OWN_NUMBER_TO_PROVIDER)
        ctx.audit(
            "Provider texted own number", "Nothing forwarded; the provider was told how to reply", "Messaging", "Warning", provider_id
        )
        return RouteResult(outcome="own_number", direction="provider_to_client")

    # ---- sending
    def _forward(
        self, ctx: _Context, outbound: OutboundSms, direction: str, provider: Provider, client: Client, lease: Lease | None
    ) -> RouteResult:
        sms, lease_id = ctx.sms, lease.lease_id if lease else None
        pieces = outbound_parts(outbound, self.settings.max_body_length)
        if not pieces:
            self._finish(sms.message_sid, "empty", [])
            ctx.audit(
                "Empty message", "Nothing to forward: no body and no media", "Messaging", "Warning", provider.provider_id, client.client_id
            )
            return RouteResult(outcome="empty", direction=direction)
        sent: list[SentSms] = []
        forwarded: list[ForwardedPart] = []
        started = time.monotonic()
        try:
            for index, piece in enumerate(pieces):
                if forwarded and self.forwarding and time.monotonic() - started > self.forwarding.settings.hot_path_budget_seconds:
                    raise SendError("webhook time budget used: the remaining parts are parked", transport=True)
                sent.append(self.gateway.send_sms(piece, part_callback(ctx.status_callback, index)))
                forwarded.append(ForwardedPart(sent[-1].sid, piece.from_number, piece.to_phone, piece.body, list(piece.media_urls)))
        except SendError as error:
            if error.transient and self.forwarding is not None:
                ids = (provider.provider_id, client.client_id)
                parked = ParkedForward.start(sms, ctx.stamp, ctx.status_callback, direction, *ids, lease_id, pieces, forwarded)
                ctx.records.extend(self.forwarding.after_failure(replace(parked, ambiguous=error.ambiguous), error))
                return RouteResult(outcome="parked", direction=direction, sent=sent, lease_id=lease_id)
            return self._send_failed(ctx, error, forwarded, direction, provider, client)
        count("MessagesForwarded")
        if len(pieces) > 1:
            count("MessagesSplit")
        if ctx.settle or not planned_matches(ctx.claim, pieces):  # planned on the claim: nothing to write after the send
            self._finish(sms.message_sid, "forwarded", forwarded)
        records = rows.forwarded(sms, outbound, direction, provider.provider_id, client.client_id, lease_id, sent, ctx.stamp)
        return RouteResult(outcome="forwarded", direction=direction, sent=sent, records=records, lease_id=lease_id)

    def _send_failed(
        self, ctx: _Context, error: SendError, sent: list[ForwardedPart], direction: str, provider: Provider, client: Client
    ) -> RouteResult:
        """A permanent refusal (or a transient one with no forward queue): recorded, the
        sender told; the MessageSid stays claimed (Twilio does not retry an answered webhook)."""
        count("ForwardFailed")
        self._finish(ctx.sms.message_sid, "partially_forwarded" if sent else "send_failed", sent)
        logger.error("forwarding failed", extra={"twilio_code": error.code, "parts_sent": len(sent)})
        ctx.audit(
            "Forwarding failed",
            f"Twilio refused the message: {error}",
            "Error",
            "Error",
            provider.provider_id,
            client.client_id,
            twilio_error_code=error.code,
            parts_sent=len(sent),
        )
        self._send_system(ctx, ctx.sms.to_number, ctx.sms.from_phone, UNDELIVERED_TO_SENDER)
        return RouteResult(outcome="send_failed", direction=direction, sent=[SentSms(p.sid, "queued") for p in sent])

    def _send_system(self, ctx: _Context, from_number: str | None, to_phone: str, text: str) -> None:
        """A short service reply, tracked like a forward: it carries a StatusCallback
        (``<ref>.system``, so its status never overwrites the message's Messages row) and is
        recorded on the inbound message's record, so a failed delivery is audited
        (``masking.messaging.failures``). Limited per sender and country
        (``masking.messaging.protection``). A refused send is audited, never raised."""
        if not from_number or not self.protection.may_reply(ctx, from_number, to_phone):
            return
        callback = f"{ctx.status_callback}.system" if ctx.status_callback else None
        message = OutboundSms(from_number=from_number, to_phone=to_phone, body=text)
        try:
            sent = self.gateway.send_sms(message, callback)
        except SendError as error:
            count("SystemReplyFailed")
            ctx.audit("System reply failed", f"Twilio refused a service reply: {error}", "Error", "Error", twilio_error_code=error.code)
            return
        self.store.add_sent_part(ctx.sms.message_sid, ForwardedPart(sent.sid, from_number, to_phone, text, kind="system"))

    def _finish(self, message_sid: str, outcome: str, parts: list[ForwardedPart]) -> None:
        """Records how a claimed message ended and what was sent under which SID; a store
        failure after a send is logged, not raised (a 500 would have it replayed)."""
        try:
            self.store.set_message_outcome(message_sid, outcome, parts)
        except Exception:
            if not parts:
                raise
            count("MessageOutcomeNotRecorded")
            logger.exception("forwarded, but the outcome could not be recorded", extra={"message_sid": message_sid})

    # ---- records
    def _record(
        self, ctx: _Context, direction: str, provider_id: str | None = None, client_id: str | None = None, outcome: str = "received"
    ) -> MessageRecord:
        return MessageRecord(
            message_sid=ctx.sms.message_sid,
            received_at=ctx.stamp,
            provider_id=provider_id,
            client_id=client_id,
            direction=direction,
            outcome=outcome,
            body=ctx.sms.body,
            media_urls=list(ctx.sms.media_urls),
            claim_token=ctx.claim_token,
        )


def sms_keyword(ctx: _Context) -> str:
    return ctx.sms.body.strip().upper()[:20]
