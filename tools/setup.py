"""Adopts an existing Twilio account into the deployed stack, in one idempotent command.

    python -m tools.setup --stack-name masking-dev            # dry run: what would change
    python -m tools.setup --stack-name masking-dev --apply    # change it
    python -m tools.setup ... --from-proxy KSxxxx [--import-sessions] --apply

Run after ``sam deploy``. Reads the stack's Outputs and Parameters (CloudFormation), then:

1. secrets: writes the SSM SecureString parameters given as flags or environment
   (``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``AIRTABLE_TOKEN``, ``AIRTABLE_BASE_ID``)
   when they differ, and checks the Twilio SID and token with one harmless call (fetch
   the Account) before anything is written;
2. Airtable (when a token and base are known): creates missing tables and fields
   (``tools.airtable_schema``) and imports the Sitters, so reserved numbers find their provider;
3. numbers: lists the account's incoming numbers and classifies each from DynamoDB, else
   the Airtable Number Inventory, else ``--roles`` (CSV: number,role,provider_id,
   provider_name,provider_phone) / ``--pool`` / ``--standby``; unknown numbers are left
   alone and reported. Each known number is registered in DynamoDB through
   ``masking.admin.adoption`` (the admin flows' store operations), removed from the Proxy
   Service (``--from-proxy``), pointed at the stack (SMS, voice, and the fallback URLs
   when the stack has them), and added to the Messaging Service when one is configured;
4. with ``--import-sessions``, open Proxy sessions become leases on the same pool number.

It prints one row per number: number, role, what changed. A second run changes nothing.
Exit code: 0 done (or nothing to do), 1 some number failed, 2 setup cannot go on.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field
from typing import Any

# isort: off
import tools.stack_env  # noqa: F401  (puts the layer on sys.path before masking is imported)

# isort: on
from masking.adapters.aws_queues import SqsOutbox
from masking.adapters.memory import MemoryOutbox
from masking.adapters.twilio_gateway import TwilioGateway
from masking.adapters.twilio_numbers_admin import (
    IncomingNumber,
    NumberWebhooks,
    ProxySession,
    add_to_messaging_service,
    defer_to_number_webhooks,
    fetch_account,
    fetch_messaging_service,
    list_incoming_numbers,
    messaging_service_number_sids,
    open_proxy_sessions,
    point_number,
    proxy_numbers,
    remove_from_proxy,
)
from masking.admin.adoption import adopt_number, adopt_provider, import_lease
from masking.admin.context import AdminContext
from masking.core.errors import AdminError
from masking.core.models import Lifecycle, NumberRecord, NumberStatus
from masking.core.observability import mask_phone
from masking.core.phones import InvalidPhoneNumber, normalize_e164
from masking.core.ports import SendError
from masking.core.settings import InventorySettings, RoutingSettings, TwilioSettings
from masking.mirror.outbox import Outbox
from masking.store.admin import DynamoAdminStore
from tools.stack_env import ROOT, SetupError, Stack, env_first, read_parameter, read_stack, secret_names

ROLE_NAMES = {"reserved": Lifecycle.RESERVED, "pool": Lifecycle.POOL, "standby": Lifecycle.STANDBY, "standby reserved": Lifecycle.STANDBY}
WEBHOOK_LABELS = {"sms_url": "SMS", "voice_url": "voice", "sms_fallback_url": "SMS fallback", "voice_fallback_url": "voice fallback"}


@dataclass
class Role:
    lifecycle: Lifecycle
    provider_id: str | None = None
    source: str = ""  # dynamodb, airtable, flags
    provider_name: str | None = None  # flags: create this provider when it does not exist
    provider_phone: str | None = None

    def label(self, store: DynamoAdminStore | None = None) -> str:
        if self.lifecycle != Lifecycle.RESERVED:
            return self.lifecycle.value
        name = self.provider_name
        if not name and store is not None and self.provider_id:
            provider = store.get_provider(self.provider_id)
            name = provider.name if provider else None
        return f"Reserved ({name or self.provider_id})"


@dataclass
class Row:
    number: str
    role: str
    changes: list[str] = field(default_factory=list)
    note: str = ""
    error: str = ""


@dataclass
class Report:
    apply: bool
    lines: list[str] = field(default_factory=list)  # secrets, account, Airtable
    changes: int = 0  # outside the number rows
    rows: list[Row] = field(default_factory=list)
    sessions: list[Row] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.changes + sum(1 for r in self.rows + self.sessions if r.changes)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows + self.sessions if r.error)

    def note(self, line: str, change: bool = False) -> None:
        self.lines.append(line)
        self.changes += change

    def render(self) -> str:
        out = list(self.lines)
        verb = "changed" if self.apply else "to change"
        if self.rows:
            width = max(len(r.role) for r in self.rows)
            out.append("")
            out.append(f"{'number':<14}  {'role':<{width}}  {verb}")
            for row in self.rows:
                what = ", ".join(row.changes) or ("-" if not row.note else "")
                extra = f"  [{row.note}]" if row.note else ""
                error = f"  FAILED: {row.error}" if row.error else ""
                out.append(f"{row.number:<14}  {row.role:<{width}}  {what}{extra}{error}")
        if self.sessions:
            out.append("")
            out.append("Proxy sessions:")
            for row in self.sessions:
                failed = f"  FAILED: {row.error}" if row.error else ""
                out.append(f"  {row.number}  {row.role}  {', '.join(row.changes) or '-'}  {row.note}{failed}")
        out.append("")
        roles: dict[str, int] = {}
        for row in self.rows:
            key = row.role.split(" (")[0]
            roles[key] = roles.get(key, 0) + 1
        summary = ", ".join(f"{n} {role}" for role, n in sorted(roles.items()))
        out.append(f"{len(self.rows)} numbers ({summary})" if self.rows else "no numbers")
        if self.changed == 0 and not self.failed:
            out.append("nothing to change")
        else:
            out.append(f"{self.changed} item(s) {verb}" + (f", {self.failed} failed" if self.failed else ""))
            if not self.apply and self.changed:
                out.append("dry run: run again with --apply to make these changes")
        return "\n".join(out)


@dataclass
class Deps:
    """Adapters the tests (and the local runner) replace; None: the real ones."""

    twilio_http_client: Any = None
    airtable_api: Any = None
    ssm: Any = None
    cloudformation: Any = None
    dynamodb: Any = None
    sqs: Any = None


@dataclass
class Options:
    stack_name: str | None = None
    outputs_json: str | None = None
    apply: bool = False
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    airtable_token: str | None = None
    airtable_base_id: str | None = None
    airtable_api_url: str | None = None
    messaging_service_sid: str | None = None
    roles_csv: str | None = None
    pool: list[str] = field(default_factory=list)
    standby: list[str] = field(default_factory=list)
    from_proxy: str | None = None
    import_sessions: bool = False
    environment: str | None = None


# ---------------------------------------------------------------- building blocks


@dataclass
class Setup:
    """Everything one run needs, built once from the stack."""

    stack: Stack
    options: Options
    deps: Deps
    ssm: Any
    twilio: Any  # twilio.rest.Client
    store: DynamoAdminStore
    ctx: AdminContext
    messaging_service_sid: str
    outbox: Outbox = field(default_factory=MemoryOutbox)
    airtable_api: Any = None
    airtable_base_id: str = ""
    planned_providers: dict[str, str] = field(default_factory=dict)  # phone -> id a dry-run import would create


def _twilio_client(sid: str, token: str, http_client: Any) -> Any:
    from twilio.rest import Client

    return Client(sid, token, http_client=http_client)


def prepare(options: Options, deps: Deps, report: Report, write_secrets: bool) -> Setup:
    """Reads the stack, checks (and with ``write_secrets`` writes) the secrets, builds the adapters."""
    import boto3

    stack = read_stack(options.stack_name, options.outputs_json, deps.cloudformation)
    if options.environment:
        stack.parameters["Environment"] = options.environment
    ssm = deps.ssm or boto3.client("ssm")
    names = secret_names(stack.secrets_path)
    given = {
        "twilio_account_sid": options.twilio_account_sid,
        "twilio_auth_token": options.twilio_auth_token,
        "airtable_token": options.airtable_token,
        "airtable_base_id": options.airtable_base_id,
    }
    current: dict[str, str | None] = {}
    for key, name in names.items():
        try:
            current[key] = read_parameter(ssm, name)
        except Exception as error:  # AccessDenied, a KMS key we cannot use...
            raise SetupError(f"cannot read SSM parameter {name}: {error}") from error
    effective = {key: given[key] or current[key] for key in names}
    sid, token = effective["twilio_account_sid"], effective["twilio_auth_token"]
    if not sid or not token:
        raise SetupError(
            f"no Twilio credentials: pass --twilio-account-sid/--twilio-auth-token (or TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN), "
            f"or put them in SSM {names['twilio_account_sid']} and {names['twilio_auth_token']}"
        )
    twilio = _twilio_client(sid, token, deps.twilio_http_client)
    try:
        account = fetch_account(twilio)
    except SendError as error:
        raise SetupError(f"Twilio refused the account SID and auth token (error {error.code}): nothing was changed") from error
    report.note(f"Twilio account {account.sid[:6]}... ({account.friendly_name}, {account.status}): credentials work")
    for key, name in names.items():
        want = given[key]
        if want and want != current[key]:
            verb = "wrote" if write_secrets else "would write"
            report.note(f"SSM {name}: {verb} (SecureString){'' if current[key] is None else ', replacing the old value'}", change=True)
            if write_secrets:
                ssm.put_parameter(Name=name, Value=want, Type="SecureString", Overwrite=True)
        elif current[key] is None and not want:
            report.note(f"SSM {name}: not set" + (" (Airtable mirror off)" if key.startswith("airtable") else ""))
    ms_sid = options.messaging_service_sid if options.messaging_service_sid is not None else stack.messaging_service_sid
    store = DynamoAdminStore(stack.table_name, client=deps.dynamodb)
    outbox_url = stack.output("OutboxQueueUrl")
    outbox: Outbox = SqsOutbox(outbox_url, client=deps.sqs) if outbox_url else MemoryOutbox()
    ctx = AdminContext(
        store=store,
        gateway=TwilioGateway(twilio, ms_sid),
        routing=RoutingSettings(),
        inventory=InventorySettings(),
        twilio=TwilioSettings(messaging_service_sid=ms_sid),
    )
    setup = Setup(stack, options, deps, ssm, twilio, store, ctx, ms_sid, outbox=outbox)
    airtable_token, base_id = effective["airtable_token"], effective["airtable_base_id"]
    if airtable_token and base_id:
        if deps.airtable_api is not None:
            setup.airtable_api = deps.airtable_api
        else:
            from functions.airtable_sync.airtable_mirror.client import build_paced_api

            setup.airtable_api = build_paced_api(airtable_token, options.airtable_api_url or env_first("AIRTABLE_API_URL"))
        setup.airtable_base_id = base_id
    return setup


def fixable(drift: Any) -> bool:
    """Drift ``apply_schema`` fixes (a missing table or plain field), as opposed to by-hand steps."""
    return drift.problem in ("missing table", "missing field") and "by hand" not in drift.detail and "link field" not in drift.detail


def sync_airtable_schema(setup: Setup, report: Report, apply: bool) -> None:
    from tools.airtable_schema import apply_schema, check_schema

    base = setup.airtable_api.base(setup.airtable_base_id)
    try:
        drift = check_schema(base)
    except Exception as error:  # pyairtable raises requests' HTTPError on 401/403/404
        raise SetupError(f"Airtable refused the token or base {setup.airtable_base_id}: {error}") from error
    to_fix = [d for d in drift if fixable(d)]
    for item in drift:
        if not fixable(item):
            report.note(f"Airtable: by hand: {item}")
    if not to_fix:
        report.note(f"Airtable base {setup.airtable_base_id}: schema matches the mirror's")
        return
    if not apply:
        for item in to_fix:
            report.note(f"Airtable: would fix {item}", change=True)
        return
    for line in apply_schema(base):
        if not line.startswith("left to do by hand"):
            report.note(f"Airtable: {line}", change=True)


# ---------------------------------------------------------------- classification


def _e164(raw: str) -> str | None:
    try:
        return normalize_e164(raw.strip())
    except InvalidPhoneNumber:
        return None


def roles_from_flags(options: Options) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    if options.roles_csv:
        with open(options.roles_csv, newline="") as handle:
            for line_no, row in enumerate(csv.DictReader(handle), start=2):
                number = _e164(row.get("number") or "")
                lifecycle = ROLE_NAMES.get((row.get("role") or "").strip().lower())
                if number is None or lifecycle is None:
                    raise SetupError(f"{options.roles_csv}:{line_no}: need a valid number and a role (reserved, pool, standby)")
                phone = _e164(row.get("provider_phone") or "") if row.get("provider_phone") else None
                role = Role(
                    lifecycle,
                    (row.get("provider_id") or "").strip() or None,
                    "flags",
                    (row.get("provider_name") or "").strip() or None,
                    phone,
                )
                if lifecycle == Lifecycle.RESERVED and not role.provider_id and not (role.provider_name and role.provider_phone):
                    raise SetupError(
                        f"{options.roles_csv}:{line_no}: a reserved number needs provider_id, or provider_name and provider_phone"
                    )
                roles[number] = role
    for lifecycle, values in ((Lifecycle.POOL, options.pool), (Lifecycle.STANDBY, options.standby)):
        for value in values:
            for raw in value.split(","):
                if not raw.strip():
                    continue
                number = _e164(raw)
                if number is None:
                    raise SetupError(f"not a phone number: {raw!r}")
                roles[number] = Role(lifecycle, None, "flags")
    return roles


def roles_from_airtable(setup: Setup, report: Report, apply: bool) -> dict[str, Role]:
    """Imports the Sitters (so providers exist), then reads Number Inventory's roles."""
    from tools.airtable_import import LIFECYCLE, LIFECYCLE_FROM_STATUS, AirtableImport

    importer = AirtableImport(setup.airtable_api, setup.airtable_base_id, setup.store, write_back=apply)
    importer.dry_run = not apply
    sitters = importer.import_providers()
    setup.planned_providers = {phone: pid for (kind, phone), pid in importer.claimed.items() if kind == "provider"}
    for line in sitters.lines():
        changed = any(sitters.counts.get(k) for k in ("created", "updated"))
        report.note(
            f"Airtable import: {line}" if apply else f"Airtable import (dry run): {line}", change=changed and line == sitters.lines()[0]
        )
    roles: dict[str, Role] = {}
    for row in importer.table("number").all():
        fields = row["fields"]
        number = _e164(str(fields.get("PhoneNumber") or ""))
        if number is None:
            continue
        status = str(fields.get("Status") or "")
        lifecycle = LIFECYCLE.get(str(fields.get("Lifecycle") or "")) or LIFECYCLE_FROM_STATUS.get(status)
        if lifecycle is None:
            continue
        sitters_linked = fields.get("Assigned Sitter") or []
        provider_id = next((importer.provider_ids[s] for s in sitters_linked if s in importer.provider_ids), None)
        if lifecycle == Lifecycle.RESERVED and provider_id is None:
            continue  # a reserved number whose sitter was not imported: unknown, left alone
        roles[number] = Role(lifecycle, provider_id if lifecycle == Lifecycle.RESERVED else None, "airtable")
    return roles


