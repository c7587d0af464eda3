"""create_session: the admin API for Zapier and operators (sessions, providers, clients,
numbers, pool stats). API key, input normalization, routes and error answers live in the
layer: masking.handlers.admin_api."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.core.observability import logger, metrics
from masking.handlers.admin_api import handle_admin_request


@logger.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_admin_request(event, context)
