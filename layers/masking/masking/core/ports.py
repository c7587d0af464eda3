"""Ports: the small interfaces the domain talks to. No AWS, no twilio import in here.

- Stores: ``RoutingStore`` (SMS hot path), ``DeliveryStore`` (status callbacks and the
  timed resend), ``CallStore`` (voice), ``AdminStore`` (admin flows and schedules).
  ``masking.store`` implements them on DynamoDB and in memory.
- Twilio: ``SmsGateway``, ``NumberGateway``, ``CallGateway``, and ``SendError`` for any
  refused or failed Twilio request. ``masking.adapters.twilio_gateway`` implements them.
- Queues: ``RetryQueue`` (the one timed resend) and ``OwnerAlerts`` (SNS).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from masking.core.models import (
    ClaimOutcome,
    Client,
    DeliveryUpdate,
    ForwardedPart,
    InboundLookup,
    Lease,
    Lifecycle,
    MessageRecord,
    NumberRecord,
    NumberStatus,
    OutboundSms,
    Party,
    PoolView,
    Provider,
    SentSms,
)

if TYPE_CHECKING:
    from collections.abc import Collection

    from masking.core.call_records import CallRecord, CallSession, DialOutcome, StatusChange  # voice only: not imported by the SMS webhook
    from masking.hooks.subscriptions import Subscription
    from masking.messaging.failures import Resend
    from masking.messaging.forwarding import ParkedForward

CALL_STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")

# ---------------------------------------------------------------- Twilio

# Twilio error codes the service acts on (https://www.twilio.com/docs/api/errors/<code>).
NUMBER_NOT_AVAILABLE = 21422  # buying a number Twilio no longer offers

ALREADY_IN_MESSAGING_SERVICE = 21710  # adding a number to the Messaging Service it already belongs to

IN_OTHER_MESSAGING_SERVICE = 21712
INVALID_PHONE_NUMBER = 21421
NOT_FOUND = 20404


# Errors Twilio returns for a request that will never succeed as sent (bad number,
# opted-out recipient, unreachable...): https://www.twilio.com/docs/api/errors/21610,
# https://www.twilio.com/docs/api/errors/21211 (research: /work/research/twilio.md Q5).
PERMANENT_SEND_ERRORS = frozenset({21211, 21408, 21610, 21612, 21614, 21617, 21606, 21660})

# Errors worth sending again later. 20429 / HTTP 429: "aren't processed and are safe to retry
# after backing off" (https://www.twilio.com/docs/api/errors/20429); 20503: "try again a few
# times with exponential back-off" (https://www.twilio.com/docs/api/errors/20503); 20500:
# transient, but "sending an SMS ... [is] not idempotent. If you get a 500 ... and you retry
# the request, it is possible for a customer to receive multiple messages"
# (https://www.twilio.com/docs/api/errors/20500), so a 20500 is also *ambiguous*.
TRANSIENT_SEND_ERRORS = frozenset({20429, 20500, 20503})

# Answers after which Twilio may have accepted the message anyway: look it up before resending.
AMBIGUOUS_SEND_ERRORS = frozenset({20500})


class SendError(Exception):
    """A Twilio request that failed. ``transient``: worth sending again later (429, 5xx,
    20429/20500/20503, connection errors, timeouts); everything else is permanent.
    ``ambiguous``: Twilio may have accepted the message (a 500 or a lost answer), so a
    resend must first look it up (``SmsGateway.find_sent``)."""

    def __init__(
        self, message: str, code: int | None = None, status: int | None = None, *, transport: bool = False, ambiguous: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.transport = transport  # no HTTP answer at all: connection error or timeout
        self._ambiguous = ambiguous

    @property
    def permanent(self) -> bool:
        return self.code in PERMANENT_SEND_ERRORS

    @property
    def transient(self) -> bool:
        if self.transport or self.code in TRANSIENT_SEND_ERRORS:
            return True
        return self.status is not None and (self.status == 429 or self.status >= 500) and not self.permanent

    @property
    def ambiguous(self) -> bool:
        if self._ambiguous or self.code in AMBIGUOUS_SEND_ERRORS:
            return True
        return self.status in (500, 502, 504) and self.code not in (20429, 20503)


# A Twilio API call failed; the same class serves SMS sending and number management.
TwilioError = SendError


# Two immutable answers as NamedTuples: a frozen dataclass costs about six times as much to
# define, and this module is imported with every webhook (bench/cold_import.py).
class PartClaim(NamedTuple):
    """The answer to claiming one part of a parked forward (``RoutingStore.claim_forward_part``).

    ``status``: ``claimed`` (this caller sends it), ``sent`` (sent before: ``part`` says
    under which SID), ``busy`` (another attempt holds a fresh claim). ``reconcile``: an
    earlier attempt may have reached Twilio (its send was ambiguous, or it never finished),
    so look the message up before sending.
    """

    status: str
    reconcile: bool = False
    part: ForwardedPart | None = None


class PurchasedNumber(NamedTuple):
    number: str  # E.164
    sid: str  # PN...


class SmsGateway(Protocol):
    def send_sms(self, message: OutboundSms, status_callback: str | None = None) -> SentSms: ...

    def find_sent(self, message: OutboundSms, since: datetime, exclude: Collection[str] = ()) -> SentSms | None:
        """Twilio's message for ``message`` created since ``since`` (a lost answer), none of ``exclude``."""
        ...


