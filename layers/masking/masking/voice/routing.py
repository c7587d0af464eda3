"""Where an inbound call goes (POST /twilio/voice). The voice twin of ``messaging.routing``.

``VoiceRouter.route`` takes one inbound call (signature-checked, parsed) and answers TwiML:

1. client -> provider's reserved number: find or create the client, find or allocate the
   pair's pool number (``masking.core.leases``), ``<Dial callerId=pool number>`` the
   provider's real phone, so the provider sees the same number the client's texts come
   from and a call-back routes through;
2. provider -> pool number: the lease on that number, ``<Dial callerId=reserved number>``
   the client's real phone;
3. unknown number, unknown or anonymous caller, expired lease, pool exhausted: a short
   ``<Say>`` then ``<Hangup/>``, and an audit record. There is never a ``<Dial>`` without
   ``callerId`` (``voice.twiml.dial_twiml`` refuses one): it would show the caller's real
   number;
4. idempotent on CallSid: the answer is stored under the CallSid, in the same transaction
   as the lease touch; a repeated webhook gets the stored answer and allocates nothing.

Every bridging ``<Dial>`` has ``action=<base>/twilio/voice/status/<id>/dial``,
which records the outcome and duration of the dialed leg (``id`` = the inbound CallSid, or
the click-to-call session id, see ``masking.voice.click_to_call``). The webhook is
``masking.handlers.voice``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from masking.core.call_records import CallRecord, DialOutcome
from masking.core.errors import DuplicateCall, LeaseConflict
from masking.core.leases import acquire_lease
from masking.core.models import Client, Lease, Lifecycle, NumberStatus, Provider, utcnow
from masking.core.observability import count, logger, mask_phone
from masking.core.phones import is_e164
from masking.core.ports import CallStore
from masking.core.settings import RECORDING_MODE, RoutingSettings, VoiceSettings
from masking.mirror import rows
from masking.mirror.outbox import Category, MirrorRecord, Severity
from masking.mirror.webhook import WebhookContext, WebhookResult
from masking.voice.caller_trust import announce_url, caller_treatment, with_announce
from masking.voice.handover import route_handover_call
from masking.voice.twiml import (
    CANNOT_CONNECT,
    EXPIRED_CALL_TO_PROVIDER,
    OWN_NUMBER,
    POOL_EXHAUSTED,
    UNKNOWN_CALLER,
    UNKNOWN_NUMBER,
    dial_action_url,
    dial_twiml,
    say_and_hang_up,
)
from masking.voice.whisper import RECORDING_NOTICE, whisper_url

# What Twilio puts in From when the caller ID is withheld: anonymous, restricted, blocked,
# unavailable, unknown. They look like E.164 but are nobody's phone.
WITHHELD_CALLER_IDS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})


@dataclass(slots=True)
class InboundCall:
    """What Twilio posted to the voice webhook, validated."""

    call_sid: str
    from_phone: str  # may be "anonymous" or another non-E.164 value for a withheld number
    to_number: str
    stir_verstat: str = ""  # privacy: STIR/SHAKEN verification (voice.caller_trust)


@dataclass(slots=True, kw_only=True, repr=False, eq=False)
class VoiceResult(WebhookResult):
    twiml: str


@dataclass(slots=True, kw_only=True, repr=False, eq=False)
class _CallContext(WebhookContext):
    ref_name = "call_sid"

    call: InboundCall
    webhook_base: str
    announce: bool = False  # privacy: the provider hears the unverified-caller warning

    @property
    def ref(self) -> str:
        return self.call.call_sid

    @property
    def dial_action(self) -> str:
        return dial_action_url(self.webhook_base, self.call.call_sid)

    def answer(
        self,
        direction: str,
        outcome: str,
        twiml: str,
        provider_id: str | None,
        client_id: str | None,
        lease_id: str | None = None,
        caller_id: str | None = None,
    ) -> CallRecord:
        """What this call is answered, as stored under its CallSid (a retried webhook gets it again)."""
        return CallRecord(self.call.call_sid, self.stamp, direction, outcome, twiml, provider_id, client_id, lease_id, caller_id)


class VoiceRouter:
    def __init__(
        self,
        store: CallStore,
        routing: RoutingSettings,
        voice: VoiceSettings,
        clock: Callable[[], datetime] = utcnow,
        unverified_caller: str = "allow",
    ) -> None:
        self.store = store
        self.routing = routing
        self.voice = voice
        self.clock = clock
        self.unverified_caller = unverified_caller  # privacy: allow, announce or reject

    @property
    def ttl(self) -> timedelta:
        return timedelta(days=self.routing.lease_ttl_days)

    def route(self, call: InboundCall, webhook_base: str) -> VoiceResult:
        ctx = _CallContext(call=call, now=self.clock(), webhook_base=webhook_base.rstrip("/"))
        try:
            result = self._route(ctx)
        except DuplicateCall:  # the same CallSid answered meanwhile (concurrent retry)
            stored = self.store.get_call(call.call_sid)
            return self._duplicate(stored)
        result.records = ctx.records + result.records
        logger.info("call routed", extra={"outcome": result.outcome, "direction": result.direction, "lease_id": result.lease_id})
        return result

    def _duplicate(self, stored: CallRecord | None) -> VoiceResult:
        count("DuplicateCalls")
        logger.info("duplicate CallSid: the stored answer, nothing allocated")
        if stored is None:
            return VoiceResult(twiml=say_and_hang_up(CANNOT_CONNECT), outcome="duplicate")
        return VoiceResult(twiml=stored.twiml, outcome="duplicate", direction=stored.direction, lease_id=stored.lease_id)

    # ---- dispatch
    def _route(self, ctx: _CallContext) -> VoiceResult:
        call = ctx.call
        lookup, answered = self.store.lookup_call(call.to_number, call.from_phone, call.call_sid)
        if answered is not None:
            return self._duplicate(answered)
        number = lookup.number
        if number is None or number.status != NumberStatus.READY:
            return self._refuse(
                ctx, "unknown_number", UNKNOWN_NUMBER, "Call to unknown number", "the number called is not a Ready number of ours"
            )
        if number.lifecycle == Lifecycle.HANDOVER:  # a departed provider's number (masking.voice.handover)
            handed, number = route_handover_call(self, ctx, number, lookup)
            if handed is not None:
                return handed
        if number.lifecycle == Lifecycle.RESERVED and number.provider_id:
            if lookup.provider_id == number.provider_id:
                return self._refuse(
                    ctx,
                    "own_number",
                    OWN_NUMBER,
                    "Provider called own number",
                    "Nothing dialed; the provider was told how to call a client",
                    provider_id=number.provider_id,
                )
            if not is_e164(call.from_phone) or call.from_phone in WITHHELD_CALLER_IDS:
                return self._refuse(
                    ctx, "unknown_caller", UNKNOWN_CALLER, "Call from withheld number", "the caller's number is withheld: nothing dialed"
                )
            if (treatment := caller_treatment(self.unverified_caller, call.stir_verstat)) == "reject":
                count("UnverifiedCallsRejected")
                return self._refuse(
                    ctx,
                    "unverified_caller",
                    UNKNOWN_CALLER,
                    "Unverified caller rejected",
                    f"StirVerstat {call.stir_verstat[:40]}: nothing dialed",
                    provider_id=number.provider_id,
                )
            ctx.announce = treatment == "announce"
            return self._from_client(ctx, number.provider_id, lookup.client)
        if number.lifecycle == Lifecycle.POOL and lookup.provider_id:
            return self._from_provider(ctx, lookup.provider_id)
        return self._refuse(
            ctx,
            "unknown_caller",
            UNKNOWN_CALLER,
            "Call from unknown caller",
            f"no lease matches this caller on a {number.lifecycle} number",
        )

    def _refuse(
        self,
        ctx: _CallContext,
        outcome: str,
        text: str,
        event: str,
        description: str,
        *,
        category: Category = "Messaging",
        severity: Severity = "Warning",
        direction: str = "unrouted",
        provider_id: str | None = None,
        client_id: str | None = None,
    ) -> VoiceResult:
        """A short spoken answer, then hang up; the answer is stored, the refusal audited."""
        twiml = say_and_hang_up(text)
        record = ctx.answer(direction, outcome, twiml, provider_id, client_id)
        self.store.claim_call(record)
        ctx.audit(event, description, category, severity, provider_id, client_id, number=mask_phone(ctx.call.to_number))
        count("CallsNotConnected")
        row = rows.inbound_call_row(record, recorded=False, status="failed", at=ctx.stamp)
        return VoiceResult(twiml=twiml, outcome=outcome, direction=direction, records=[row])

    # ---- flow 1: client -> reserved number
    def _from_client(self, ctx: _CallContext, provider_id: str, client: Client | None) -> VoiceResult:
        if client is None:
            client = ctx.new_client(self.store, ctx.call.from_phone, provider_id, "A new number called a provider")
        provider, pair = self.store.get_provider_and_pair(provider_id, client.client_id)
        if provider is None:
            return self._refuse(
                ctx, "unknown_number", UNKNOWN_NUMBER, "Reserved number without provider", "the number's provider does not exist"
            )
        expires_at = int((ctx.now + self.ttl).timestamp())
        if pair is not None and pair.is_active(ctx.now):
            record = self._bridge_record(ctx, "client_to_provider", provider.phone, pair, provider, client.client_id)
            try:
                touched = self.store.touch_lease_for_call(pair, ctx.stamp, expires_at, record)
            except LeaseConflict:
                pair = self.store.get_provider_and_pair(provider_id, client.client_id)[1]
            else:
                return self._bridged(ctx, record, touched, client.client_id)
        lease, created = acquire_lease(self.store, provider_id, client, pair, ctx.now, self.ttl, record=None)
        if lease is None:
            count("PoolExhausted")
            return self._refuse(
                ctx,
                "pool_exhausted",
                POOL_EXHAUSTED,
                "Pool exhausted",
                "No pool number free for this provider: the client's call was not connected and was asked to text",
                category="Pool",
                severity="Critical",
                direction="client_to_provider",
                provider_id=provider_id,
                client_id=client.client_id,
            )
        record = self._bridge_record(ctx, "client_to_provider", provider.phone, lease, provider, client.client_id)
        self.store.claim_call(record)
        if created:
            ctx.audit(
                "Lease opened",
                "A pool number was assigned to the pair (inbound call)",
                "Pool",
                "Info",
                provider_id,
                client.client_id,
                pool_number=mask_phone(lease.pool_number),
                lease_id=lease.lease_id,
            )
        return self._bridged(ctx, record, lease, client.client_id)

    # ---- flow 2: provider -> pool number
    def _from_provider(self, ctx: _CallContext, provider_id: str) -> VoiceResult:
        provider, slot = self.store.get_provider_and_slot(provider_id, ctx.call.to_number)
        if provider is None:
            return self._refuse(
                ctx, "unknown_caller", UNKNOWN_CALLER, "Provider phone without provider", "the phone's provider does not exist"
            )
        if slot is None or not slot.is_active(ctx.now):
            return self._expired(ctx, provider_id, slot)
        if not provider.reserved_number:
            return self._refuse(
                ctx,
                "undeliverable",
                CANNOT_CONNECT,
                "Provider without reserved number",
                "Cannot call the client: the provider has no reserved number to show",
                category="Messaging",
                severity="Error",
                direction="provider_to_client",
                provider_id=provider_id,
                client_id=slot.client_id,
            )
        record = self._bridge_record(ctx, "provider_to_client", slot.client_phone, slot, provider, slot.client_id)
        try:
            lease = self.store.touch_lease_for_call(slot, ctx.stamp, int((ctx.now + self.ttl).timestamp()), record)
        except LeaseConflict:
            return self._expired(ctx, provider_id, slot)
        return self._bridged(ctx, record, lease, slot.client_id)

    def _expired(self, ctx: _CallContext, provider_id: str, slot: Lease | None) -> VoiceResult:
        count("CallsToExpiredLease")
        return self._refuse(
            ctx,
            "expired",
            EXPIRED_CALL_TO_PROVIDER,
            "Expired lease",
            "A provider called a pool number with no active lease; told it expired",
            direction="provider_to_client",
            provider_id=provider_id,
            client_id=slot.client_id if slot else None,
        )

    # ---- bridging
    def _bridge_record(
        self, ctx: _CallContext, direction: str, to_phone: str, lease: Lease, provider: Provider, client_id: str
    ) -> CallRecord:
        caller_id = lease.pool_number if direction == "client_to_provider" else provider.reserved_number
        twiml = self._dial(ctx, direction, to_phone, caller_id)
        return ctx.answer(direction, "bridged", twiml, provider.provider_id, client_id, lease.lease_id, caller_id)

    def _dial(self, ctx: _CallContext, direction: str, to_phone: str, caller_id: str | None) -> str:
        """The bridging ``<Dial>``: to the provider with the whisper (``masking.voice.whisper``)
        and a short ring (``masking.voice.voicemail``); with recording on, the caller hears the
        notice first and the dialed party in the whisper."""
        record = self.voice.dial_record
        to_provider = direction == "client_to_provider"
        screened = to_provider and self.voice.whisper
        number_url = whisper_url(ctx.webhook_base, ctx.call.call_sid) if screened or record else None
        if ctx.announce and to_provider:  # an unverified caller ID: the provider hears a warning first
            number_url = with_announce(number_url) if number_url else announce_url(ctx.webhook_base)
        return dial_twiml(
            to_phone,
            caller_id,
            ctx.dial_action,
            record,
            timeout=self.voice.dial_timeout if to_provider else None,
            whisper_url=number_url,
            before=(RECORDING_NOTICE,) if record else (),
        )

    def _bridged(self, ctx: _CallContext, record: CallRecord, lease: Lease, client_id: str) -> VoiceResult:
        count("CallsBridged")
        call = rows.inbound_call_row(record, recorded=RECORDING_MODE in record.twiml, status="connecting", at=ctx.stamp)
        client = rows.client_activity(client_id, lease.provider_id, lease.lease_id, ctx.stamp)
        return VoiceResult(
            twiml=record.twiml, outcome="bridged", direction=record.direction, records=[call, client], lease_id=lease.lease_id
        )


def record_inbound_dial(store: CallStore, call_sid: str, outcome: DialOutcome) -> list[MirrorRecord]:
    """The ``<Dial>`` of an inbound call ended: outcome and duration, stored once."""
    changed = store.record_call_dial(call_sid, outcome)
    if changed is None:
        logger.info("dial action changed nothing", extra={"dial_status": outcome.status})
        return []
    count(f"CallDial{outcome.status.title().replace('-', '')}")
    return [rows.dial_outcome_row(call_sid, outcome)]
