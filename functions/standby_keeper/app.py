"""standby_keeper (EventBridge schedule): keeps one standby number Ready or Pending for
the next new provider. The rule is in masking.schedules.run_standby_keeper."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.observability import get_tracer, logger, metrics
from masking.schedules import run_standby_keeper
from masking.settings import get_schedule_settings
from masking.wiring import get_admin_context

tracer = get_tracer()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ctx = get_admin_context()
    try:
        outcome = run_standby_keeper(ctx, get_schedule_settings().webhook_base_url)
    finally:
        ctx.flush()
    logger.info("standby keeper ran", extra={"outcome": outcome})
    return {"outcome": outcome}
