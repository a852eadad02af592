"""Console Lambda: the web console's API (stratoflow.console) behind API Gateway's HTTP API.

Thin by design: the HTTP API event -> Mangum -> `create_app(CloudConsoleBackend, authorize=<the
caller API Gateway verified>)` -> the HTTP answer (stratoflow.console.cloud_lambda). The pages are
served from S3 by CloudFront; only `/api/...` reaches this function.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from stratoflow.cloud.config.settings import Settings
from stratoflow.console.cloud_lambda import console_handler

logger = Logger()
settings = Settings.from_env()
handle = console_handler(settings)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = handle(event, context)
    # The route and status only: paths hold execution ids, never secrets; bodies are not logged.
    logger.info(
        "console answered", extra={"route": event.get("routeKey"), "status": answer.get("statusCode")}
    )
    return answer
