"""Admission Lambda: the one start path of executions (CLI, schedules, rules, webhooks).

Thin by design: `{namespace, flowId, inputs, labels, trigger, executionId?}` -> `Starter.start`
(stratoflow.cloud.starter) -> `{executionId, state, ...}`, or `{state: "REFUSED", error, input}` when
the flow is not deployed or an input is invalid (nothing is started then).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.assembly import cloud_starter
from stratoflow.cloud.settings import Settings
from stratoflow.cloud.starter import REFUSED, StartRequest

logger = Logger()
metrics = Metrics()
tracer = Tracer()
starter = cloud_starter(Settings.from_env())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StartRequest.from_event(event)
    logger.append_keys(flow=f"{request.namespace}.{request.flow_id}", execution_id=request.execution_id)
    response = starter.start(request)
    outcome = {REFUSED: "StartsRefused", "FAILED": "StartsFailed"}.get(response.state, "StartsAdmitted")
    metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
    logger.info("start handled", extra={"state": response.state, "error": response.error})
    return response.to_json()
