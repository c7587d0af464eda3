"""lease_sweeper (EventBridge schedule): releases leases idle past their TTL, with an
audit event each. The rule is in masking.schedules.sweep_leases."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.observability import get_tracer, logger, metrics
from masking.schedules import sweep_leases
from masking.wiring import get_admin_context

tracer = get_tracer()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ctx = get_admin_context()
    try:
        released = sweep_leases(ctx)
    finally:
        ctx.flush()
    logger.info("lease sweeper ran", extra={"released": released})
    return {"released": released}