def classify(number: str, known: dict[str, NumberRecord], airtable: dict[str, Role], flags: dict[str, Role]) -> Role | None:
    record = known.get(number)
    if record is not None:
        return Role(record.lifecycle, record.provider_id, "dynamodb")
    return airtable.get(number) or flags.get(number)


# ---------------------------------------------------------------- numbers


def plan_number(
    setup: Setup, incoming: IncomingNumber, role: Role, record: NumberRecord | None, members: set[str], proxy_sids: set[str]
) -> list[str]:
    changes = []
    if role.source == "flags" and role.lifecycle == Lifecycle.RESERVED and role.provider_name and role.provider_phone:
        known_id = role.provider_id or setup.store.find_provider_id_by_phone(role.provider_phone)
        if known_id is None or setup.store.get_provider(known_id) is None:
            changes.append("create provider")
    if record is None:
        changes.append("register")
    elif record.twilio_sid != incoming.sid or record.status != NumberStatus.READY or record.attach_status != "Ready":
        changes.append("update record")
    if incoming.sid in proxy_sids:
        changes.append("remove from Proxy")
    differences = incoming.webhooks.differences(setup.stack.webhooks)
    if differences:
        changes.append("point " + " + ".join(WEBHOOK_LABELS[d] for d in differences))
    if setup.messaging_service_sid and incoming.sid not in members:
        changes.append("add to Messaging Service")
    return changes


