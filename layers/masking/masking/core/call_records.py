"""What the stores keep per call: the answer to an inbound call (``CallRecord``), a
click-to-call session (``CallSession``) and the updates to them (``StatusChange``,
``DialOutcome``). Plain dataclasses, like ``masking.core.models``.

Apart from the SMS records: the SMS webhook never uses them, and each dataclass costs
its import about half a millisecond (bench/cold_import.py). No string annotations, as in
``masking.core.models``.
"""

from dataclasses import dataclass


@dataclass(slots=True)
class CallRecord:
    """What we answered to one inbound call (``POST /twilio/voice``), by CallSid."""

    call_sid: str
    received_at: str
    direction: str  # client_to_provider, provider_to_client, unrouted
    outcome: str  # bridged, unknown_caller, unknown_number, expired, pool_exhausted, own_number...
    twiml: str
    provider_id: str | None = None
    client_id: str | None = None
    lease_id: str | None = None
    caller_id: str | None = None  # the number the dialed party sees
    dial_status: str | None = None  # from the <Dial> action: completed, busy, no-answer, failed, canceled
    dial_duration: int | None = None
    updated_at: str | None = None
    whisper: str | None = None  # the provider's answer to the whisper: accepted, declined
    voicemail_sid: str | None = None  # the RecordingSid of the caller's voicemail
    voicemail_duration: int | None = None
    voicemail_at: str | None = None


@dataclass(slots=True)
class CallSession:
    """A click-to-call request: ring the provider, then bridge to the client."""

    call_id: str  # CS + 32 hex
    provider_id: str
    client_id: str
    client_name: str
    client_phone: str
    provider_phone: str
    reserved_number: str
    created_at: str
    expires_at: int  # epoch seconds: the bridge refuses the session after this
    status: str = "initiated"
    status_rank: int = 1
    reference: str | None = None
    call_sid: str | None = None  # the provider leg (what create_call returned)
    duration: int | None = None  # the provider leg, seconds
    dial_status: str | None = None  # the client leg (the <Dial> action)
    dial_duration: int | None = None
    dial_call_sid: str | None = None
    record: bool = False
    updated_at: str | None = None


@dataclass(slots=True)
class StatusChange:
    """One status update for a call session."""

    call_id: str
    status: str
    rank: int
    at: str
    call_sid: str | None = None
    duration: int | None = None


@dataclass(slots=True)
class DialOutcome:
    """How the <Dial> of a call ended (its action request)."""

    status: str
    at: str
    duration: int | None = None
    dial_call_sid: str | None = None
