"""Execution-events Lambda: Step Functions status changes -> execution records, metrics, events.

Thin by design: the status-change event -> `ExecutionEvents.handle` (stratoflow.cloud.events). Flow
metrics carry the dimension `Flow` only: this Metrics has no `service`, so the metric Powertools
publishes is exactly (Stratoflow, <metric>, Flow=<namespace>.<flowId>). An execution that ends FAILED
also sends its alert to the topic STRATOFLOW_ALERT_TOPIC_ARN.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.assembly import cloud_execution_events
from stratoflow.cloud.event_models import StatusChange
from stratoflow.cloud.settings import Settings

logger = Logger()
metrics = Metrics(service="")  # "": no `service` dimension (None would read POWERTOOLS_SERVICE_NAME)
execution_events = cloud_execution_events(Settings.from_env())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = StatusChange.from_eventbridge(event)
    logger.append_keys(execution_id=change.name, status=change.status)
    outcome = execution_events.handle(change)
    if outcome.metrics:
        metrics.add_dimension(name="Flow", value=outcome.flow)
        for metric in outcome.metrics:
            metrics.add_metric(name=metric.name, unit=metric.unit, value=metric.value)
        metrics.add_metadata(key="executionId", value=change.name)
    state = str(outcome.execution.state) if outcome.execution is not None else None
    logger.info("status change handled", extra={"state": state, "note": outcome.note})
    return {"executionId": change.name, "state": state, "note": outcome.note}