class NumberGateway(Protocol):
    """The Twilio operations the admin flows use (masking.adapters.twilio_gateway.TwilioGateway)."""

    def send_sms(self, message: OutboundSms, status_callback: str | None = None) -> SentSms: ...

    def search_local_numbers(self, area_code: str, limit: int = 5, country: str = "US") -> list[str]: ...

    def buy_number(
        self, number: str, sms_url: str, voice_url: str, status_callback: str | None = None, friendly_name: str | None = None
    ) -> Any: ...

    def configure_number(self, number_sid: str, sms_url: str, voice_url: str) -> None: ...

    def add_to_messaging_service(self, service_sid: str, number_sid: str) -> None: ...

    def release_number(self, number_sid: str) -> None: ...


class RecordingFetcher(Protocol):
    """Fetches a recording's audio (MP3) from Twilio with the account credentials
    (masking.adapters.twilio_recordings)."""

    def fetch(self, recording_sid: str) -> bytes | None:
        """The audio, or None when Twilio has no such recording. Raises SendError."""
        ...


class CallGateway(Protocol):
    """The Twilio operation click-to-call needs (masking.adapters.twilio_gateway.TwilioGateway)."""

    def create_call(
        self,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        status_callback_events: list[str] | tuple[str, ...] = CALL_STATUS_EVENTS,
        record: bool = False,
    ) -> str: ...


# ---------------------------------------------------------------- queues


class RetryQueue(Protocol):
    def schedule(self, resend: Resend) -> None: ...


class ForwardQueue(Protocol):
    """The durable queue of forwards that hit a transient Twilio failure."""

    def park(self, forward: ParkedForward, delay_seconds: int) -> None: ...

    def dead_letter(self, forward: ParkedForward) -> None:
        """Sets aside a forward that used up its attempts (the DLQ, with an alarm)."""
        ...


class OwnerAlerts(Protocol):
    def publish(self, subject: str, message: str) -> None: ...


# ---------------------------------------------------------------- stores


