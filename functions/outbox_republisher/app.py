"""outbox_republisher: puts the mirror records the outbox had to spill to the table (SQS
refused them through every retry) back on the outbox (EventBridge schedule). See
masking.adapters.aws_queues.SqsOutbox and masking.store.spill."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.core.observability import logger, metrics
from masking.wiring import get_outbox


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outbox = get_outbox()
    republished = outbox.republish_spilled()  # type: ignore[attr-defined]
    logger.info("spilled outbox records republished", extra={"records": republished})
    return {"republished": republished}
