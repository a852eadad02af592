"""Webhook Lambda: `GET|POST /webhook/{namespace}/{flowId}/{key}` on the function URL starts an execution.

Thin by design: the function URL event -> `Webhooks.handle` (stratoflow.triggers.webhooks: key check,
body limit, `?wait=true`) -> the HTTP response. Starts go through the admission Lambda.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.assembly import cloud_webhooks
from stratoflow.cloud.config.settings import Settings
from stratoflow.triggers.webhooks import function_url_response, request_from_function_url

logger = Logger()
metrics = Metrics()
webhooks = cloud_webhooks(Settings.from_env())


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = request_from_function_url(event)
    response = webhooks.handle(request)
    # The path holds the key: log the status only.
    logger.info("webhook answered", extra={"status": response.status, "method": request.method})
    metrics.add_metric(name=f"Webhook{response.status // 100}xx", unit=MetricUnit.Count, value=1)
    return function_url_response(response)