class RoutingStore(Protocol):
    # ---- hot path reads
    def lookup_inbound(self, to_number: str, from_phone: str) -> InboundLookup: ...

    def get_provider_and_pair(self, provider_id: str, client_id: str) -> tuple[Provider | None, Lease | None]: ...

    def get_provider_and_slot(self, provider_id: str, pool_number: str) -> tuple[Provider | None, Lease | None]: ...

    # ---- hot path writes
    def touch_lease(self, lease: Lease, last_activity_at: str, expires_at: int, record: MessageRecord | None) -> Lease:
        """Extends an active lease and records the message (if any), atomically.

        Raises DuplicateMessage when the MessageSid is known, LeaseConflict when the slot
        is no longer this client's.
        """
        ...

    def claim_slot(self, lease: Lease, expected_pair_version: int | None, now_epoch: int, record: MessageRecord | None) -> ClaimOutcome:
        """Writes a new lease (pair + slot) if the slot is free, expired or already this
        client's, and the pair is still at ``expected_pair_version`` (None: no pair yet).

        Raises DuplicateMessage when ``record`` is given and its MessageSid is known.
        """
        ...

    def claim_message(self, record: MessageRecord) -> None:
        """Records a MessageSid that touches no lease. Raises DuplicateMessage."""
        ...

    def set_message_outcome(self, message_sid: str, outcome: str, parts: list[ForwardedPart]) -> None: ...

    def add_sent_part(self, message_sid: str, part: ForwardedPart) -> None:
        """One more SMS sent for a claimed message (a service reply, a delivery alert)."""

    def create_client(self, client: Client) -> Client:
        """Creates a client unless one has this phone already; returns the stored one."""
        ...

    # ---- parked forwards (masking.messaging.forwarding), one item per (MessageSid, part)
    def claim_forward_part(self, message_sid: str, index: int, token: str, now_epoch: int, stale_before: int) -> PartClaim:
        """Claims part ``index`` of a parked forward for the attempt ``token``, with a
        conditional write: free, failed, or claimed by an attempt that started before
        ``stale_before`` (it died) -> ``claimed``; sent -> ``sent``; else ``busy``."""
        ...

    def finish_forward_part(self, message_sid: str, index: int, token: str, part: ForwardedPart | None, ambiguous: bool = False) -> None:
        """Ends this attempt's claim: ``part`` sent (also added to the message's forwarded
        parts, for status callbacks), or None: failed (``ambiguous``: Twilio may have it)."""
        ...

    def set_opt_out(self, lease: Lease, party: Party, opted_out: bool) -> None: ...

    def expire_lease(self, lease: Lease, at_epoch: int) -> bool:
        """Ends a lease now (pair and slot), if it is still this lease. The pair keeps
        its pool number so the pair gets it back when it talks again and it is free."""
        ...

    # ---- allocation reads (Query on keys, only when a lease is created)
    def pool_view(self, provider_id: str) -> PoolView: ...

    # ---- inventory and people (admin, seeding)
    def put_number(self, number: NumberRecord) -> None: ...

    def put_provider(self, provider: Provider) -> None: ...

    def put_client(self, client: Client) -> None: ...

    def get_message(self, message_sid: str) -> MessageRecord | None: ...

    def record_delivery(self, update: DeliveryUpdate) -> bool:
        """Stores a status unless the message already has this or a later one.

        Returns False (nothing changed) for repeated or out-of-order callbacks, and for
        a ``message_sid`` we do not know.
        """
        ...


class DeliveryStore(Protocol):
    """What delivery-failure handling needs on top of the routing store."""

    def get_message(self, message_sid: str) -> MessageRecord | None: ...

    def get_provider_and_pair(self, provider_id: str, client_id: str) -> tuple[Provider | None, Lease | None]: ...

    def claim_resend(self, message_sid: str, part: ForwardedPart) -> bool:
        """Marks a first attempt's ``part`` as to be resent, once (recording it by SID if
        only the message's plan had it)."""
        ...

    def start_resend(self, message_sid: str, outbound_sid: str) -> bool:
        """Moves a scheduled resend from pending to sending, once: True for the one
        delivery of the retry queue that may send it."""
        ...

    def add_resent_part(self, message_sid: str, original_sid: str, part: ForwardedPart) -> None: ...

    def add_sent_part(self, message_sid: str, part: ForwardedPart) -> None: ...

    def record_permanent_failure(self, outbound_sid: str, at_epoch: int, window_seconds: int) -> int: ...

    def claim_owner_alert(self, at_epoch: int, window_seconds: int) -> bool: ...

    def increment_client_errors(self, client_id: str) -> int: ...


