"""resend: consumer of the retry queue (SQS, 600 s delay). Sends a temporarily failed
SMS part once more; see masking.messaging.failures. One bad record never re-runs the batch."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.core.observability import logger, metrics
from masking.messaging.failures import Resend
from masking.mirror.outbox import publish_records
from masking.wiring import get_sms_services

processor = BatchProcessor(event_type=EventType.SQS)


def resend_record(record: SQSRecord) -> None:
    services = get_sms_services()
    publish_records(services.outbox, services.failures.resend(Resend.from_json(record.body)))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=resend_record, processor=processor, context=context)
