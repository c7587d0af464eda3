"""airtable_sync's SQS side: configuration, credentials, and the partial batch response.

Configuration (environment):

- ``SECRETS_PATH``: SSM prefix; the token is ``{SECRETS_PATH}/airtable/token`` and the
  base id ``{SECRETS_PATH}/airtable/base_id`` (SecureString, read through Powertools
  parameters with decryption, cached 5 minutes).
- ``AIRTABLE_API_URL`` (optional): another endpoint, e.g. the local stand-in
  (``local/airtable_standin.py``); pyairtable's ``Api(endpoint_url=...)``.
- ``AIRTABLE_TABLE_MESSAGE`` / ``_CLIENT`` / ``_PROVIDER`` / ``_NUMBER`` / ``_AUDIT`` /
  ``_CALL``: table names (default Messages, Clients, Sitters, Number Inventory, Audit
  Log, Calls).
- ``AIRTABLE_REQUESTS_PER_SECOND`` (default 5): this container's pace. Airtable allows 5
  per base; the template runs at most 2 containers (the event source mapping's
  ``MaximumConcurrency``) at 2.5 each.
- ``AIRTABLE_TIMEOUT_SECONDS`` (default 10): read timeout of one request.
- ``TABLE_NAME``: the stack's table, where the mirror's shared state lives
  (``state.py``: watermarks, quiet time, drifted tables, parked and held records);
  without it (a bare local run) the state is this container's memory.
- ``OWNER_ALERT_TOPIC_ARN``: SNS topic for the one alert per drifted table.
- ``OUTBOX_QUEUE_URL`` / ``OUTBOX_DLQ_URL``: for the scheduled redrive only.

Records that are written, parked (drifted table) or held (outage, 429 storm) are done for
SQS; only records that could not even be set aside (an unreadable body, a wrong token,
DynamoDB failing) are reported as ``batchItemFailures``, and after maxReceiveCount (5)
land in the DLQ, which the scheduled redrive (``redrive.py``) empties once Airtable
answers again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from masking.adapters.secrets import read_secure_parameters
from masking.core.observability import count, logger

from .client import build_api
from .limiter import AIRTABLE_REQUESTS_PER_SECOND, RateLimiter
from .links import LinkCache
from .redrive import DeadLetters, RedriveReport, run_redrive, sqs_sender
from .state import DynamoMirrorState, MemoryMirrorState, MirrorState
from .tables import table_names
from .writer import AirtableMirror, Outcome

SAFETY_MARGIN_SECONDS = 5.0  # stop starting requests this long before the Lambda timeout
DEFAULT_REMAINING_SECONDS = 60.0  # when invoked without a Lambda context

# All records failing is an answer like any other (every id in batchItemFailures), not an
# exception: SQS then redelivers exactly the same records either way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_links = LinkCache()  # per container, survives a credentials reload
_memory_state = MemoryMirrorState()  # only without TABLE_NAME (a bare local run)


class MirrorFailed(Exception):
    """Raised for a record the mirror could not write, so BatchProcessor reports it."""


@dataclass(frozen=True, slots=True)
class SyncSettings:
    secrets_path: str
    api_url: str | None
    tables: dict[str, str]
    requests_per_second: float
    timeout_seconds: int

    @classmethod
    def from_env(cls) -> SyncSettings:
        secrets_path = os.environ.get("SECRETS_PATH", "").rstrip("/")
        if not secrets_path:
            raise RuntimeError("SECRETS_PATH is not set")
        return cls(
            secrets_path=secrets_path,
            api_url=os.environ.get("AIRTABLE_API_URL") or None,
            tables=table_names(),
            requests_per_second=float(os.environ.get("AIRTABLE_REQUESTS_PER_SECOND") or AIRTABLE_REQUESTS_PER_SECOND),
            timeout_seconds=int(os.environ.get("AIRTABLE_TIMEOUT_SECONDS") or 10),
        )

    def parameter_names(self) -> tuple[str, str]:
        return f"{self.secrets_path}/airtable/token", f"{self.secrets_path}/airtable/base_id"


@dataclass(frozen=True, slots=True)
class AirtableCredentials:
    token: str = field(repr=False)  # never printed
    base_id: str


class AirtableNotConfigured(RuntimeError):
    """No Airtable for this stack: no SECRETS_PATH, or no token / base id in SSM."""


def load_credentials(settings: SyncSettings) -> AirtableCredentials:
    """The token and base id from SSM. Raises ``AirtableNotConfigured`` when SSM says the
    parameters do not exist (GetParameters lists them under ``InvalidParameters``, which
    Powertools raises as ``GetParameterError``); every other failure (access denied, a KMS
    key SSM cannot use, throttling, the network) propagates as an error."""
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    token_name, base_name = settings.parameter_names()
    try:
        values = read_secure_parameters(token_name, base_name)
    except GetParameterError as error:
        raise AirtableNotConfigured(f"the Airtable parameters are not in SSM: {error}") from error
    return AirtableCredentials(token=str(values[token_name]).strip(), base_id=str(values[base_name]).strip())


def build_state() -> MirrorState:
    table_name = os.environ.get("TABLE_NAME")
    return DynamoMirrorState(table_name) if table_name else _memory_state


def owner_alert(subject: str, message: str) -> None:
    """One SNS message to the owner (no values in it: table and field names only)."""
    topic = os.environ.get("OWNER_ALERT_TOPIC_ARN")
    if not topic:
        logger.error("owner alert not sent: OWNER_ALERT_TOPIC_ARN is not set")
        return
    try:
        import boto3

        boto3.client("sns").publish(TopicArn=topic, Subject=subject[:100], Message=message)
    except Exception:
        logger.exception("owner alert not sent")


@lru_cache(maxsize=1)
def get_mirror() -> AirtableMirror:
    settings = SyncSettings.from_env()
    credentials = load_credentials(settings)
    api = build_api(credentials.token, settings.api_url, settings.timeout_seconds)
    limiter = RateLimiter(rate=settings.requests_per_second)
    return AirtableMirror(
        api, credentials.base_id, names=settings.tables, limiter=limiter, links=_links, state=build_state(), alert=owner_alert
    )


def configured_mirror(role: str) -> AirtableMirror | None:
    """The mirror, or None (logged once, at info) where the stack has no Airtable: no
    SECRETS_PATH, or no token / base id in SSM. SSM failing to answer (access denied, KMS,
    throttling) is not "no Airtable": it is logged and raised, so the function's Errors
    alarm fires instead of the base silently not being written."""
    if not os.environ.get("SECRETS_PATH"):
        logger.info(f"{role} off: no Airtable configured", extra={"reason": "SECRETS_PATH is not set"})
        return None
    try:
        return get_mirror()
    except AirtableNotConfigured as error:
        logger.info(f"{role} off: no Airtable configured", extra={"reason": type(error).__name__})
        return None
    except Exception:
        logger.exception(f"{role} cannot read its Airtable credentials from SSM")
        raise


def handle_sqs_batch(event: dict[str, Any], context: Any, mirror: AirtableMirror | None = None) -> dict[str, Any]:
    """Writes the batch and answers ``{"batchItemFailures": [...]}``. The batch's hook
    events are queued first, with or without Airtable (``masking.handlers.hooks``). Without
    Airtable the records are done once their hooks are queued (only a hook failure is
    reported): redelivering them would queue their hook deliveries again on every receive."""
    from masking.handlers.hooks import dispatch_outbox

    hooks_failed = dispatch_outbox(event)
    mirror = mirror or configured_mirror("airtable sync")
    failures = dict(hooks_failed)
    outcome = None
    if mirror is not None:
        remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else DEFAULT_REMAINING_SECONDS
        deadline = mirror.clock.now() + remaining - SAFETY_MARGIN_SECONDS
        records = event.get("Records") or []
        outcome = mirror.write([(record.get("messageId", ""), record.get("body", "")) for record in records], deadline)
        if any("Unauthorized" in reason for reason in outcome.failures.values()):
            get_mirror.cache_clear()  # the token may have been rotated: read it again next time
        failures.update(outcome.failures)  # the mirror's reason first, as before

    def report(record: SQSRecord) -> None:
        reason = failures.get(record.message_id)
        if reason is not None:
            raise MirrorFailed(reason)

    response = process_partial_response(event=event, record_handler=report, processor=processor, context=context)
    if outcome is not None:
        _log(outcome)
    return dict(response)


def handle_schedule(event: dict[str, Any], context: Any, mirror: AirtableMirror | None = None) -> dict[str, Any]:
    """The scheduled redrive (EventBridge, every minute): see ``redrive.py``."""
    mirror = mirror or get_mirror()
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else DEFAULT_REMAINING_SECONDS
    deadline = mirror.clock.now() + remaining - SAFETY_MARGIN_SECONDS
    queue_url = os.environ.get("OUTBOX_QUEUE_URL")
    if not queue_url:
        raise RuntimeError("OUTBOX_QUEUE_URL is not set")
    dlq_url = os.environ.get("OUTBOX_DLQ_URL")
    send = sqs_sender(queue_url)
    report: RedriveReport = run_redrive(mirror, mirror.state, send, deadline, DeadLetters(dlq_url) if dlq_url else None)
    result = report.as_dict()
    if not report.quiet:  # privacy: retention, one read per run (retention.py)
        from .retention import purge_old_bodies, retention_days
        from .writer import Rejected, _Stop

        try:
            result["bodies_purged"] = purge_old_bodies(mirror, send, retention_days(), deadline)
        except (_Stop, Rejected) as stop:
            logger.warning("retention purge skipped", extra={"reason": str(stop)})
    logger.info("airtable redrive", extra=result)
    return result


def _log(outcome: Outcome) -> None:
    count("AirtableRecordsFailed", len(outcome.failures))
    logger.info(
        "airtable batch mirrored",
        extra={
            "records": outcome.records,
            "rows_written": outcome.rows_written,
            "requests": outcome.requests,
            "parked": len(outcome.parked),
            "held": len(outcome.held),
            "stale_fields": outcome.stale_fields,
            "failed": len(outcome.failures),
        },
    )


def handle_provisioner(event: dict[str, Any], context: Any, provisioner: Any = None) -> dict[str, Any]:
    """The scheduled provisioner (EventBridge, every minute): see ``provisioner.py``. Off
    (a no-op) when the stack has no Airtable: no SECRETS_PATH, or no token / base id in SSM.
    SSM failing to answer is not "no Airtable": it raises, so the function's Errors alarm
    (AirtableProvisionerFailuresAlarm) fires instead of the base silently not being read."""
    from masking.adapters.aws_queues import SnsOwnerAlerts
    from masking.core.settings import get_delivery_settings, get_schedule_settings
    from masking.mirror.outbox import publish_records
    from masking.wiring import get_admin_context, get_outbox

    from .provisioner import Provisioner

    if provisioner is None:
        mirror = configured_mirror("provisioner")
        if mirror is None:
            return {"skipped": "no airtable"}
        provisioner = Provisioner(
            mirror,
            get_admin_context,
            SnsOwnerAlerts(get_delivery_settings().owner_alert_topic_arn),
            lambda records: publish_records(get_outbox(), records),
            get_schedule_settings().webhook_base_url,
        )
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else DEFAULT_REMAINING_SECONDS
    deadline = provisioner.mirror.clock.now() + remaining - SAFETY_MARGIN_SECONDS
    report = provisioner.run(deadline)
    count("SittersProvisionedFromBase", report.provisioned)
    logger.info("airtable provisioner", extra=report.as_dict())
    return dict(report.as_dict())
