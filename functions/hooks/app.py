"""hooks: consumer of the hooks queue. POSTs each delivery, signed, to its subscription's
URL; retries 429 / 5xx / no answer through the queue, sets the rest aside in the DLQ, and
unsubscribes on 410. See masking.hooks and masking.handlers.hooks."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.core.observability import logger, metrics
from masking.handlers.hooks import handle_hooks_batch


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_hooks_batch(event, context)
