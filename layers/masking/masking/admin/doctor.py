"""Drift checks: is the deployed service still wired the way ``tools.setup`` left it?

Each ``check_*`` function is read-only and returns ``Finding``s. ``tools.doctor`` runs them
all (plus the Airtable schema check, which needs pyairtable) and exits non-zero on any
error finding; ``run_scheduled_doctor`` runs the ones a Lambda can run on a schedule and
raises one owner alert listing the findings that are NEW since the previous run (the
previous run's finding keys are kept in one item, ``DOCTOR`` / ``FINDINGS``).

What counts as drift:

- a number we own whose SMS or voice webhook (or fallback, when the stack has fallback
  URLs) points elsewhere: someone edited it in the console, and masking is off for it;
- a number we own that is not in the configured Messaging Service (A2P 10DLC);
- a Messaging Service whose inbound setting is not "Defer to sender's webhook"
  (``use_inbound_webhook_on_number`` false): every SMS to its numbers goes to the
  service's URL instead of ours (https://www.twilio.com/docs/messaging/services/api);
- a Messaging Service at all raises a warning: Twilio applies a STOP to the whole service
  (https://support.twilio.com/hc/en-us/articles/223133627-Error-21610-The-message-From-To-pair-violates-when-sending-SMS),
  so a provider who texts STOP to one client's pool number stops receiving every client's
  texts until they text START;
- numbers in DynamoDB that the Twilio account no longer has;
- fewer Ready pool numbers than the busiest provider's active leases;
- missing or unreadable secrets; messages waiting in a dead-letter queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from masking.adapters.twilio_numbers_admin import (
    NumberWebhooks,
    fetch_account,
    fetch_messaging_service,
    list_incoming_numbers,
    messaging_service_number_sids,
)
from masking.admin.context import AdminContext
from masking.admin.pool import pool_stats
from masking.core.models import Lifecycle
from masking.core.ports import SendError

Severity = Literal["error", "warning"]
WEBHOOK_NAMES = {
    "sms_url": "SMS webhook",
    "voice_url": "voice webhook",
    "sms_fallback_url": "SMS fallback URL",
    "voice_fallback_url": "voice fallback URL",
}
STATE_PK, STATE_SK = "DOCTOR", "FINDINGS"


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # webhooks, messaging_service, opt_out, missing_at_twilio, pool, secrets, airtable, dead_letters, twilio
    subject: str  # a number, a parameter name, a queue...
    problem: str
    severity: Severity = "error"

    @property
    def key(self) -> str:
        return f"{self.check}|{self.subject}|{self.problem}"

    def __str__(self) -> str:
        return f"{self.severity.upper():7} {self.check}: {self.subject}: {self.problem}"


def check_numbers(ctx: AdminContext, twilio: Any, wanted: NumberWebhooks, messaging_service_sid: str = "") -> list[Finding]:
    """Webhooks, Messaging Service membership, and numbers Twilio no longer has."""
    findings: list[Finding] = []
    try:
        incoming = {n.number: n for n in list_incoming_numbers(twilio)}
    except SendError as error:
        return [Finding("twilio", "IncomingPhoneNumbers", f"cannot list the account's numbers (Twilio error {error.code})")]
    members: set[str] | None = None
    if messaging_service_sid:
        try:
            members = messaging_service_number_sids(twilio, messaging_service_sid)
        except SendError as error:
            findings.append(Finding("messaging_service", messaging_service_sid, f"cannot list its numbers (Twilio error {error.code})"))
    for record in sorted(ctx.store.list_numbers(), key=lambda n: n.number):
        owned = incoming.get(record.number)
        if owned is None:
            findings.append(
                Finding("missing_at_twilio", record.number, f"{record.lifecycle.value} number in DynamoDB, not in the Twilio account")
            )
            continue
        for name in owned.webhooks.differences(wanted):
            actual = getattr(owned.webhooks, name) or "(empty)"
            findings.append(Finding("webhooks", record.number, f"{WEBHOOK_NAMES[name]} points at {actual}, not the stack"))
        if members is not None and owned.sid not in members:
            findings.append(Finding("messaging_service", record.number, f"not in Messaging Service {messaging_service_sid}"))
    return findings


def check_messaging_service(twilio: Any, messaging_service_sid: str) -> list[Finding]:
    if not messaging_service_sid:
        return []
    try:
        service = fetch_messaging_service(twilio, messaging_service_sid)
    except SendError as error:
        return [Finding("messaging_service", messaging_service_sid, f"cannot read the Messaging Service (Twilio error {error.code})")]
    findings = []
    if not service.use_inbound_webhook_on_number:
        where = service.inbound_request_url or "nowhere (inbound disabled)"
        findings.append(
            Finding(
                "messaging_service",
                messaging_service_sid,
                f"inbound SMS go to the service's URL ({where}), not each number's webhook: set Integration > "
                "Incoming messages to 'Defer to sender's webhook'",
            )
        )
    findings.append(
        Finding(
            "opt_out",
            messaging_service_sid,
            "Twilio applies a STOP to the whole Messaging Service: a provider texting STOP to one pool number stops "
            "every client's texts to them until they text START (see README, Twilio account setup)",
            "warning",
        )
    )
    return findings


def check_pool(ctx: AdminContext) -> list[Finding]:
    stats = pool_stats(ctx)
    if stats.ready_pool_numbers < stats.busiest_provider_leases:
        return [
            Finding(
                "pool",
                stats.busiest_provider_id or "pool",
                f"{stats.ready_pool_numbers} Ready pool numbers, fewer than the busiest provider's "
                f"{stats.busiest_provider_leases} active leases",
            )
        ]
    spare = [n for n in ctx.store.list_numbers(Lifecycle.STANDBY) if not n.provider_id]
    if not spare:
        return [Finding("pool", "standby", "no standby number: the next new provider waits for a purchase", "warning")]
    return []


def check_secrets(ssm: Any, names: Iterable[str], optional: Iterable[str] = ()) -> list[Finding]:
    """Each parameter must exist and decrypt; ``optional`` ones may be absent."""
    from botocore.exceptions import ClientError

    findings = []
    optional_names = set(optional)
    for name in names:
        try:
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ParameterNotFound":
                if name not in optional_names:
                    findings.append(Finding("secrets", name, "missing"))
                continue
            findings.append(Finding("secrets", name, f"unreadable ({code})"))
            continue
        if not str(value).strip():
            findings.append(Finding("secrets", name, "empty"))
    return findings


def check_twilio_credentials(twilio: Any) -> list[Finding]:
    try:
        fetch_account(twilio)
    except SendError as error:
        return [Finding("secrets", "twilio", f"Twilio refuses the account SID and auth token (error {error.code})")]
    return []


def check_dead_letters(sqs: Any, queues: dict[str, str]) -> list[Finding]:
    findings = []
    for name, url in sorted(queues.items()):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        waiting = int(attributes.get("ApproximateNumberOfMessages", "0"))
        if waiting:
            findings.append(Finding("dead_letters", name, f"{waiting} message(s) waiting: fix the cause, then redrive"))
    return findings


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


# ---------------------------------------------------------------- the scheduled run


def previous_keys(store: Any) -> set[str]:
    item = store.client.get_item(TableName=store.table_name, Key={"pk": {"S": STATE_PK}, "sk": {"S": STATE_SK}}, ConsistentRead=True).get(
        "Item"
    )
    return set(json.loads(item["keys"]["S"])) if item else set()


def remember(store: Any, findings: list[Finding], at: str) -> None:
    keys = sorted({f.key for f in findings})
    store.client.put_item(
        TableName=store.table_name,
        Item={"pk": {"S": STATE_PK}, "sk": {"S": STATE_SK}, "keys": {"S": json.dumps(keys)}, "checked_at": {"S": at}},
    )


def run_scheduled_doctor(
    ctx: AdminContext,
    twilio: Any,
    wanted: NumberWebhooks,
    alerts: Any,
    messaging_service_sid: str = "",
    sqs: Any = None,
    dead_letter_queues: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Runs the checks; one owner alert lists the error findings not seen by the previous run.
    Returns ``{"findings": [...], "new": [...], "alerted": bool}``."""
    findings = check_twilio_credentials(twilio)
    if not findings:
        findings += check_numbers(ctx, twilio, wanted, messaging_service_sid)
        findings += check_messaging_service(twilio, messaging_service_sid)
    findings += check_pool(ctx)
    if sqs is not None and dead_letter_queues:
        findings += check_dead_letters(sqs, dead_letter_queues)
    seen = previous_keys(ctx.store)
    new = [f for f in errors(findings) if f.key not in seen]
    if new:
        lines = "\n".join(str(f) for f in new)
        alerts.publish(f"masking doctor: {len(new)} new finding(s)", f"{lines}\n\nRun python -m tools.doctor for the full list.")
    remember(ctx.store, findings, ctx.stamp())
    return {"findings": [asdict(f) for f in findings], "new": [asdict(f) for f in new], "alerted": bool(new)}