def apply_number(setup: Setup, incoming: IncomingNumber, role: Role, changes: list[str]) -> None:
    provider_id = role.provider_id
    if role.source == "flags" and role.provider_name and role.provider_phone and not provider_id:
        provider, _ = adopt_provider(setup.ctx, role.provider_name, role.provider_phone, incoming.number)
        provider_id = provider.provider_id
    elif "create provider" in changes and role.provider_name and role.provider_phone:
        provider, _ = adopt_provider(setup.ctx, role.provider_name, role.provider_phone, incoming.number, role.provider_id)
        provider_id = provider.provider_id
    if "register" in changes or "update record" in changes:
        adopt_number(setup.ctx, incoming.number, incoming.sid, role.lifecycle, provider_id)
    if "remove from Proxy" in changes and setup.options.from_proxy:
        remove_from_proxy(setup.twilio, setup.options.from_proxy, incoming.sid)
    if any(change.startswith("point ") for change in changes):
        wanted: NumberWebhooks = setup.stack.webhooks
        point_number(setup.twilio, incoming.sid, wanted)
    if "add to Messaging Service" in changes:
        add_to_messaging_service(setup.twilio, setup.messaging_service_sid, incoming.sid)


def check_messaging_service(setup: Setup, report: Report, apply: bool) -> None:
    """The service must defer to each number's webhook, or inbound SMS never reach us
    (https://www.twilio.com/docs/messaging/services/api, ``use_inbound_webhook_on_number``)."""
    sid = setup.messaging_service_sid
    if not sid:
        report.note("Messaging Service: none configured (MessagingServiceSid is empty)")
        return
    service = fetch_messaging_service(setup.twilio, sid)
    if service.use_inbound_webhook_on_number:
        report.note(f"Messaging Service {sid}: incoming messages defer to each number's webhook")
        return
    if apply:
        defer_to_number_webhooks(setup.twilio, sid)
    verb = "set" if apply else "would set"
    report.note(f"Messaging Service {sid}: {verb} incoming messages to 'Defer to sender's webhook'", change=True)


