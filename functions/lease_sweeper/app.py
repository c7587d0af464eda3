"""lease_sweeper (EventBridge schedule): releases leases idle past their TTL, with an
audit event each. The rule is in masking.admin.schedules.sweep_leases."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.admin.schedules import sweep_leases
from masking.core.observability import logger, metrics
from masking.handlers.schedules import run_scheduled


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_scheduled("lease sweeper", lambda ctx: {"released": sweep_leases(ctx)})
