"""standby_keeper (EventBridge schedule): returns numbers whose handover ended to standby,
then keeps one standby number Ready or Pending for the next new provider. The rules are in
masking.admin.schedules.keep_standby."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.admin.schedules import keep_standby
from masking.core.observability import logger, metrics
from masking.core.settings import get_schedule_settings
from masking.handlers.schedules import run_scheduled


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    base = get_schedule_settings().webhook_base_url
    return run_scheduled("standby keeper", lambda ctx: keep_standby(ctx, base))
