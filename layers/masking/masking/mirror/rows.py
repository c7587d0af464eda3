"""The operator's Airtable rows, built from domain records: the one module of the layer
that knows Airtable field names.

Each function returns a ``MirrorRecord`` (table kind, stable upsert key, fields) for the
outbox; ``airtable_sync`` maps the kinds to the configured table names and writes them.
The tables and their fields are in ``docs/architecture.md`` ("The operator's Airtable base").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from masking.core.models import Client, InboundSms, NumberRecord, OutboundSms, Provider, SentSms
from masking.core.records import Record
from masking.mirror.outbox import Category, MirrorRecord, Severity

if TYPE_CHECKING:
    from masking.core.call_records import CallRecord, CallSession, DialOutcome  # voice only: not imported by the SMS webhook

CLICK_TO_CALL = "click-to-call"

# Twilio message status -> the Messages table's Status select
MESSAGE_STATUS = {"delivered": "delivered", "read": "delivered", "undelivered": "undelivered", "failed": "failed", "canceled": "failed"}


# ---------------------------------------------------------------- Audit Log


def audit_record(
    event: str,
    description: str,
    *,
    category: Category,
    severity: Severity,
    at: str,
    key: str,
    provider_id: str | None = None,
    client_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> MirrorRecord:
    """An Audit Log row. ``key`` makes it idempotent (e.g. ``<MessageSid>:<event>``)."""
    fields = {
        "Event": event,
        "Description": description,
        "Timestamp": at,
        "Category": category,
        "Severity": severity,
        "Related Sitter": provider_id,
        "Related Client": client_id,
        "Details": details or {},
    }
    return MirrorRecord(kind="audit", key=key, at=at, fields=fields)


@dataclass(slots=True, repr=False, eq=False)
class AuditTrail(Record):
    """The audit records one request writes, all stamped ``at``. Call it like ``audit_record``
    without ``at``.

    A webhook's trail (``ref_name`` "message_sid" or "call_sid", ``ref`` its SID) keys each
    record ``<ref>:<event>``, so a retried webhook writes the same rows. An admin request's
    trail (no ``ref_name``) takes a ``key`` per record, the record's subject, and keys it
    ``<key>:<event>:<at>``: an action done again writes a new row."""

    records: list[MirrorRecord]
    ref_name: str  # "message_sid", "call_sid"; "" for an admin request
    ref: str
    at: str

    def __call__(
        self,
        event: str,
        description: str,
        category: Category,
        severity: Severity,
        provider_id: str | None = None,
        client_id: str | None = None,
        *,
        key: str | None = None,
        **details: object,
    ) -> None:
        self.records.append(
            audit_record(
                event,
                description,
                category=category,
                severity=severity,
                at=self.at,
                key=self._key(event, key),
                provider_id=provider_id,
                client_id=client_id,
                details={self.ref_name: self.ref, **details} if self.ref_name else details,
            )
        )

    def _key(self, event: str, key: str | None) -> str:
        if self.ref_name and key is None:
            return f"{self.ref}:{event}"
        if key is not None and not self.ref_name:
            return f"{key}:{event}:{self.at}"
        raise TypeError("a webhook's audit is keyed on its ref, an admin request's on the key each record names")


# ---------------------------------------------------------------- Clients


def client_profile(client: Client, provider_id: str | None, at: str) -> MirrorRecord:
    """The whole Clients row (created or updated through the admin API, or a new phone)."""
    fields: dict[str, object] = {
        "Name": client.name,
        "Phone Number": client.phone,
        "Client Phone (E.164)": client.phone,
        "Email": client.email,
        "Created At": client.created_at,
        "External ID": client.external_id,
    }
    if provider_id:
        fields["Linked Sitter"] = provider_id
    return MirrorRecord(kind="client", key=client.client_id, at=at, fields=fields)


def new_client(client: Client, provider_id: str, at: str) -> MirrorRecord:
    """A client the service created from an unknown phone that texted or called a provider."""
    fields = {
        "Name": client.name,
        "Client Phone (E.164)": client.phone,
        "Phone Number": client.phone,
        "Linked Sitter": provider_id,
        "Created At": client.created_at,
    }
    return MirrorRecord(kind="client", key=client.client_id, at=at, fields=fields)


def client_activity(client_id: str, provider_id: str, lease_id: str | None, at: str) -> MirrorRecord:
    """A message or call of the pair: the client's Last Active, lease and sitter."""
    return MirrorRecord(
        kind="client", key=client_id, at=at, fields={"Last Active": at, "Session SID": lease_id or "", "Linked Sitter": provider_id}
    )