def adopt_numbers(setup: Setup, report: Report, airtable_roles: dict[str, Role], flag_roles: dict[str, Role], apply: bool) -> None:
    incoming = list_incoming_numbers(setup.twilio)
    known = {n.number: n for n in setup.store.list_numbers()}
    members = messaging_service_number_sids(setup.twilio, setup.messaging_service_sid) if setup.messaging_service_sid else set()
    proxy_sids = {n.sid for n in proxy_numbers(setup.twilio, setup.options.from_proxy)} if setup.options.from_proxy else set()
    for number in sorted(incoming, key=lambda n: n.number):
        role = classify(number.number, known, airtable_roles, flag_roles)
        if role is None:
            note = "unknown: left alone" + ("; still in the Proxy Service" if number.sid in proxy_sids else "")
            report.rows.append(Row(number.number, "unknown", note=note))
            continue
        row = Row(number.number, role.label(setup.store))
        row.changes = plan_number(setup, number, role, known.get(number.number), members, proxy_sids)
        if apply and row.changes:
            try:
                apply_number(setup, number, role, row.changes)
            except (SendError, AdminError) as error:
                row.error = str(getattr(error, "message", error))
        report.rows.append(row)
    owned = {n.number for n in incoming}
    for number, record in sorted(known.items()):
        if number not in owned:
            report.rows.append(Row(number, record.lifecycle.value, note="in DynamoDB but not in this Twilio account"))


