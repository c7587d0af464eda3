"""forward: consumer of the forward queue (SQS). Sends the parts of a forward that a
transient Twilio failure parked, once each; see masking.messaging.forwarding. A record that
cannot finish now (another attempt holds a part, DynamoDB failed) is reported as a batch
item failure and comes back after the visibility timeout; the others are not re-run."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.core.observability import logger, metrics
from masking.messaging.forwarding import ParkedForward
from masking.mirror.outbox import publish_records
from masking.wiring import get_sms_services

processor = BatchProcessor(event_type=EventType.SQS)


def forward_record(record: SQSRecord) -> None:
    services = get_sms_services()
    forwarding = services.router.forwarding
    if forwarding is None:
        raise RuntimeError("the SMS router has no forward queue")
    forward = ParkedForward.from_json(record.body)
    logger.set_correlation_id(forward.message_sid)
    publish_records(services.outbox, forwarding.process(forward))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=forward_record, processor=processor, context=context)
