"""fallback_replay: consumer of the fallback queue. API Gateway stores the SMS webhooks
Twilio sent to the number's SmsFallbackUrl there (no Lambda in between); this replays each
through the same routing, signature-checked and idempotent on MessageSid. See
masking.handlers.fallback."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.core.observability import logger, metrics
from masking.handlers.fallback import handle_fallback_records
from masking.wiring import get_sms_services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_fallback_records(event, get_sms_services())