def client_session(client_id: str, lease_id: str, at: str) -> MirrorRecord:
    """A lease opened (its id) or closed (``""``) outside a message."""
    return MirrorRecord(kind="client", key=client_id, at=at, fields={"Session SID": lease_id})


def client_error_count(client_id: str, errors: int, at: str) -> MirrorRecord:
    return MirrorRecord(kind="client", key=client_id, at=at, fields={"Twilio Error Count": errors})


# ---------------------------------------------------------------- Sitters and Number Inventory


def provider_row(provider: Provider, at: str) -> MirrorRecord:
    fields = {
        "Full Name": provider.name,
        "Status": provider.status,
        "Phone Number": provider.phone,
        "Sitter Phone (E.164)": provider.phone,
        "Twilio Number": provider.reserved_number,
        "Provisioning Status": provider.provisioning_status,
        "Email": provider.email,
        "Date Added": provider.created_at,
        "Provider ID": provider.provider_id,
    }
    return MirrorRecord(kind="provider", key=provider.provider_id, at=at, fields=fields)


def inventory_status(number: NumberRecord) -> str:
    """The Number Inventory "Status" select for a number."""
    if number.status != "Ready":
        return str(number.status)
    if number.lifecycle == "Reserved":
        return "Reserved Active" if number.provider_id else "Ready"
    if number.lifecycle == "Standby":
        return "Standby Reserved"
    if number.lifecycle == "Handover":  # a departed provider's number, answering for a successor
        return "Handover"
    return "Available"


def number_row(number: NumberRecord, at: str) -> MirrorRecord:
    fields = {
        "PhoneNumber": number.number,
        "Assigned Sitter": number.provider_id,
        "Status": inventory_status(number),
        "Lifecycle": str(number.lifecycle),
        "Purchase Date": number.purchased_at,
        "Twilio SID": number.twilio_sid,
        "Attach Status": number.attach_status,
        "Verification Status": number.verification_status,
        "Purpose": number.purpose,
    }
    return MirrorRecord(kind="number", key=number.number, at=at, fields=fields)


# ---------------------------------------------------------------- Messages


def message_row(
    inbound_sid: str,
    from_phone: str,
    body: str,
    media_urls: list[str],
    outbound: OutboundSms,
    proxy_number: str,
    sender_type: str,
    provider_id: str,
    client_id: str,
    lease_id: str | None,
    sent: list[SentSms],
    at: str,
) -> MirrorRecord:
    """A forwarded message, keyed on the inbound MessageSid."""
    fields = {
        "From": from_phone,
        "To": outbound.to_phone,
        "Body": body,
        "Sender Type": sender_type,
        "Proxy Number": proxy_number,
        "Timestamp": at,
        "Sitter": provider_id,
        "Client": client_id,
        "Session SID": lease_id or "",
        "Status": "sent",
        "Twilio Status": sent[-1].status if sent else "",
        "Message SID": inbound_sid,
        "Forwarded SIDs": [s.sid for s in sent],
        "Media URLs": list(media_urls),
    }
    return MirrorRecord(kind="message", key=inbound_sid, at=at, fields=fields)


CONTENT_FLAG = "Content Flag"  # what the content guard found: "email, phone, url"


def flag_message(record: MirrorRecord, kinds: list[str]) -> None:
    """Marks a Messages row whose body had contact details (``masking.messaging.protection``)."""
    record.fields[CONTENT_FLAG] = ", ".join(kinds)


ERASED_BODY = "[erased]"


def erased_message(inbound_sid: str, at: str) -> MirrorRecord:
    """A Messages row whose people asked to be erased: no body, phones or media."""
    fields = {"Body": ERASED_BODY, "From": "", "To": "", "Media URLs": [], "Forwarded SIDs": []}
    return MirrorRecord(kind="message", key=inbound_sid, at=at, fields=fields)


PURGED_BODY = "[purged after {days} days]"


def purged_message(inbound_sid: str, days: int, at: str) -> MirrorRecord:
    """A Messages row older than the retention period: body and media links blanked."""
    return MirrorRecord(kind="message", key=inbound_sid, at=at, fields={"Body": PURGED_BODY.format(days=days), "Media URLs": []})


def erased_client(client_id: str, at: str) -> MirrorRecord:
    fields = {"Name": "Erased client", "Phone Number": "", "Client Phone (E.164)": "", "Email": "", "External ID": "", "Session SID": ""}
    return MirrorRecord(kind="client", key=client_id, at=at, fields=fields)


def erased_provider(provider_id: str, at: str) -> MirrorRecord:
    fields = {"Full Name": "Erased provider", "Phone Number": "", "Sitter Phone (E.164)": "", "Email": "", "Twilio Number": ""}
    return MirrorRecord(kind="provider", key=provider_id, at=at, fields=fields)


