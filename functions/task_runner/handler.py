"""Task-runner Lambda: every Task state of a compiled flow invokes it with one action for one task.

Thin by design: the event is the Payload the state machine built (see `stratoflow.runner`); errors
propagate so that Lambda reports their class name as `errorType`, which the compiled Retry/Catch match.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.settings import Settings
from stratoflow.cloud.wiring import cloud_task_runner

logger = Logger()
metrics = Metrics()
tracer = Tracer()
runner = cloud_task_runner(Settings.from_env())


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
    execution = event.get("execution", {})
    logger.append_keys(
        execution_id=execution.get("id"),
        flow=f"{execution.get('namespace')}.{execution.get('flowId')}",
        task_id=event.get("taskId"),
        action=event.get("action"),
    )
    try:
        return runner.handle(event)
    except Exception as error:
        metrics.add_dimension(name="Flow", value=f"{execution.get('namespace')}.{execution.get('flowId')}")
        metrics.add_metric(name="TaskFailures", unit=MetricUnit.Count, value=1)
        logger.info("task action failed", extra={"error_type": type(error).__name__, "error": str(error)})
        raise
