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
  per base; the function runs with reserved concurrency 1, so one container is all.
- ``AIRTABLE_TIMEOUT_SECONDS`` (default 10): read timeout of one request.

Failed records are reported as ``batchItemFailures`` (the event source mapping has
``ReportBatchItemFailures``): SQS delivers only those again, and after maxReceiveCount (5)
moves them to the DLQ. Once Airtable is fixed, move them back with
``aws sqs start-message-move-task --source-arn <OutboxDeadLetterQueue ARN>`` (the
destination defaults to the queue they came from).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from masking.core.observability import count, logger

from .client import build_api
from .limiter import AIRTABLE_REQUESTS_PER_SECOND, RateLimiter
from .links import LinkCache
from .tables import table_names
from .writer import AirtableMirror, Outcome

SECRET_MAX_AGE_SECONDS = 300
SAFETY_MARGIN_SECONDS = 5.0  # stop starting requests this long before the Lambda timeout
DEFAULT_REMAINING_SECONDS = 60.0  # when invoked without a Lambda context

# All records failing is an answer like any other (every id in batchItemFailures), not an
# exception: SQS then redelivers exactly the same records either way.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_links = LinkCache()  # per container, survives a credentials reload


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
    token: str
    base_id: str

    def __repr__(self) -> str:  # never print the token
        return f"AirtableCredentials(base_id={self.base_id}, token=***)"


def load_credentials(settings: SyncSettings) -> AirtableCredentials:
    from aws_lambda_powertools.utilities.parameters import get_parameters_by_name

    token_name, base_name = settings.parameter_names()
    values = get_parameters_by_name(parameters={token_name: {}, base_name: {}}, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    return AirtableCredentials(token=str(values[token_name]).strip(), base_id=str(values[base_name]).strip())


@lru_cache(maxsize=1)
def get_mirror() -> AirtableMirror:
    settings = SyncSettings.from_env()
    credentials = load_credentials(settings)
    api = build_api(credentials.token, settings.api_url, settings.timeout_seconds)
    limiter = RateLimiter(rate=settings.requests_per_second)
    return AirtableMirror(api, credentials.base_id, names=settings.tables, limiter=limiter, links=_links)


def handle_sqs_batch(event: dict[str, Any], context: Any, mirror: AirtableMirror | None = None) -> dict[str, Any]:
    """Writes the batch and answers ``{"batchItemFailures": [...]}``."""
    mirror = mirror or get_mirror()
    remaining = context.get_remaining_time_in_millis() / 1000 if context is not None else DEFAULT_REMAINING_SECONDS
    deadline = mirror.clock.now() + remaining - SAFETY_MARGIN_SECONDS
    records = event.get("Records") or []
    outcome = mirror.write([(record.get("messageId", ""), record.get("body", "")) for record in records], deadline)
    if any(reason.startswith("Unauthorized") for reason in outcome.failures.values()):
        get_mirror.cache_clear()  # the token may have been rotated: read it again next time

    def report(record: SQSRecord) -> None:
        reason = outcome.failures.get(record.message_id)
        if reason is not None:
            raise MirrorFailed(reason)

    response = process_partial_response(event=event, record_handler=report, processor=processor, context=context)
    _log(outcome)
    return dict(response)


def _log(outcome: Outcome) -> None:
    count("AirtableRecordsFailed", len(outcome.failures))
    logger.info(
        "airtable batch mirrored",
        extra={
            "records": outcome.records,
            "rows_written": outcome.rows_written,
            "requests": outcome.requests,
            "failed": len(outcome.failures),
        },
    )