def run_scheduled_doctor_from_env() -> dict[str, Any]:
    """The ``doctor`` function's wiring: settings and adapters from the environment
    (``WEBHOOK_BASE_URL``, optional ``TWILIO_SMS_FALLBACK_URL`` / ``TWILIO_VOICE_FALLBACK_URL``,
    ``DOCTOR_DEAD_LETTER_QUEUES`` = comma-separated queue URLs, ``OWNER_ALERT_TOPIC_ARN``)."""
    import os

    import boto3
    from twilio.rest import Client

    from masking.adapters.aws_queues import SnsOwnerAlerts
    from masking.adapters.secrets import load_twilio_credentials
    from masking.core.settings import get_aws_settings, get_delivery_settings, get_schedule_settings, get_twilio_settings
    from masking.wiring import get_admin_context, sandbox_http_client

    base = get_schedule_settings().webhook_base_url
    wanted = NumberWebhooks(
        sms_url=f"{base}/twilio/sms",
        voice_url=f"{base}/twilio/voice",
        sms_fallback_url=os.environ.get("TWILIO_SMS_FALLBACK_URL", ""),
        voice_fallback_url=os.environ.get("TWILIO_VOICE_FALLBACK_URL", ""),
    )
    twilio_settings = get_twilio_settings()
    credentials = load_twilio_credentials(get_aws_settings().secrets_path)
    http_client = sandbox_http_client() if twilio_settings.transport == "sandbox" else None
    twilio = Client(credentials.account_sid, credentials.auth_token, http_client=http_client)
    queues = [url.strip() for url in os.environ.get("DOCTOR_DEAD_LETTER_QUEUES", "").split(",") if url.strip()]
    return run_scheduled_doctor(
        get_admin_context(),
        twilio,
        wanted,
        SnsOwnerAlerts(get_delivery_settings().owner_alert_topic_arn),
        twilio_settings.messaging_service_sid,
        boto3.client("sqs") if queues else None,
        {url.rsplit("/", 1)[-1]: url for url in queues},
    )
