"""Execution-events Lambda: Step Functions status changes -> execution records, metrics, events.

Thin by design: the status-change event -> `ExecutionEvents.handle` (stratoflow.cloud.runtime.events). Flow
metrics carry the dimension `Flow` only: this Metrics has no `service`, so the metric Powertools
publishes is exactly (Stratoflow, <metric>, Flow=<namespace>.<flowId>). Task runs that the end closes
(a state Step Functions timed out, an abort) are published as the task runner publishes ended ones
(Flow and TaskType). An SLA the end finds missed publishes SlaMissed (Flow and Sla; Flow; none).
An execution that ends FAILED also sends its alert to the topic
STRATOFLOW_ALERT_TOPIC_ARN.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.assembly import cloud_execution_events
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloud.runtime.metrics import sla_missed_metric_sets, task_run_metric_sets
from stratoflow.execution.runner import recording_task_runs

logger = Logger()
metrics = Metrics(service="")  # "": no `service` dimension (None would read POWERTOOLS_SERVICE_NAME)
execution_events = cloud_execution_events(Settings.from_env())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = StatusChange.from_eventbridge(event)
    logger.append_keys(execution_id=change.name, status=change.status)
    with recording_task_runs() as activity:  # task runs the end closes (a timeout, an abort)
        outcome = execution_events.handle(change)
    missed = sla_missed_metric_sets(outcome.flow, outcome.sla_missed, change.name)
    for metric_set in [*task_run_metric_sets(outcome.flow, activity.ended), *missed]:
        emf = EphemeralMetrics(service="")
        for name, value in metric_set.dimensions.items():
            emf.add_dimension(name=name, value=value)
        for metric in metric_set.metrics:
            emf.add_metric(name=metric.name, unit=metric.unit, value=metric.value)
        for key, value in metric_set.metadata.items():
            emf.add_metadata(key=key, value=value)
        emf.flush_metrics()
    if outcome.metrics:
        metrics.add_dimension(name="Flow", value=outcome.flow)
        for metric in outcome.metrics:
            metrics.add_metric(name=metric.name, unit=metric.unit, value=metric.value)
        metrics.add_metadata(key="executionId", value=change.name)
    state = str(outcome.execution.state) if outcome.execution is not None else None
    logger.info("status change handled", extra={"state": state, "note": outcome.note})
    return {"executionId": change.name, "state": state, "note": outcome.note}
