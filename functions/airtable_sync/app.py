"""airtable_sync: consumer of the SQS outbox. Writes the mirror records to the operator's
Airtable base (upserts, 10 rows a request, 5 requests a second) and reports the records
it could not write or set aside, so SQS delivers only those again; ``redrive_handler`` is
the scheduled redrive. See airtable_mirror/handler.py and airtable_mirror/redrive.py."""

import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

# Lambda already has this directory on sys.path; the local runner and the tests load this
# file by path, and its package sits beside it.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from airtable_mirror.handler import handle_provisioner, handle_schedule, handle_sqs_batch

from masking.core.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_sqs_batch(event, context)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def redrive_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge schedule: probes drifted tables, returns parked, held and DLQ records
    to the outbox queue once Airtable takes them (airtable_mirror/redrive.py)."""
    return handle_schedule(event, context)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def provisioner_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge schedule: the Sitters rows set Pending (the Add Sitter form) or Inactive
    run Path A/B or C, written back to the row (airtable_mirror/provisioner.py)."""
    return handle_provisioner(event, context)
