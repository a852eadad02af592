"""The console as a Lambda function behind API Gateway's HTTP API (infra/constructs/console.py).

`console_handler(settings)` builds, at cold start, the console app over the stack
(`CloudConsoleBackend`, lazy clients) with the API Gateway authorizer (`cloud_auth`) and wraps it with
Mangum. Two things differ from `strato server`:

- the IAM routes `/iam/api/...` (SigV4 callers) serve the same API as `/api/...`: the prefix is taken
  off when the route API Gateway matched is an IAM one (never because of the path alone);
- live logs: a Lambda behind API Gateway answers each request once (a buffered response, at most 29
  s), so the server-sent event stream is refused with 501 and a message that names the polling
  route; the pages then poll `GET .../logs?after=<cursor>`, which returns the lines written since.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from stratoflow.cloud.config.lazy import LazyAwsClients
from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.config.settings import Settings
from stratoflow.console.cloud_backend import CloudConsoleBackend

IAM_ROUTE_PREFIX = "ANY /iam/"
IAM_PATH_PREFIX = "/iam"
STREAM_SUFFIX = "/logs/stream"
STREAM_REFUSAL = (
    "live log streams need a long-lived connection, which API Gateway does not keep: "
    "poll GET /api/v1/executions/{id}/logs?after=<nextCursor of the last answer> instead"
)

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def cloud_console_backend(settings: Settings, clients: Any = None) -> CloudConsoleBackend:
    """The backend over the stack the settings name; clients are made on their first use."""
    from stratoflow.store.dynamo import DynamoExecutionStore
    from stratoflow.store.s3 import S3BlobStore

    if not settings.stratoflow_admission_arn:
        raise ValueError(
            "STRATOFLOW_ADMISSION_ARN is not set: the console needs the stack's account and region"
        )
    clients = clients or LazyAwsClients()
    store = DynamoExecutionStore(
        settings.stratoflow_table_name, client=clients.dynamodb, history_days=settings.stratoflow_history_days
    )
    blobs = S3BlobStore(settings.stratoflow_data_bucket, client=clients.s3)
    return CloudConsoleBackend(
        store,
        blobs,
        clients.stepfunctions,
        AccountRegion.from_arn(settings.stratoflow_admission_arn),
        settings.stratoflow_stack_name,
    )


def api_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as the app serves it: an IAM route's `/iam` prefix taken off its path."""
    event = dict(event)
    if not str(event.get("routeKey", "")).startswith(IAM_ROUTE_PREFIX):
        return event
    raw_path = str(event.get("rawPath", ""))
    if raw_path.startswith(IAM_PATH_PREFIX + "/"):
        event["rawPath"] = raw_path.removeprefix(IAM_PATH_PREFIX)
        context = dict(event.get("requestContext") or {})
        http = dict(context.get("http") or {})
        http["path"] = str(http.get("path", raw_path)).removeprefix(IAM_PATH_PREFIX)
        context["http"] = http
        event["requestContext"] = context
    return event


def stream_refused(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The answer to a signed-in caller's live log stream request (501, see above); None for any
    other request (the app answers it, a caller without identity with 401)."""
    from stratoflow.console.auth import Unauthorized
    from stratoflow.console.cloud_auth import principal_of_event

    if not str(event.get("rawPath", "")).endswith(STREAM_SUFFIX):
        return None
    try:
        principal_of_event(event)
    except Unauthorized:
        return None
    return {
        "statusCode": 501,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"message": STREAM_REFUSAL}),
    }


def console_handler(settings: Settings, backend: Any = None) -> LambdaHandler:
    """The Lambda entry point: API Gateway HTTP API event (payload 2.0) -> the console app's answer."""
    from mangum import Mangum

    from stratoflow.console.app import create_app
    from stratoflow.console.cloud_auth import authorize_from_api_gateway

    app = create_app(backend or cloud_console_backend(settings), authorize=authorize_from_api_gateway)
    asgi = Mangum(app, lifespan="off")

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = api_event(event)
        refused = stream_refused(request)
        if refused is not None:
            return refused
        answer: dict[str, Any] = asgi(request, context)
        return answer

    return handle
