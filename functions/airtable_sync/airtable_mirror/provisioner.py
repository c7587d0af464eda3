"""The operator's base drives provisioning: the Sitters rows the Add Sitter form creates
(``Provisioning Status`` = Pending) become providers with a reserved number, with no Zap
and no call from outside. A scheduled function (``AirtableProvisionerFunction``, every
minute) runs ``Provisioner.run``:

1. Two reads of Sitters through pyairtable (``filterByFormula``): the Pending rows, and the
   rows the operator set Inactive that still show a Twilio Number. Every request goes
   through ``AirtableMirror.shared_request``: airtable_sync's limiter (1 request a second
   here, ``AIRTABLE_REQUESTS_PER_SECOND``), backoff and the shared 429 "quiet until" in
   DynamoDB, which this function honours and raises like the sync: Airtable allows 5
   requests per second per base (https://airtable.com/developers/web/api/rate-limits),
   and this run adds two reads and one update per row to the sync's traffic.
2. A Pending row: the phone is normalized (a bad one: ``Error`` and the reason in the
   ``Provisioning Error`` field, no claim, no purchase); the row is claimed in DynamoDB
   (``claim_guard``, a conditional PutItem) before anything is bought, so two overlapping
   runs provision it once; then ``create_provider`` (Path A or B, idempotent on the phone).
   The row gets Provider ID, Twilio Number, Provisioning Status Active and Status Active;
   only then do the run's mirror records go on the outbox (the Sitters upsert on Provider
   ID then finds this row instead of adding one).
3. An Inactive row: ``remove_provider`` (Path C), then Provisioning Status Inactive and an
   empty Twilio Number (so the row is not read again). A ``Successor`` (a link to another
   Sitters row) is read from that row's Provider ID (one more read) and handed to
   ``remove_provider``: the number is held for the handover (``masking.admin.handover``).
   A successor that cannot take over (no Provider ID yet, inactive, unknown) leaves the
   sitter active: the row gets Error and the reason, until the operator fixes it.
4. The owner gets one email per event (``owner_emails``), the new sitter one welcome SMS
   from the reserved number; each is guarded by a conditional write, so a rerun after a
   failed write-back sends nothing twice.

No phone number or row content is logged: row ids, provider ids and counts only.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from masking.admin.context import AdminContext
from masking.admin.provisioning import create_provider, remove_provider
from masking.core.errors import AdminError, NotFound, Unprocessable
from masking.core.models import Lifecycle, NumberStatus, OutboundSms
from masking.core.observability import count, logger
from masking.core.phones import InvalidPhoneNumber, normalize_e164
from masking.core.ports import OwnerAlerts, SendError
from masking.mirror.outbox import MirrorRecord

from . import owner_emails
from .tables import PROVIDERS, REASON_FIELD
from .writer import AirtableBusy, AirtableMirror, Rejected

PENDING_FORMULA = "{Provisioning Status}='Pending'"
INACTIVE_FORMULA = "AND({Provider ID}!='', {Twilio Number}!='', OR({Status}='Inactive', {Provisioning Status}='Inactive'))"
READ_FIELDS = ["Full Name", "Phone Number", "Sitter Phone (raw)", "Email", "Provider ID", "Status", "Provisioning Status"]
SUCCESSOR_FIELD = "Successor"  # a link to the Sitters row taking an Inactive sitter's clients over
MAX_ROWS_PER_RUN = 20  # one page each read; the rest waits for the next minute
CLAIM_SECONDS = 900  # a claimed row is another run's for 15 minutes
ONCE_SECONDS = 10 * 365 * 24 * 3600  # an email or welcome text guard never expires in practice

Publish = Callable[[list[MirrorRecord]], None]


@dataclass
class ProvisionReport:
    pending: int = 0
    provisioned: int = 0
    errors: int = 0
    removed: int = 0
    skipped: int = 0
    emails: int = 0
    welcomes: int = 0
    stopped: str = ""
    paths: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(eq=False)
class Provisioner:
    mirror: AirtableMirror
    new_context: Callable[[], AdminContext]
    alerts: OwnerAlerts
    publish: Publish
    webhook_base: str
    welcome_template: str | None = None
    table: Any = field(init=False)  # the Sitters table

    def __post_init__(self) -> None:
        self.table = self.mirror.table(PROVIDERS)

    def run(self, deadline: float) -> ProvisionReport:
        report = ProvisionReport()
        try:
            pending = self._read(PENDING_FORMULA, deadline, check_quiet=True)
            inactive = self._read_inactive(deadline)
            report.pending = len(pending)
            for row in pending:
                self._provision(row, deadline, report)
            for row in inactive:
                self._remove(row, deadline, report)
        except AirtableBusy as busy:  # quiet, down or out of time: the next run carries on
            report.stopped = str(busy)
            logger.warning("provisioner stopped; the next run carries on", extra={"reason": report.stopped})
        return report

    # ---- Airtable
    def _read(self, formula: str, deadline: float, check_quiet: bool = False, fields: list[str] = READ_FIELDS) -> list[dict[str, Any]]:
        call = partial(self.table.all, formula=formula, fields=fields, max_records=MAX_ROWS_PER_RUN, page_size=MAX_ROWS_PER_RUN)
        return list(self.mirror.shared_request(call, deadline, check_quiet=check_quiet))

    def _read_inactive(self, deadline: float) -> list[dict[str, Any]]:
        """The Inactive rows with their Successor; a base without that field (the schema
        command adds it) is read without it, so removals still run."""
        try:
            return self._read(INACTIVE_FORMULA, deadline, fields=[*READ_FIELDS, SUCCESSOR_FIELD, REASON_FIELD])
        except Rejected as error:
            if error.error_type != "UNKNOWN_FIELD_NAME":
                raise
            logger.warning("Sitters has no Successor field: run the schema command", extra={"error": error.error_type})
            return self._read(INACTIVE_FORMULA, deadline)

    def _successor(self, fields: dict[str, Any], deadline: float) -> str | None:
        """The provider id of the row's Successor link (its Provider ID), or None."""
        value = fields.get(SUCCESSOR_FIELD)
        linked = [str(v) for v in (value if isinstance(value, list) else [value]) if v]
        if not linked:
            return None
        if len(linked) > 1:
            raise Unprocessable("link one sitter as the Successor, not several")
        if not linked[0].startswith("rec"):  # a text field holding a Provider ID
            return linked[0]
        try:
            row = self.mirror.shared_request(partial(self.table.get, linked[0]), deadline)
        except Rejected:
            raise Unprocessable("the Successor's row cannot be read (deleted?)") from None
        provider_id = str((row.get("fields") or {}).get("Provider ID") or "")
        if not provider_id:
            raise Unprocessable("the Successor has no Provider ID yet: provision them first")
        return provider_id

    def _write_back(self, row_id: str, fields: dict[str, Any], deadline: float) -> bool:
        try:
            self.mirror.shared_request(partial(self.table.batch_update, [{"id": row_id, "fields": fields}], typecast=True), deadline)
        except Rejected as error:  # the base lacks a field: the schema command adds it
            logger.error("Sitters row not updated", extra={"row": row_id, "error": error.error_type, "field": error.field_name})
            if REASON_FIELD in fields and error.field_name == REASON_FIELD:  # a base from before the field: the status still counts
                return self._write_back(row_id, {k: v for k, v in fields.items() if k != REASON_FIELD}, deadline)
            return False
        return True

    # ---- Path A / B
    def _provision(self, row: dict[str, Any], deadline: float, report: ProvisionReport) -> None:
        row_id, fields = str(row["id"]), row.get("fields") or {}
        name = str(fields.get("Full Name") or "").strip()
        raw_phone = str(fields.get("Sitter Phone (raw)") or fields.get("Phone Number") or "")
        email = str(fields.get("Email") or "").strip() or None
        ctx = self.new_context()
        try:
            phone = normalize_e164(raw_phone)
        except InvalidPhoneNumber as error:
            self._fail(ctx, row_id, name or "a new sitter", f"Phone Number: {error.reason}", deadline, report, raw_phone)
            return
        if not name:
            self._fail(ctx, row_id, "a new sitter", "Full Name is empty", deadline, report, raw_phone)
            return
        if not ctx.store.claim_guard(f"AIRTABLE-PROVISION#{row_id}", uuid.uuid4().hex, int(ctx.now().timestamp()), CLAIM_SECONDS):
            report.skipped += 1  # another run holds it
            return
        if self._will_buy(ctx, phone):
            self._email_once(ctx, row_id, owner_emails.path_b_pending(name), report, phone)
        try:
            result = create_provider(ctx, name, phone, email, self.webhook_base)
        except AdminError as error:
            provider_id = ctx.store.find_provider_id_by_phone(phone)
            number = str((error.details or {}).get("number") or "")
            if number and "attach" in error.message:
                self._email_once(ctx, row_id, owner_emails.verification_failed(name, number), report, number)
            self._fail(ctx, row_id, name, error.message, deadline, report, phone, provider_id)
            return
        provider = result.provider
        written = self._write_back(
            row_id,
            {
                "Provider ID": provider.provider_id,
                "Twilio Number": provider.reserved_number,
                "Sitter Phone (E.164)": provider.phone,
                "Provisioning Status": "Active",
                "Status": "Active",
                REASON_FIELD: "",
            },
            deadline,
        )
        self._publish(ctx, keep_provider_rows=written)
        report.provisioned += 1
        report.paths[result.path] = report.paths.get(result.path, 0) + 1
        count("ProvidersProvisionedFromBase")
        number = provider.reserved_number or ""
        if result.path == "A":
            self._email_once(ctx, row_id, owner_emails.path_a_done(name, number), report, number)
        elif result.path == "B":
            self._email_once(ctx, row_id, owner_emails.path_b_ready(name, number), report, number)
        self._welcome_once(ctx, provider.provider_id, name, provider.phone, number, report)
        logger.info("sitter provisioned from the base", extra={"row": row_id, "provider": provider.provider_id, "path": result.path})

    @staticmethod
    def _will_buy(ctx: AdminContext, phone: str) -> bool:
        existing_id = ctx.store.find_provider_id_by_phone(phone)
        existing = ctx.store.get_provider(existing_id) if existing_id else None
        if existing is not None and existing.reserved_number:
            return False
        return not any(not n.provider_id for n in ctx.store.list_numbers(Lifecycle.STANDBY, NumberStatus.READY))

    def _fail(
        self,
        ctx: AdminContext,
        row_id: str,
        name: str,
        reason: str,
        deadline: float,
        report: ProvisionReport,
        attempt: str,
        provider_id: str | None = None,
    ) -> None:
        fields: dict[str, Any] = {"Provisioning Status": "Error", REASON_FIELD: reason}
        if provider_id:
            fields["Provider ID"] = provider_id
        written = self._write_back(row_id, fields, deadline)
        self._publish(ctx, keep_provider_rows=written)
        report.errors += 1
        count("ProvisioningFromBaseFailed")
        self._email_once(ctx, row_id, owner_emails.provisioning_failed(name, reason), report, f"{attempt}|{reason}")
        logger.warning("Sitters row could not be provisioned", extra={"row": row_id, "reason": reason})

    # ---- Path C
    def _remove(self, row: dict[str, Any], deadline: float, report: ProvisionReport) -> None:
        row_id, fields = str(row["id"]), row.get("fields") or {}
        provider_id = str(fields.get("Provider ID") or "")
        ctx = self.new_context()
        try:
            removed = remove_provider(ctx, provider_id, self._successor(fields, deadline))
        except (NotFound, Unprocessable) as error:
            own = isinstance(error, NotFound) and (error.details or {}).get("provider") == provider_id
            reason = "no provider has this Provider ID" if own else f"Successor: {_problems(error) or error.message}"
            report.errors += 1
            if fields.get("Provisioning Status") == "Error" and fields.get(REASON_FIELD) == reason:
                return  # the row says so already: no write every minute
            written = self._write_back(row_id, {"Provisioning Status": "Error", REASON_FIELD: reason}, deadline)
            self._publish(ctx, keep_provider_rows=written)
            return
        written = self._write_back(
            row_id, {"Provisioning Status": "Inactive", "Status": "Inactive", "Twilio Number": None, REASON_FIELD: ""}, deadline
        )
        self._publish(ctx, keep_provider_rows=written)
        report.removed += 1
        logger.info("sitter removed from the base", extra={"row": row_id, "provider": removed.provider_id})

    # ---- side effects, each at most once
    def _publish(self, ctx: AdminContext, keep_provider_rows: bool) -> None:
        """The run's mirror records go on the outbox after the write-back. When the row
        was not updated, its Sitters records are held back: an upsert on a Provider ID
        the row does not carry yet would add a second row; the next run writes it."""
        records = ctx.take_records()
        if not keep_provider_rows:
            records = [r for r in records if r.kind != "provider"]
        if records:
            self.publish(records)

    def _email_once(self, ctx: AdminContext, row_id: str, email: owner_emails.OwnerEmail, report: ProvisionReport, salt: str) -> None:
        digest = hashlib.sha256(salt.encode()).hexdigest()[:16]
        guard = f"OWNER-EMAIL#{row_id}#{email.kind}#{digest}"
        if not ctx.store.claim_guard(guard, uuid.uuid4().hex, int(ctx.now().timestamp()), ONCE_SECONDS):
            return
        try:
            self.alerts.publish(email.subject, email.body)
        except Exception:
            logger.exception("owner email not sent", extra={"row": row_id, "kind": email.kind})
            return
        report.emails += 1

    def _welcome_once(self, ctx: AdminContext, provider_id: str, name: str, phone: str, number: str, report: ProvisionReport) -> None:
        if not number or not ctx.store.claim_guard(f"WELCOME#{provider_id}", uuid.uuid4().hex, int(ctx.now().timestamp()), ONCE_SECONDS):
            return
        body = owner_emails.welcome_text(name, number, self.welcome_template)
        try:
            ctx.send_system_sms(OutboundSms(from_number=number, to_phone=phone, body=body), self.webhook_base, provider_id)
        except SendError as error:
            ctx.audit("Welcome SMS failed", str(error), "Provisioning", "Error", key=provider_id, provider_id=provider_id)
            self._publish(ctx, keep_provider_rows=True)
            return
        report.welcomes += 1
        count("WelcomeSmsSent")


def _problems(error: AdminError) -> str:
    """The field problems of a validation error (``[{"field", "problem"}]``), joined."""
    details = error.details if isinstance(error.details, list) else []
    return "; ".join(str(item.get("problem")) for item in details if isinstance(item, dict))