def forwarded(
    sms: InboundSms,
    outbound: OutboundSms,
    direction: str,
    provider_id: str,
    client_id: str,
    lease_id: str | None,
    sent: list[SentSms],
    at: str,
    activity_at: str = "",
) -> list[MirrorRecord]:
    """A forwarded message: its Messages row (received ``at``) and the client's activity
    (``activity_at``, when a parked forward went out later; else ``at``)."""
    from_client = direction == "client_to_provider"
    message = message_row(
        sms.message_sid,
        sms.from_phone,
        sms.body,
        sms.media_urls,
        outbound,
        proxy_number=outbound.from_number if from_client else sms.to_number,
        sender_type="client" if from_client else "sitter",
        provider_id=provider_id,
        client_id=client_id,
        lease_id=lease_id,
        sent=sent,
        at=at,
    )
    return [message, client_activity(client_id, provider_id, lease_id, activity_at or at)]


def message_status(inbound_sid: str, status: str, error_code: str, at: str) -> MirrorRecord:
    """A delivery status callback that moved the message forward."""
    fields: dict[str, Any] = {"Twilio Status": status, "Twilio Error Code": error_code}
    if status in MESSAGE_STATUS:
        fields["Status"] = MESSAGE_STATUS[status]
    return MirrorRecord(kind="message", key=inbound_sid, at=at, fields=fields)


# ---------------------------------------------------------------- Calls


def inbound_call_row(record: CallRecord, recorded: bool, status: str, at: str) -> MirrorRecord:
    """An inbound call, upserted on the CallSid. A refused call is "failed" there; why is in
    its Audit Log row."""
    fields = {
        "Call SID": record.call_sid,
        "Sitter": record.provider_id,
        "Client": record.client_id,
        "Direction": record.direction,
        "Status": status,
        "Caller ID": record.caller_id,
        "Started": at,
        "Recorded": recorded,
    }
    return MirrorRecord(kind="call", key=record.call_sid, at=at, fields=fields)


def dial_outcome_row(call_sid: str, outcome: DialOutcome) -> MirrorRecord:
    fields: dict[str, object] = {"Call SID": call_sid, "Status": outcome.status, "Duration": outcome.duration}
    return MirrorRecord(kind="call", key=call_sid, at=outcome.at, fields=fields)


def call_session_row(session: CallSession, at: str) -> MirrorRecord:
    """A click-to-call session, upserted on the session id."""
    fields = {
        "Call Session ID": session.call_id,
        "Call SID": session.call_sid,
        "Sitter": session.provider_id,
        "Client": session.client_id,
        "Direction": CLICK_TO_CALL,
        "Status": session.status,
        "Duration": session.duration,
        "Client Leg Status": session.dial_status,
        "Client Leg Duration": session.dial_duration,
        "Caller ID": session.reserved_number,
        "Started": session.created_at,
        "Reference": session.reference,
        "Recorded": session.record,
    }
    return MirrorRecord(kind="call", key=session.call_id, at=at, fields=fields)


def whisper_row(call_sid: str, choice: str, at: str) -> MirrorRecord:
    """The provider's answer to the whisper of an inbound call: accepted or declined."""
    return MirrorRecord(kind="call", key=call_sid, at=at, fields={"Call SID": call_sid, "Whisper": choice})


def voicemail_row(call_sid: str, duration: int, link: str, at: str) -> MirrorRecord:
    """The voicemail a caller left: its length and the signed, expiring link."""
    fields: dict[str, object] = {"Call SID": call_sid, "Voicemail Duration": duration, "Voicemail Link": link}
    return MirrorRecord(kind="call", key=call_sid, at=at, fields=fields)


# ---------------------------------------------------------------- Pool Stats


def pool_stats_row(stats: dict[str, Any], decision: str, at: str) -> MirrorRecord:
    """One row per pool monitor run (key: the run's timestamp), for an Airtable Interface
    chart. ``stats`` is ``PoolStats.as_dict()``; utilization is a percentage."""
    fields = {
        "Run": at,
        "Timestamp": at,
        "Ready Pool Numbers": stats.get("ready_pool_numbers", 0),
        "Pending Pool Numbers": stats.get("pending_pool_numbers", 0),
        "Active Leases": stats.get("active_leases", 0),
        "Busiest Provider Leases": stats.get("busiest_provider_leases", 0),
        "Utilization (%)": round(float(stats.get("utilization", 0.0)) * 100),
        "Standby Ready": stats.get("standby_ready", 0),
        "Decision": decision,
    }
    return MirrorRecord(kind="pool_stats", key=at, at=at, fields=fields)
