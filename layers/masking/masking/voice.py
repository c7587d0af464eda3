"""Where an inbound call goes, and the three voice webhooks of ``call_connect``.

``VoiceRouter.route`` takes one inbound call (signature-checked, parsed) and answers TwiML:

1. client -> provider's reserved number: find or create the client, find or allocate the
   pair's pool number (``masking.leases``), ``<Dial callerId=pool number>`` the provider's
   real phone, so the provider sees the same number the client's texts come from and a
   call-back routes through;
2. provider -> pool number: the lease on that number, ``<Dial callerId=reserved number>``
   the client's real phone;
3. unknown number, unknown or anonymous caller, expired lease, pool exhausted: a short
   ``<Say>`` then ``<Hangup/>``, and an audit record. There is never a ``<Dial>`` without
   ``callerId`` (``dial_twiml`` refuses one): it would show the caller's real number;
4. idempotent on CallSid: the answer is stored under the CallSid, in the same transaction
   as the lease touch; a repeated webhook gets the stored answer and allocates nothing.

Every bridging ``<Dial>`` has ``action=<base>/twilio/voice/status?call=<id>&leg=dial``,
which records the outcome and duration of the dialed leg (``id`` = the inbound CallSid, or
the click-to-call session id, see ``masking.calls``).

``handle_voice_webhook``, ``handle_bridge_webhook`` and ``handle_call_status_webhook`` are
what ``functions/call_connect/app.py`` calls: API Gateway event -> domain -> TwiML.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from masking.calls import (
    DIAL_STATUSES,
    NOT_CONNECTED,
    RECORDING_MODE,
    VoiceSettings,
    answer_bridge,
    get_voice_settings,
    record_call_status,
    record_dial_outcome,
)
from masking.leases import acquire_lease
from masking.models import Client, Lease, Lifecycle, NumberStatus, Provider, iso, utcnow
from masking.observability import count, logger, mask_phone
from masking.outbox import AuditTrail, Category, MirrorRecord, Outbox, Severity, audit_record, publish_records
from masking.phones import is_e164
from masking.secrets import TwilioCredentials
from masking.settings import RoutingSettings, TwilioSettings, get_aws_settings, get_routing_settings, get_twilio_settings
from masking.store.base import LeaseConflict
from masking.store.calls import CallRecord, CallStore, DialOutcome, DuplicateCall
from masking.webhooks import BadRequest, FormParams, forbidden, form_params, is_signed_by_twilio, json_response, public_base, public_url
from masking.webhooks import twiml_response as _twiml_response

VOICE_PATH = "/twilio/voice"
BRIDGE_PATH = "/twilio/voice/bridge"
STATUS_PATH = "/twilio/voice/status"
NEW_CLIENT_NAME = "New client"  # as masking.sms.NEW_CLIENT_NAME (not imported: it brings twilio.rest)
# What Twilio puts in From when the caller ID is withheld: anonymous, restricted, blocked,
# unavailable, unknown. They look like E.164 but are nobody's phone.
WITHHELD_CALLER_IDS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})

UNKNOWN_NUMBER = "Sorry, this number is not in service. Goodbye."
UNKNOWN_CALLER = "Sorry, this number cannot take your call. Goodbye."
EXPIRED_TO_PROVIDER = "This conversation has expired, so your call cannot be connected. It reopens when your client contacts you again."
POOL_EXHAUSTED = "Sorry, your call cannot be connected right now. Please send a text message to this number instead."
OWN_NUMBER = "This is your own masked number. To call a client, call the number their messages come from."
NOT_AVAILABLE = "The person you are calling is not available. Please try again later, or send a text message."
CLIENT_NOT_ANSWERED = "Your client did not answer. Goodbye."
CALL_REQUEST_EXPIRED = "This call request has expired."
CANNOT_CONNECT = "Sorry, this call cannot be connected. Goodbye."


# ---------------------------------------------------------------- TwiML


def say_and_hang_up(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def dial_twiml(to_phone: str, caller_id: str | None, action: str, record: str | None = None) -> str:
    """``<Dial callerId action method=POST [record]><Number>to</Number></Dial>``.

    Refuses to build a ``<Dial>`` without a masked ``callerId``: Twilio would show the
    caller's real number.
    """
    if not caller_id or not is_e164(caller_id):
        raise ValueError("a <Dial> needs a masked callerId (E.164), or it shows the caller's real number")
    response = VoiceResponse()
    options: dict[str, Any] = {"caller_id": caller_id, "action": action, "method": "POST"}
    if record:
        options["record"] = record
    dial = response.dial(**options)
    dial.number(to_phone)
    return str(response)


# ---------------------------------------------------------------- routing


@dataclass(slots=True)
class InboundCall:
    """What Twilio posted to the voice webhook, validated."""

    call_sid: str
    from_phone: str  # may be "anonymous" or another non-E.164 value for a withheld number
    to_number: str


@dataclass(slots=True)
class VoiceResult:
    twiml: str
    outcome: str
    direction: str = ""
    records: list[MirrorRecord] = field(default_factory=list)
    lease_id: str | None = None


@dataclass(slots=True)
class _CallContext:
    call: InboundCall
    now: datetime
    webhook_base: str
    records: list[MirrorRecord] = field(default_factory=list)

    @property
    def stamp(self) -> str:
        return iso(self.now)

    @property
    def dial_action(self) -> str:
        return f"{self.webhook_base}{STATUS_PATH}?call={self.call.call_sid}&leg=dial"

    @property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.records, "call_sid", self.call.call_sid, self.stamp)


class VoiceRouter:
    def __init__(
        self,
        store: CallStore,
        routing: RoutingSettings,
        voice: VoiceSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.routing = routing
        self.voice = voice
        self.clock = clock

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
        record = CallRecord(
            call_sid=ctx.call.call_sid,
            received_at=ctx.stamp,
            direction=direction,
            outcome=outcome,
            twiml=twiml,
            provider_id=provider_id,
            client_id=client_id,
        )
        self.store.claim_call(record)
        ctx.audit(event, description, category, severity, provider_id, client_id, number=mask_phone(ctx.call.to_number))
        count("CallsNotConnected")
        fields = _call_fields(record, ctx.stamp, status="failed")
        return VoiceResult(
            twiml=twiml, outcome=outcome, direction=direction, records=[MirrorRecord("call", ctx.call.call_sid, fields, ctx.stamp)]
        )

    # ---- flow 1: client -> reserved number
    def _from_client(self, ctx: _CallContext, provider_id: str, client: Client | None) -> VoiceResult:
        call = ctx.call
        if client is None:
            client = self.store.create_client(
                Client(client_id=f"CL{uuid.uuid4().hex}", name=NEW_CLIENT_NAME, phone=call.from_phone, created_at=ctx.stamp)
            )
            ctx.records.append(
                MirrorRecord(
                    kind="client",
                    key=client.client_id,
                    at=ctx.stamp,
                    fields={
                        "Name": client.name,
                        "Client Phone (E.164)": client.phone,
                        "Phone Number": client.phone,
                        "Linked Sitter": provider_id,
                        "Created At": client.created_at,
                    },
                )
            )
            ctx.audit("Client created", "A new number called a provider", "Client Sync", "Info", provider_id, client.client_id)
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
            EXPIRED_TO_PROVIDER,
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
        twiml = dial_twiml(to_phone, caller_id, ctx.dial_action, self.voice.dial_record)
        return CallRecord(
            call_sid=ctx.call.call_sid,
            received_at=ctx.stamp,
            direction=direction,
            outcome="bridged",
            twiml=twiml,
            provider_id=provider.provider_id,
            client_id=client_id,
            lease_id=lease.lease_id,
            caller_id=caller_id,
        )

    def _bridged(self, ctx: _CallContext, record: CallRecord, lease: Lease, client_id: str) -> VoiceResult:
        count("CallsBridged")
        call = MirrorRecord("call", record.call_sid, _call_fields(record, ctx.stamp, status="connecting"), ctx.stamp)
        client = MirrorRecord(
            "client",
            client_id,
            {"Last Active": ctx.stamp, "Session SID": lease.lease_id, "Linked Sitter": lease.provider_id},
            ctx.stamp,
        )
        return VoiceResult(
            twiml=record.twiml, outcome="bridged", direction=record.direction, records=[call, client], lease_id=lease.lease_id
        )


def _call_fields(record: CallRecord, stamp: str, status: str) -> dict[str, object]:
    """A Calls row (Airtable) for an inbound call, upserted on the CallSid. A refused call is
    "failed" there; why is in its Audit Log row."""
    return {
        "Call SID": record.call_sid,
        "Sitter": record.provider_id,
        "Client": record.client_id,
        "Direction": record.direction,
        "Status": status,
        "Caller ID": record.caller_id,
        "Started": stamp,
        "Recorded": RECORDING_MODE in record.twiml,
    }


def record_inbound_dial(store: CallStore, call_sid: str, outcome: DialOutcome) -> list[MirrorRecord]:
    """The ``<Dial>`` of an inbound call ended: outcome and duration, stored once."""
    changed = store.record_call_dial(call_sid, outcome)
    if changed is None:
        logger.info("dial action changed nothing", extra={"dial_status": outcome.status})
        return []
    count(f"CallDial{outcome.status.title().replace('-', '')}")
    fields: dict[str, object] = {"Call SID": call_sid, "Status": outcome.status, "Duration": outcome.duration}
    return [MirrorRecord("call", call_sid, fields, outcome.at)]


# ---------------------------------------------------------------- webhooks


@dataclass
class VoiceServices:
    router: VoiceRouter
    outbox: Outbox
    twilio: TwilioSettings
    credentials: Callable[[], TwilioCredentials]

    @property
    def store(self) -> CallStore:
        return self.router.store

    def now(self) -> datetime:
        return self.router.clock()


@lru_cache(maxsize=1)
def get_voice_services() -> VoiceServices:
    """The adapters of ``call_connect``, built once per container."""
    from masking.outbox import SqsOutbox
    from masking.secrets import load_twilio_credentials
    from masking.store.calls import DynamoCallStore

    aws = get_aws_settings()

    def credentials() -> TwilioCredentials:
        return load_twilio_credentials(aws.secrets_path)

    router = VoiceRouter(DynamoCallStore(aws.table_name), get_routing_settings(), get_voice_settings())
    return VoiceServices(router=router, outbox=SqsOutbox(aws.outbox_queue_url), twilio=get_twilio_settings(), credentials=credentials)


def twiml_response(twiml: str | None = None) -> dict[str, Any]:
    return _twiml_response(twiml) if twiml else _twiml_response()


def parse_inbound_call(params: FormParams) -> InboundCall:
    sid = params.first("CallSid")
    if not sid or not sid.startswith("CA") or len(sid) > 64:
        raise BadRequest("CallSid is missing or not a Twilio call SID")
    to_number = params.first("To")
    if not is_e164(to_number):
        raise BadRequest("To is not an E.164 phone number")
    return InboundCall(call_sid=sid, from_phone=params.first("From").strip(), to_number=to_number)


def _verified(event: dict[str, Any], services: VoiceServices) -> tuple[str, FormParams] | dict[str, Any]:
    """The URL Twilio called and the form, or the error answer (400 unreadable, 403 unsigned)."""
    url = public_url(event, services.twilio.public_base_url)
    try:
        params = form_params(event)
    except BadRequest as exc:
        logger.warning("unreadable voice webhook body", extra={"reason": str(exc)})
        return json_response(400, {"success": False, "error": "unreadable form body", "details": str(exc)})
    if not is_signed_by_twilio(event, params, services.credentials().auth_token, url):
        count("InvalidSignatures")
        logger.warning("rejected voice webhook: invalid or missing X-Twilio-Signature")
        return forbidden()
    return url, params


def _query(event: dict[str, Any], name: str) -> str:
    return str((event.get("queryStringParameters") or {}).get(name) or "").strip()


def _seconds(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() else None


def handle_voice_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    """POST /twilio/voice: Twilio's "A call comes in"."""
    verified = _verified(event, services)
    if isinstance(verified, dict):
        return verified
    url, params = verified
    try:
        call = parse_inbound_call(params)
    except BadRequest as exc:
        count("MalformedWebhooks")
        logger.warning("malformed voice webhook, nothing dialed", extra={"reason": str(exc)})
        stamp = iso(services.now())
        audit = audit_record(
            "Malformed webhook",
            f"Signed voice webhook not routable: {exc}",
            category="Error",
            severity="Warning",
            at=stamp,
            key=f"malformed:{params.first('CallSid') or 'unknown'}",
        )
        publish_records(services.outbox, [audit])
        return twiml_response(say_and_hang_up(CANNOT_CONNECT))
    logger.set_correlation_id(call.call_sid)
    result = services.router.route(call, public_base(url, VOICE_PATH))
    publish_records(services.outbox, result.records)
    return twiml_response(result.twiml)


