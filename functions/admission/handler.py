"""Admission Lambda: the one start path of executions (CLI, schedules, rules, webhooks).

Thin by design: `{namespace, flowId, inputs, labels, trigger, executionId?}` -> `Starter.start`
(stratoflow.cloud.runtime.starter) -> `{executionId, state, ...}`, or `{state: "REFUSED", error, input}` when
the flow is not deployed or an input is invalid (nothing is started then). An execution it starts
publishes its QueueWait (dimension Flow only, the execution id as metadata).

An SLA timer's schedule delivers `{"sla": {executionId, slaId}}`: the miss of a still running
execution is recorded and SlaMissed published (stratoflow.cloud.runtime.sla_timer).

An SQS trigger's pipe delivers a list of messages: one start for the batch (stratoflow.cloud.runtime.queue_batches),
answered with Pipes' `batchItemFailures` so that a refused batch stays in its queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.assembly import cloud_admission
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.metrics import sla_missed_metric_sets
from stratoflow.cloud.runtime.queue_batches import admission_request
from stratoflow.cloud.runtime.sla_timer import REQUEST_KEY as SLA_REQUEST
from stratoflow.cloud.runtime.starter import REFUSED

logger = Logger()
metrics = Metrics()
admission = cloud_admission(Settings.from_env())


def sla_timer_fired(request: dict[str, Any]) -> dict[str, Any]:
    """An SLA's timer (cloud.runtime.sla_timer) is due: record the miss of a still running execution."""
    execution, miss = admission.sla_timers.fire(str(request.get("executionId")), str(request.get("slaId")))
    if execution is not None and miss is not None:
        flow = f"{execution.namespace}.{execution.flow_id}"
        for metric_set in sla_missed_metric_sets(flow, [miss.sla.id], execution.id):
            emf = EphemeralMetrics(service="")
            for name, value in metric_set.dimensions.items():
                emf.add_dimension(name=name, value=value)
            for metric in metric_set.metrics:
                emf.add_metric(name=metric.name, unit=metric.unit, value=metric.value)
            for key, value in metric_set.metadata.items():
                emf.add_metadata(key=key, value=value)
            emf.flush_metrics()
    logger.info("SLA timer handled", extra={"request": request, "missed": miss is not None})
    return {"executionId": request.get("executionId"), "slaMissed": miss is not None}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any] | list[Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and SLA_REQUEST in event:
        return sla_timer_fired(event[SLA_REQUEST])
    request, batch = admission_request(event)
    logger.append_keys(flow=f"{request.namespace}.{request.flow_id}", execution_id=request.execution_id)
    response = admission.starter.start(request)
    outcome = {REFUSED: "StartsRefused", "FAILED": "StartsFailed"}.get(response.state, "StartsAdmitted")
    metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
    if response.queue_wait_ms is not None:
        flow_metrics = EphemeralMetrics(service="")  # "": the Flow dimension only
        flow_metrics.add_dimension(name="Flow", value=f"{response.namespace}.{response.flow_id}")
        flow_metrics.add_metric(name="QueueWait", unit=MetricUnit.Milliseconds, value=response.queue_wait_ms)
        flow_metrics.add_metadata(key="executionId", value=response.execution_id)
        flow_metrics.flush_metrics()
    logger.info("start handled", extra={"state": response.state, "error": response.error})
    return batch.reply(response) if batch is not None else response.to_json()
