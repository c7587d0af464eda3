"""The events a hook can subscribe to, and the records they are read from.

Every function already describes what happened as Audit Log records on the outbox
(``masking.mirror.rows``): the SMS and voice webhooks, the status callbacks, the admin API,
the Sitters-form provisioner and the schedules. An event is one of those records, read by
the outbox consumer (``masking.hooks.dispatch``), so no webhook makes an extra call and no
domain code knows about hooks. ``SOURCES`` is the whole mapping: an audit ``Event`` -> the
hook event and the builder of its ``data``.

What ``data`` carries: ids (provider, client, MessageSid), our own Twilio numbers (a
reserved or pool number) in clear, Twilio error codes and a one-line ``summary`` with any
phone number masked (``+1303***0100``). Never a person's phone in clear, never a message body.

The event id is a hash of the record's kind and upsert key, so it is the same on every
redelivery, redrive or retry of that record: consumers deduplicate on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from masking.core.observability import mask_phones_in
from masking.mirror.outbox import Category, MirrorRecord, Severity
from masking.mirror.rows import audit_record

EVENTS = {
    "client.created": "A new client: an unknown phone texted or called a provider, or the admin API created one "
    "(PUT /clients, a new client_phone).",
    "delivery.failed": "A message did not reach its recipient: the carrier reported it failed or undelivered with a permanent "
    "error, or again after the one resend of a temporary one (stage carrier), Twilio refused it (refused), or its retries ran "
    "out (gave_up).",
    "pool.low": "The pool ran short: a message, call or session found no free pool number (reason exhausted), a provider is "
    "one lease away from it (nearly_exhausted, at each pool monitor run while it holds), or the pool monitor bought a pool "
    "number (expanded) or could not (expansion_failed).",
    "provisioning.done": "A provider got a reserved number: a Ready standby one (path A) or one bought, attached and "
    "verified (path B); from POST /providers, the Sitters form or a rotation.",
    "provisioning.failed": "A provider could not get a reserved number (nothing to buy, attach or verification failed).",
}

Data = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HookEvent:
    id: str
    name: str
    occurred_at: str
    data: Data = field(default_factory=dict)
    test: bool = False  # sent by POST /hooks/{id}/test

    def payload(self) -> Data:
        """The JSON object a hook receives."""
        return {"id": self.id, "event": self.name, "occurred_at": self.occurred_at, "test": self.test, "data": self.data}

    def body(self) -> bytes:
        """The exact bytes POSTed (and signed): the same for every attempt."""
        return json.dumps(self.payload(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_payload(cls, payload: Data) -> HookEvent:
        return cls(str(payload["id"]), str(payload["event"]), str(payload["occurred_at"]), dict(payload["data"]), bool(payload["test"]))


def event_id(record: MirrorRecord) -> str:
    return "evt_" + hashlib.sha256(f"{record.kind}:{record.key}".encode()).hexdigest()[:32]


# ---------------------------------------------------------------- data of each event


def _ids(row: Data) -> Data:
    return {"provider_id": row.get("Related Sitter"), "client_id": row.get("Related Client")}


def _summary(row: Data) -> str:
    return mask_phones_in(str(row.get("Description") or ""))[:500]


def _client(row: Data, details: Data) -> Data:
    source = "sms" if "message_sid" in details else "call" if "call_sid" in details else "admin"
    return {**_ids(row), "source": source}


def _delivery(stage: str, row: Data, details: Data) -> Data:
    code = details.get("twilio_error_code")
    return {
        **_ids(row),
        "stage": stage,
        "message_sid": details.get("message_sid"),
        "kind": details.get("kind", "forward"),
        "twilio_error_code": str(code) if code not in (None, "") else None,
        "summary": _summary(row),
    }


def _pool(reason: str, row: Data, details: Data) -> Data:
    ready = details.get("ready_pool_numbers")
    return {**_ids(row), "reason": reason, "ready_pool_numbers": ready, "number": details.get("number"), "summary": _summary(row)}


def _provisioned(path: str, row: Data, details: Data) -> Data:
    return {"provider_id": row.get("Related Sitter"), "path": path, "reserved_number": details.get("number")}


def _provisioning_failed(row: Data, details: Data) -> Data:
    return {"provider_id": row.get("Related Sitter"), "reason": _summary(row)}


Builder = Callable[[Data, Data], Data]

# audit Event (masking.mirror.rows.audit_record) -> (hook event, data builder)
SOURCES: dict[str, tuple[str, Builder]] = {
    "Client created": ("client.created", _client),
    "Delivery failed": ("delivery.failed", partial(_delivery, "carrier")),
    "Forwarding failed": ("delivery.failed", partial(_delivery, "refused")),
    "Message not delivered": ("delivery.failed", partial(_delivery, "gave_up")),
    "Pool exhausted": ("pool.low", partial(_pool, "exhausted")),
    "Pool nearly exhausted": ("pool.low", partial(_pool, "nearly_exhausted")),
    "Pool expanded": ("pool.low", partial(_pool, "expanded")),
    "Pool expansion failed": ("pool.low", partial(_pool, "expansion_failed")),
    "Standby number assigned": ("provisioning.done", partial(_provisioned, "A")),
    "Reserved number bought": ("provisioning.done", partial(_provisioned, "B")),
    "Provisioning failed": ("provisioning.failed", _provisioning_failed),
}


def event_from_record(record: MirrorRecord) -> HookEvent | None:
    """The hook event an outbox record stands for, if any."""
    if record.kind != "audit":
        return None
    source = SOURCES.get(str(record.fields.get("Event") or ""))
    if source is None:
        return None
    name, build = source
    details = record.fields.get("Details")
    data = build(record.fields, details if isinstance(details, dict) else {})
    return HookEvent(event_id(record), name, record.at or str(record.fields.get("Timestamp") or ""), data)


# ---------------------------------------------------------------- samples (GET /hooks/samples/{event})

SAMPLE_AT = "2026-11-27T14:00:00Z"
SAMPLE_SID = "SM" + "0" * 32
# event -> the audit record it is read from: (Event, Description, Category, Severity, details)
_SAMPLE_AUDITS: dict[str, tuple[str, str, Category, Severity, Data]] = {
    "client.created": ("Client created", "A new number texted a provider", "Client Sync", "Info", {"message_sid": SAMPLE_SID}),
    "delivery.failed": (
        "Delivery failed",
        "Message not delivered (Twilio error 30003)",
        "Delivery Error",
        "Error",
        {"message_sid": SAMPLE_SID, "outbound_sid": "SM" + "1" * 32, "twilio_error_code": "30003", "attempt": 1, "kind": "forward"},
    ),
    "pool.low": (
        "Pool nearly exhausted",
        "The provider is one lease away from using every Ready pool number",
        "Pool",
        "Warning",
        {"ready_pool_numbers": 3},
    ),
    "provisioning.done": (
        "Standby number assigned",
        "Path A: a Ready standby number became the provider's reserved number",
        "Provisioning",
        "Info",
        {"number": "+17205550050"},
    ),
    "provisioning.failed": ("Provisioning failed", "No local SMS+voice number available", "Provisioning", "Error", {}),
}


def sample(name: str) -> HookEvent:
    """What a delivery of ``name`` looks like (demo ids), read from a sample record the way a
    real one is. KeyError for an unknown event."""
    event, description, category, severity, details = _SAMPLE_AUDITS[name]
    record = audit_record(
        event,
        description,
        category=category,
        severity=severity,
        at=SAMPLE_AT,
        key=f"sample:{name}",
        provider_id="prov-sam",
        client_id="cl-olivia" if name in ("client.created", "delivery.failed") else None,
        details=details,
    )
    found = event_from_record(record)
    assert found is not None, name
    return found
