"""Call history for the admin API (``GET /calls?provider=...&client=...``).

One entry per inbound call that reached a provider (``CallRecord``, by CallSid) and per
click-to-call session (``CallSession``), newest first, from the provider's ``CALLLOG#``
pointers (``masking.store.calls``): status, duration, the whisper answer and the voicemail
(its length, and a fresh signed link, ``masking.voice.recording_link``). Real phone numbers
are never in an entry; ``caller_id`` is the masked number the dialed party saw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from masking.admin.clients import find_client_by_reference
from masking.admin.context import AdminContext
from masking.admin.provisioning import get_provider
from masking.core.call_records import CallRecord, CallSession
from masking.core.errors import NotFound
from masking.core.settings import get_aws_settings, get_voice_settings
from masking.store.calls import call_store_for
from masking.voice.recording_link import recording_link

MAX_CALLS = 200


class VoicemailOut(BaseModel):
    duration: int | None
    left_at: str | None
    link: str | None


class CallHistoryEntry(BaseModel):
    id: str
    kind: Literal["inbound", "click-to-call"]
    direction: str
    provider_id: str | None
    client_id: str | None
    status: str
    outcome: str | None
    started_at: str
    duration: int | None
    caller_id: str | None
    whisper: str | None
    voicemail: VoicemailOut | None


class CallHistoryAnswer(BaseModel):
    success: Literal[True]
    calls: list[CallHistoryEntry]


def inbound_entry(call: CallRecord, link: Callable[[str], str] | None) -> CallHistoryEntry:
    voicemail = None
    if call.voicemail_sid:
        voicemail = VoicemailOut(duration=call.voicemail_duration, left_at=call.voicemail_at, link=link(call.call_sid) if link else None)
    status = "failed" if call.outcome != "bridged" else call.dial_status or "connecting"
    return CallHistoryEntry(
        id=call.call_sid,
        kind="inbound",
        direction=call.direction,
        provider_id=call.provider_id,
        client_id=call.client_id,
        status=status,
        outcome=call.outcome,
        started_at=call.received_at,
        duration=call.dial_duration,
        caller_id=call.caller_id,
        whisper=call.whisper,
        voicemail=voicemail,
    )


def session_entry(session: CallSession) -> CallHistoryEntry:
    return CallHistoryEntry(
        id=session.call_id,
        kind="click-to-call",
        direction="click-to-call",
        provider_id=session.provider_id,
        client_id=session.client_id,
        status=session.dial_status or session.status,
        outcome=None,
        started_at=session.created_at,
        duration=session.dial_duration if session.dial_duration is not None else session.duration,
        caller_id=session.reserved_number,
        whisper=None,
        voicemail=None,
    )


def signed_links(base: str, now: datetime) -> Callable[[str], str]:
    """``call sid -> voicemail link``; the Twilio token (the link key) is read on first use."""
    from masking.adapters.secrets import load_twilio_credentials

    def link(call_sid: str) -> str:
        token = load_twilio_credentials(get_aws_settings().secrets_path).auth_token  # cached 5 minutes by Powertools
        return recording_link(base, token, call_sid, now, get_voice_settings().recording_link_hours)

    return link


def call_history(
    ctx: AdminContext, provider_id: str, client_ref: str | None = None, limit: int = 50, link: Callable[[str], str] | None = None
) -> list[CallHistoryEntry]:
    """The provider's calls (optionally with one client: id, external id or E.164 phone).
    Raises NotFound for an unknown provider or client."""
    get_provider(ctx, provider_id)
    store = call_store_for(ctx.store)
    client_id = None
    if client_ref:
        client = find_client_by_reference(store, client_ref)
        if client is None:
            raise NotFound("no such client", {"client": client_ref})
        client_id = client.client_id
    calls = store.list_calls(provider_id, client_id, min(max(limit, 1), MAX_CALLS))
    return [session_entry(c) if isinstance(c, CallSession) else inbound_entry(c, link) for c in calls]
