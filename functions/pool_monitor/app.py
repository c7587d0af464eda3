"""pool_monitor (EventBridge schedule): grows the pool before it runs out and publishes
the pool metrics. The rules are in masking.schedules.run_pool_monitor."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.observability import get_tracer, logger, metrics
from masking.schedules import run_pool_monitor
from masking.settings import get_schedule_settings
from masking.wiring import get_admin_context

tracer = get_tracer()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_schedule_settings()
    ctx = get_admin_context()
    try:
        result = run_pool_monitor(ctx, settings, settings.webhook_base_url)
    finally:
        ctx.flush()
    logger.info("pool monitor ran", extra={"decision": result.decision, "utilization": result.stats.utilization})
    return result.as_dict()
