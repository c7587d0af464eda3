"""doctor (EventBridge schedule): the drift checks of ``python -m tools.doctor`` that a
function can run (webhooks, Messaging Service, numbers Twilio no longer has, pool size,
dead-letter queues); one owner alert per run lists the findings that are new since the
previous run. The checks are in masking.admin.doctor."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from masking.admin.doctor import run_scheduled_doctor_from_env
from masking.core.observability import MetricUnit, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = run_scheduled_doctor_from_env()
    metrics.add_metric(name="DoctorFindings", unit=MetricUnit.Count, value=len(result["findings"]))
    logger.info("doctor ran", extra={"findings": len(result["findings"]), "new": len(result["new"]), "alerted": result["alerted"]})
    return {"findings": len(result["findings"]), "new": len(result["new"]), "alerted": result["alerted"]}
