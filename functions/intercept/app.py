"""intercept: Twilio's SMS webhook (POST /twilio/sms) and delivery status callback
(POST /twilio/sms/status). Routing lives in the layer: masking.sms."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.delivery import handle_status_webhook
from masking.inbound import handle_sms_webhook
from masking.observability import logger, metrics
from masking.wiring import get_sms_services


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if (event.get("resource") or event.get("path", "")).endswith("/status"):
        return handle_status_webhook(event, get_sms_services())
    return handle_sms_webhook(event, get_sms_services())
