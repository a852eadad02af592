"""Deployer Lambda: a flow file created in (or deleted from) the flows bucket deploys (or retires) it.

Thin by design: EventBridge's S3 event -> `Deployer.handle` (stratoflow.cloud.deploy.deployer) -> its verdict.
An exception (an AWS call that failed) propagates, so Lambda retries the event and then dead-letters it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.assembly import cloud_deployer
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.event_models import FlowObjectEvent

logger = Logger()
metrics = Metrics()
deployer = cloud_deployer(Settings.from_env())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = FlowObjectEvent.from_eventbridge(event)
    logger.append_keys(object_key=change.key, version_id=change.version_id, change=change.kind)
    verdict = deployer.handle(change)
    logger.info(
        "flow file handled",
        extra={
            "status": verdict.status,
            "flow": f"{verdict.namespace}.{verdict.flow_id}",
            "detail": verdict.message,
        },
    )
    metrics.add_metric(name=f"Flows{verdict.status.title()}", unit=MetricUnit.Count, value=1)
    return verdict.to_json()
