"""The console as a Lambda function behind API Gateway's HTTP API (infra/constructs/console.py).

`console_handler(settings)` builds, at cold start, the console app over the stack
(`CloudConsoleBackend`, lazy clients) with the API Gateway authorizer (`cloud_auth`) and wraps it with
Mangum. Two things differ from `strato server`:

- the IAM routes `/iam/api/...` (SigV4 callers) serve the same API as `/api/...`: the prefix is taken
  off when the route API Gateway matched is an IAM one (never because of the path alone);
- live logs: a Lambda behind API Gateway answers each request once (a buffered response, at most 29
  s), so the server-sent event stream cannot stay open. Its request is answered at once with the
  lines written so far (each with its cursor as the event id), the state, `end` when the execution
  has ended, and `retry: 2000`: the browser's EventSource asks again 2 s later with `Last-Event-ID`
  and gets the lines since. The pages are the same as on a laptop; lines arrive every ~2 s instead
  of at once. Programs can poll `GET .../logs?after=<nextCursor>` the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.lazy import LazyAwsClients
from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.config.settings import Settings
from stratoflow.console.app import create_app, status_of
from stratoflow.console.auth import Unauthorized
from stratoflow.console.cloud_auth import authorize_from_api_gateway, principal_of_event
from stratoflow.console.cloud_backend import CloudConsoleBackend
from stratoflow.console.routes_executions import LOG_PAGE, _event, _log_page, readable_execution
from stratoflow.errors import StratoflowError
from stratoflow.store.dynamo import DynamoExecutionStore
from stratoflow.store.s3 import S3BlobStore

IAM_ROUTE_PREFIX = "ANY /iam/"
IAM_PATH_PREFIX = "/iam"
EXECUTIONS_PATH = "/api/v1/executions/"
STREAM_SUFFIX = "/logs/stream"
# How long a browser waits before asking a stream again (EventSource's `retry`).
STREAM_RETRY_MS = 2000

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def cloud_console_backend(settings: Settings, clients: AwsClients | None = None) -> CloudConsoleBackend:
    """The backend over the stack the settings name; clients are made on their first use."""

    if not settings.stratoflow_admission_arn:
        raise ValueError(
            "STRATOFLOW_ADMISSION_ARN is not set: the console needs the stack's account and region"
        )
    clients = clients or LazyAwsClients()
    blobs = S3BlobStore(settings.stratoflow_data_bucket, client=clients.s3)
    store = DynamoExecutionStore(
        settings.stratoflow_table_name,
        client=clients.dynamodb,
        history_days=settings.stratoflow_history_days,
        flow_blobs=blobs,
    )
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


def stream_once(event: Mapping[str, Any], backend: Any) -> dict[str, Any] | None:
    """A signed-in caller's live log stream request, answered with what there is now (see above);
    None for any other request (the app answers it, a caller without identity with 401)."""

    path = str(event.get("rawPath", ""))
    if not (path.startswith(EXECUTIONS_PATH) and path.endswith(STREAM_SUFFIX)):
        return None
    try:
        caller = principal_of_event(event)
    except Unauthorized:
        return None
    execution_id = unquote(path[len(EXECUTIONS_PATH) : -len(STREAM_SUFFIX)])
    query = {name: values[-1] for name, values in parse_qs(str(event.get("rawQueryString", ""))).items()}
    headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
    cursor = headers.get("last-event-id") or query.get("after")
    store = backend.store
    try:
        readable_execution(store, caller, execution_id)
        page = _log_page(store, execution_id, query.get("taskId"), query.get("level"), cursor, LOG_PAGE)
        execution = store.get_execution(execution_id)
    except StratoflowError as error:
        return _answer(status_of(error), "application/json", json.dumps({"message": str(error)}))
    body = [f"retry: {STREAM_RETRY_MS}\n\n".encode()]
    body += [_event("log", line.model_dump_json(), line.cursor) for line in page.logs]
    ended = execution is None or (execution.state.is_terminal and len(page.logs) < LOG_PAGE)
    state = json.dumps({"state": str(execution.state) if execution else None})
    if cursor is None or page.logs or ended:  # the page refreshes on `state`: only when it may have moved
        body.append(_event("state", state))
    if ended:
        body.append(_event("end", state))
    return _answer(200, "text/event-stream", b"".join(body).decode())


def _answer(status: int, kind: str, body: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": kind, "cache-control": "no-store"},
        "body": body,
    }


def console_handler(settings: Settings, backend: Any = None) -> LambdaHandler:
    """The Lambda entry point: API Gateway HTTP API event (payload 2.0) -> the console app's answer."""
    from mangum import Mangum

    app = create_app(backend or cloud_console_backend(settings), authorize=authorize_from_api_gateway)
    asgi = Mangum(app, lifespan="off")

    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = api_event(event)
        streamed = stream_once(request, app.state.backend)
        if streamed is not None:
            return streamed
        answer: dict[str, Any] = asgi(request, context)
        return answer

    return handle