def import_sessions(setup: Setup, report: Report, apply: bool) -> None:
    assert setup.options.from_proxy
    sessions = open_proxy_sessions(setup.twilio, setup.options.from_proxy)
    for session in sessions:
        report.sessions.append(import_session(setup, session, apply))


def import_session(setup: Setup, session: ProxySession, apply: bool) -> Row:
    row = Row(session.sid, "session")
    providers = [
        (p, setup.store.find_provider_id_by_phone(p.identifier) or setup.planned_providers.get(p.identifier)) for p in session.participants
    ]
    sitter = [(p, pid) for p, pid in providers if pid]
    others = [p for p, pid in providers if not pid]
    if len(sitter) != 1 or len(others) != 1:
        row.note = f"skipped: needs one provider and one client among its {len(session.participants)} participants"
        return row
    participant, provider_id = sitter[0]
    client = others[0]
    provider = setup.store.get_provider(provider_id or "")
    pool_number = participant.proxy_identifier
    row.role = f"{provider.name if provider else provider_id} <-> {mask_phone(client.identifier)} on {pool_number}"
    if provider is None:
        if apply:
            row.error = "the provider's phone index points nowhere"
        else:
            row.changes = ["import as lease"]  # its provider is created by this run's import
        return row
    known_client = setup.store.find_client(phone=client.identifier)
    if known_client is not None:
        _, pair = setup.store.get_provider_and_pair(provider.provider_id, known_client.client_id)
        if pair is not None and pair.is_active(setup.ctx.now()) and pair.pool_number == pool_number:
            return row  # imported already
    if not apply:
        row.changes = ["import as lease"]
        return row
    try:
        _, change, why = import_lease(setup.ctx, provider, client.identifier, client.friendly_name or None, pool_number)
    except AdminError as error:
        row.error = error.message
        return row
    if change == "created":
        row.changes = ["imported as lease"]
    elif change == "conflict":
        row.error = why
    return row


