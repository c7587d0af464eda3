"""intercept: Twilio's SMS webhook (POST /twilio/sms) and delivery status callbacks
(POST /twilio/sms/status/{ref}, and the old /twilio/sms/status?ref=). Handlers live in masking.handlers.sms,
routing in masking.messaging.routing."""

from __future__ import annotations

import masking.handlers.init  # first: no garbage collection until init.ready() below

# isort: split
from typing import TYPE_CHECKING, Any

import masking.adapters.twilio_gateway  # the twilio REST client at init, not on the first message
from masking.core.observability import logger, metrics
from masking.handlers import snapstart
from masking.handlers.sms import handle_sms_webhook, handle_status_webhook
from masking.wiring import get_sms_services

if TYPE_CHECKING:  # an annotation only: two modules less to import
    from aws_lambda_powertools.utilities.typing import LambdaContext

snapstart.register(prime=get_sms_services)  # only where the runtime has SnapStart's hooks


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = event.get("resource") or event.get("path") or ""
    if route.endswith("/status") or "/status/" in route:
        return handle_status_webhook(event, get_sms_services())
    return handle_sms_webhook(event, get_sms_services())


masking.handlers.init.ready()  # last: the init is over