def handle_bridge_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    """POST /twilio/voice/bridge?call=<id>: the provider answered a click-to-call."""
    verified = _verified(event, services)
    if isinstance(verified, dict):
        return verified
    url, params = verified
    call_id, call_sid = _query(event, "call"), params.first("CallSid")
    if call_sid:
        logger.set_correlation_id(call_sid)
    result = answer_bridge(services.store, call_id, call_sid, services.now())
    publish_records(services.outbox, result.records)
    session = result.session
    if session is None:
        logger.info("bridge refused", extra={"reason": result.reason, "call_id": call_id})
        return twiml_response(say_and_hang_up(CALL_REQUEST_EXPIRED))
    action = f"{public_base(url, BRIDGE_PATH)}{STATUS_PATH}?call={session.call_id}&leg=dial"
    return twiml_response(dial_twiml(session.client_phone, session.reserved_number, action, RECORDING_MODE if session.record else None))


def handle_call_status_webhook(event: dict[str, Any], services: VoiceServices) -> dict[str, Any]:
    """POST /twilio/voice/status?call=<id>[&leg=dial]: a call status callback, or a <Dial> action."""
    verified = _verified(event, services)
    if isinstance(verified, dict):
        return verified
    _, params = verified
    call_id = _query(event, "call")
    if params.first("CallSid"):
        logger.set_correlation_id(params.first("CallSid"))
    if _query(event, "leg") == "dial":
        return _dial_action(services, call_id, params)
    if not call_id.startswith("CS"):
        logger.warning("call status callback for no call session", extra={"call_id": call_id})
        return twiml_response()
    seconds = _seconds(params.first("CallDuration"))
    records = record_call_status(services.store, call_id, params.first("CallStatus"), params.first("CallSid"), seconds, services.now())
    publish_records(services.outbox, records)
    return twiml_response()


def _dial_action(services: VoiceServices, call_id: str, params: FormParams) -> dict[str, Any]:
    """The dialed leg ended: record it, then tell the caller if nobody answered, and hang up."""
    status = params.first("DialCallStatus")
    if status not in DIAL_STATUSES or not call_id:
        logger.warning("dial action without a known DialCallStatus or call", extra={"dial_status": status})
        return twiml_response(hang_up())
    outcome = DialOutcome(
        status=status,
        at=iso(services.now()),
        duration=_seconds(params.first("DialCallDuration")),
        dial_call_sid=params.first("DialCallSid") or None,
    )
    if call_id.startswith("CS"):
        _, records = record_dial_outcome(services.store, call_id, outcome)
        text = CLIENT_NOT_ANSWERED
    else:
        records = record_inbound_dial(services.store, call_id, outcome)
        text = NOT_AVAILABLE
    publish_records(services.outbox, records)
    return twiml_response(say_and_hang_up(text) if status in NOT_CONNECTED else hang_up())