# ---------------------------------------------------------------- the command


def run_setup(options: Options, deps: Deps | None = None) -> Report:
    deps = deps or Deps()
    report = Report(apply=options.apply)
    setup = prepare(options, deps, report, write_secrets=options.apply)
    airtable_roles: dict[str, Role] = {}
    if setup.airtable_api is not None:
        sync_airtable_schema(setup, report, options.apply)
        airtable_roles = roles_from_airtable(setup, report, options.apply)
    flag_roles = roles_from_flags(options)
    try:
        check_messaging_service(setup, report, options.apply)
        adopt_numbers(setup, report, airtable_roles, flag_roles, options.apply)
        if options.import_sessions:
            if not options.from_proxy:
                raise SetupError("--import-sessions needs --from-proxy <ServiceSid>")
            import_sessions(setup, report, options.apply)
    except SendError as error:
        raise SetupError(f"Twilio refused a listing (error {error.code}): {error}") from error
    finally:
        setup.outbox.publish(setup.ctx.take_records())
    return report


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tools.setup", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stack-name", default=env_first("STACK_NAME"), help="the deployed stack (default: $STACK_NAME)")
    parser.add_argument("--outputs-json", help="stack Outputs as JSON instead of CloudFormation (local runner, tests)")
    parser.add_argument("--environment", help="override the stack's Environment parameter (SSM path /masking/<env>)")
    parser.add_argument("--apply", action="store_true", help="make the changes (default: dry run)")
    parser.add_argument("--twilio-account-sid", default=env_first("TWILIO_ACCOUNT_SID"))
    parser.add_argument("--twilio-auth-token", default=env_first("TWILIO_AUTH_TOKEN"))
    parser.add_argument("--airtable-token", default=env_first("AIRTABLE_TOKEN"))
    parser.add_argument("--airtable-base-id", default=env_first("AIRTABLE_BASE_ID"))
    parser.add_argument("--airtable-api-url", default=env_first("AIRTABLE_API_URL"), help="another Airtable endpoint (the local stand-in)")
    parser.add_argument(
        "--messaging-service", dest="messaging_service_sid", help="Messaging Service SID (default: the stack's MessagingServiceSid)"
    )
    parser.add_argument("--roles", dest="roles_csv", help="CSV: number,role,provider_id,provider_name,provider_phone")
    parser.add_argument("--pool", action="append", default=[], help="pool numbers (comma-separated; repeatable)")
    parser.add_argument("--standby", action="append", default=[], help="standby numbers (comma-separated; repeatable)")
    parser.add_argument("--from-proxy", metavar="SERVICE_SID", help="move the numbers out of this Twilio Proxy Service")
    parser.add_argument("--import-sessions", action="store_true", help="with --from-proxy: open Proxy sessions become leases")
    args = parser.parse_args(argv)
    return Options(**vars(args))


def main(argv: list[str] | None = None, deps: Deps | None = None) -> int:
    options = parse_args(argv)
    try:
        report = run_setup(options, deps)
    except SetupError as error:
        print(f"setup: {error}", file=sys.stderr)
        return 2
    print(report.render())
    return 1 if report.failed else 0


__all__ = ["ROOT", "Deps", "Options", "Report", "Role", "Row", "main", "run_setup"]

if __name__ == "__main__":
    raise SystemExit(main())
