"""pool_monitor (EventBridge schedule): grows the pool before it runs out and publishes
the pool metrics, and one Pool Stats row per run on the outbox. The rules are in
masking.admin.schedules.run_pool_monitor."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.admin.context import AdminContext
from masking.admin.schedules import run_pool_monitor
from masking.core.observability import logger, metrics
from masking.core.settings import get_schedule_settings
from masking.handlers.schedules import run_scheduled
from masking.mirror.rows import pool_stats_row


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_schedule_settings()

    def job(ctx: AdminContext) -> dict[str, Any]:
        result = run_pool_monitor(ctx, settings, settings.webhook_base_url)
        ctx.records.append(pool_stats_row(result.stats.as_dict(), result.decision, ctx.stamp()))  # the Pool Stats table
        return result.as_dict()

    return run_scheduled("pool monitor", job)