class CallStore(RoutingStore, Protocol):
    """What the voice flows need: the routing store (lease allocation) plus the items above."""

    # ---- people (admin reads)
    def get_provider(self, provider_id: str) -> Provider | None: ...

    def get_client(self, client_id: str) -> Client | None: ...

    def find_client(self, *, phone: str | None = None, external_id: str | None = None) -> Client | None: ...

    # ---- inbound calls
    def lookup_call(self, to_number: str, from_phone: str, call_sid: str) -> tuple[InboundLookup, CallRecord | None]:
        """One read: the number called, the caller as client and as provider, and our
        earlier answer to this CallSid if any."""
        ...

    def touch_lease_for_call(self, lease: Lease, last_activity_at: str, expires_at: int, record: CallRecord) -> Lease:
        """Extends an active lease and stores the call's answer, atomically.

        Raises DuplicateCall when the CallSid was answered, LeaseConflict when the lease moved.
        """
        ...

    def claim_call(self, record: CallRecord) -> None:
        """Stores the answer of a call that touches no lease. Raises DuplicateCall."""
        ...

    def get_call(self, call_sid: str) -> CallRecord | None: ...

    def record_call_dial(self, call_sid: str, outcome: DialOutcome) -> CallRecord | None:
        """Stores the dial outcome once; None when it was stored already or the call is unknown."""
        ...

    def update_call_once(self, call_sid: str, values: dict[str, object], once: str) -> CallRecord | None:
        """Sets ``values`` on a stored inbound call if its field ``once`` is still unset (the
        whisper answer, the voicemail); None when it was set already or the call is unknown."""
        ...

    def list_calls(self, provider_id: str, client_id: str | None = None, limit: int = 50) -> list[CallRecord | CallSession]:
        """A provider's inbound calls and click-to-call sessions, newest first (optionally one client's)."""
        ...

    # ---- click-to-call sessions
    def take_call_slot(self, provider_id: str, hour: str, limit: int, expires_at: int) -> int | None:
        """Counts one call for the provider in ``hour``; the new count, or None at the limit."""
        ...

    def give_back_call_slot(self, provider_id: str, hour: str) -> None: ...

    def create_call_session(self, session: CallSession) -> None: ...

    def get_call_session(self, call_id: str) -> CallSession | None: ...

    def set_call_session_sid(self, call_id: str, call_sid: str) -> None: ...

    def update_call_status(self, change: StatusChange) -> CallSession | None:
        """Moves the session's status forward; None (nothing changed) for a status that
        is not later than the stored one, or an unknown session."""
        ...

    def record_session_dial(self, call_id: str, outcome: DialOutcome) -> CallSession | None:
        """Stores the client leg's outcome once; None when it was stored already."""
        ...


class AdminStore(RoutingStore, Protocol):
    """What the admin flows and the schedules need: people, numbers, leases, guards.

    Numbers change under a condition (``assign_number``): the stored number must still have
    the lifecycle, status and provider the flow read, so two flows never hand out one number.
    """

    # ---- providers
    def get_provider(self, provider_id: str) -> Provider | None: ...

    def find_provider_id_by_phone(self, phone: str) -> str | None: ...

    def create_provider(self, provider: Provider) -> bool:
        """Creates a provider unless one has this phone; False when the phone is taken."""
        ...

    def save_provider(self, provider: Provider) -> None: ...

    def deactivate_provider(self, provider: Provider) -> None: ...

    def list_provider_ids(self) -> list[str]: ...

    # ---- numbers
    def get_number(self, number: str) -> NumberRecord | None: ...

    def list_numbers(self, lifecycle: Lifecycle | None = None, status: NumberStatus | None = None) -> list[NumberRecord]: ...

    def create_number(self, number: NumberRecord) -> bool: ...

    def assign_number(self, expected: NumberRecord, new: NumberRecord, provider: Provider | None = None) -> bool:
        """Writes ``new`` (and ``provider``, atomically) if the stored number still matches
        ``expected``'s lifecycle, status and provider. False if it moved meanwhile."""
        ...

    # ---- clients
    def get_client(self, client_id: str) -> Client | None: ...

    def find_client(self, *, phone: str | None = None, external_id: str | None = None) -> Client | None: ...

    def save_client(self, client: Client, previous: Client | None) -> bool: ...

    # ---- leases
    def find_lease(self, lease_id: str) -> Lease | None: ...

    def provider_leases(self, provider_id: str) -> list[Lease]: ...

    def refresh_client_on_leases(self, client: Client) -> int: ...

    def provider_slots(self, provider_id: str) -> list[Lease]: ...

    def delete_expired_slot(self, slot: Lease, now_epoch: int) -> bool: ...

    # ---- schedules
    def claim_guard(self, name: str, decision_id: str, at_epoch: int, window_seconds: int) -> bool: ...

    def release_guard(self, name: str, decision_id: str) -> None: ...


class HookStore(Protocol):
    """Hook subscriptions (``masking.hooks``) and the events each one acknowledged."""

    def put_hook(self, hook: Subscription) -> None: ...

    def get_hook(self, hook_id: str) -> Subscription | None: ...

    def list_hooks(self) -> list[Subscription]: ...

    def delete_hook(self, hook_id: str) -> Subscription | None: ...

    def delivered(self, hook_id: str, event_id: str) -> bool: ...

    def mark_delivered(self, hook_id: str, event_id: str, expires_at: int) -> bool: ...
