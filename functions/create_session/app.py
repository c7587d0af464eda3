"""create_session: the admin API for Zapier and operators (sessions, providers, clients,
numbers, pool stats). API key, input normalization, routes and error answers live in the
layer: masking.handlers.admin_api. Not on the SMS hot path, so it carries the Powertools Tracer."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.core.observability import get_tracer, logger, metrics
from masking.handlers.admin_api import handle_admin_request

tracer = get_tracer()


@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)  # answers hold phone numbers
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_admin_request(event, context)
