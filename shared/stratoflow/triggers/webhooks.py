"""Webhooks: `GET|POST /webhook/{namespace}/{flowId}/{key}` starts an execution of the live flow.

The same logic answers on AWS (the webhook Lambda's function URL) and on a laptop (`strato server`):

* the key must be the `key` of an enabled Webhook trigger of the flow (a key of 16 characters or more,
  or `{{ secret('NAME') }}`: the secret of the flow's namespace, read when a request comes), compared
  in constant time; an unknown flow, a wrong key and a disabled trigger all get the same 404;
* a body over `max_body_bytes` gets 413 (it would be kept on the execution as `trigger.body`), a JSON
  body nested deeper than `MAX_JSON_DEPTH` 400, an invalid `Content-Length` 400 (`content_length`);
  a client's mistake is answered, never logged with a traceback;
* the execution sees `trigger.body` (parsed when it is JSON), `trigger.headers` and
  `trigger.parameters` (Kestra's shapes: header and parameter values are lists; credentials headers
  are dropped), and the trigger's `inputs` rendered with them;
* the response carries the execution id; with the trigger's `wait: true` or `?wait=true` it waits (at
  most `wait_seconds`) for the execution to end and returns its state and outputs, else 202 with the
  id; `returnOutputs: true` answers the flow's outputs alone, `responseContentType` sets the
  response's content type (Kestra's properties);
* an `Idempotency-Key` header names the execution: a retried request starts one execution.

The start goes through admission through an injected `start(namespace, flow_id, inputs, trigger,
execution_id) -> Execution`: the local platform admits in-process, the Lambda invokes admission.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs

from pydantic import JsonValue

from stratoflow.domain import Execution
from stratoflow.errors import InputError, StratoflowError
from stratoflow.execution.admission import FlowDisabledError
from stratoflow.execution.deliveries import TriggerSkipped
from stratoflow.execution.flows import live_flow
from stratoflow.execution.ids import new_execution_id
from stratoflow.execution.secrets import SecretSource
from stratoflow.flow import Flow, Webhook
from stratoflow.flow.triggers import secret_key_name
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore
from stratoflow.store.rules import ItemTooLargeError
from stratoflow.triggers.events import event_execution_id

# The body is kept on the execution record (`trigger.body`), which the store keeps under 350 KiB.
MAX_BODY_BYTES = 256 * 1024
# Deeper JSON is refused before parsing: Python's parser recurses once per level.
MAX_JSON_DEPTH = 64
# Under the webhook Lambda's 30 s timeout, with room to answer.
WAIT_SECONDS = 25.0
POLL_SECONDS = 0.5
METHODS = ("GET", "POST")
# Credentials of the caller are not the flow's business and must not be stored with the execution.
DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
IDEMPOTENCY_HEADER = "idempotency-key"
REFUSED = "REFUSED"  # the state admission answers when it refuses a start

StartFn = Callable[[str, str, dict[str, Any], dict[str, Any], str], Execution]

logger = logging.getLogger(__name__)


class StartRefused(StratoflowError):
    """Admission refused the start; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


# Refusals by admission, by error class name (names travel in Lambda's `errorType` too).
REFUSAL_STATUS = {
    InputError.__name__: 400,
    FlowDisabledError.__name__: 409,
    TriggerSkipped.__name__: 409,
    ItemTooLargeError.__name__: 413,
}


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    path: str
    parameters: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})

    def text(self) -> str:
        return json.dumps(self.body, default=str)


NOT_FOUND = WebhookResponse(404, {"message": "Not Found"})
INTERNAL_ERROR = WebhookResponse(500, {"message": "Internal Server Error"})


def parse_path(path: str) -> tuple[str, str, str] | None:
    """(namespace, flowId, key) of `/webhook/{ns}/{flowId}/{key}` (also under Kestra's
    `/api/v1/executions/webhook/...`); None for any other path."""
    parts = [part for part in path.split("/") if part]
    if len(parts) < 4 or parts[-4] != "webhook" or parts[:-4] not in ([], ["api", "v1", "executions"]):
        return None
    namespace, flow_id, key = parts[-3:]
    return namespace, flow_id, key


def _digest(key: str) -> bytes:
    # Hashed first, so the comparison takes the same time whatever the lengths of the two keys.
    return hashlib.sha256(key.encode()).digest()


def trigger_key(flow: Flow, trigger: Webhook, secrets: SecretSource) -> str | None:
    """The key a trigger expects: its own, or the value of its `{{ secret('NAME') }}` in the flow's
    namespace (None when that secret cannot be read: nobody can call the webhook)."""
    name = secret_key_name(trigger.key)
    if name is None:
        return trigger.key
    try:
        return secrets.get(flow.namespace, name)
    except StratoflowError as error:  # the operator's mistake, not the caller's: one line, no traceback
        logger.warning(
            "webhook %s of %s.%s: its key secret cannot be read: %s",
            trigger.id,
            flow.namespace,
            flow.id,
            error,
        )
        return None


def matching_webhook(flow: Flow, key: str, secrets: SecretSource) -> Webhook | None:
    """The enabled Webhook trigger of `flow` whose key is `key` (every key compared, in constant time)."""
    found = None
    given = _digest(key)
    for trigger in flow.triggers:
        if not isinstance(trigger, Webhook) or trigger.disabled:
            continue
        expected = trigger_key(flow, trigger, secrets)
        # compare_digest on every enabled webhook: no early exit that timing could reveal.
        if expected and hmac.compare_digest(_digest(expected), given):
            found = trigger
    return found


def content_length(values: list[str] | None) -> int:
    """The request's `Content-Length` (0 when absent); ValueError for anything but one decimal number
    (or repeats of the same one), which the caller answers with 400."""
    distinct = {value.strip() for value in values or []}
    if not distinct:
        return 0
    if len(distinct) > 1:
        raise ValueError("conflicting Content-Length headers")
    (value,) = distinct
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise ValueError(f"invalid Content-Length {value[:40]!r}")
    return int(value)


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit` (strings skipped), in one pass."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def parse_body(body: bytes, headers: dict[str, list[str]]) -> JsonValue:
    """The body as JSON when it is JSON, else as text; None when empty. ValueError when not UTF-8 or
    nested deeper than MAX_JSON_DEPTH."""
    if not body:
        return None
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    content_type = ",".join(headers.get("content-type", [])).lower()
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        if json_depth_exceeds(text):
            raise ValueError(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            parsed: JsonValue = json.loads(text)
            return parsed
        except (json.JSONDecodeError, RecursionError):
            if "json" in content_type:
                raise ValueError("the body is not valid JSON") from None
    return text


class Webhooks:
    """Answers webhook requests; `sleep` and `monotonic` are injectable so `?wait=true` tests need no time."""

    def __init__(
        self,
        store: ExecutionStore,
        start: StartFn,
        *,
        secrets: SecretSource,
        max_body_bytes: int = MAX_BODY_BYTES,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wait_for_end: Callable[[str, float], bool] | None = None,
    ) -> None:
        """`wait_for_end(execution_id, seconds)` returns as soon as the execution ends (or after
        `seconds`), False when the caller should stop waiting (the server stops); without it, a waited
        request re-reads the execution every `poll_seconds`."""
        self.store = store
        self.secrets = secrets  # a key written `{{ secret(...) }}` is read here
        self.start = start
        self.max_body_bytes = max_body_bytes
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._wait_for_end = wait_for_end

    def handle(self, request: WebhookRequest) -> WebhookResponse:
        if request.method.upper() not in METHODS:
            return WebhookResponse(
                405,
                {"message": "Method Not Allowed"},
                {"content-type": "application/json", "allow": ", ".join(METHODS)},
            )
        target = parse_path(request.path)
        if target is None:
            return NOT_FOUND
        if len(request.body) > self.max_body_bytes:
            return self.too_large()
        try:
            content_length(request.headers.get("content-length"))
        except ValueError as error:
            return WebhookResponse(400, {"message": str(error)})
        namespace, flow_id, key = target
        flow = live_flow(self.store, namespace, flow_id)
        trigger = matching_webhook(flow, key, self.secrets) if flow is not None else None
        if flow is None or trigger is None:
            return NOT_FOUND
        try:
            body = parse_body(request.body, request.headers)
        except ValueError as error:
            return WebhookResponse(400, {"message": f"unreadable body: {error}"})
        delivery = {
            "id": trigger.id,
            "type": trigger.type_name,
            "body": body,
            "headers": {k: v for k, v in request.headers.items() if k not in DROPPED_HEADERS},
            "parameters": request.parameters,
        }
        idempotency = request.headers.get(IDEMPOTENCY_HEADER)
        execution_id = (
            event_execution_id(namespace, flow_id, trigger.id, idempotency[0])
            if idempotency
            else new_execution_id()
        )
        try:
            execution = self.start(namespace, flow_id, {}, delivery, execution_id)
        except StartRefused as refused:
            return WebhookResponse(refused.status, {"message": str(refused)})
        except StratoflowError as error:
            status = REFUSAL_STATUS.get(type(error).__name__)
            if status is None:
                logger.exception("webhook start of %s.%s failed", namespace, flow_id)
                return INTERNAL_ERROR
            return WebhookResponse(status, {"message": str(error)})
        headers = {"content-type": trigger.response_content_type or "application/json"}
        if trigger.wait or _truthy(request.parameters.get("wait")):
            return self._waited(execution, trigger.return_outputs, headers)
        return WebhookResponse(200, _summary(execution), headers)

    def too_large(self) -> WebhookResponse:
        """413: what a body over the limit gets (an HTTP server may answer it before reading the body)."""
        return WebhookResponse(413, {"message": f"the body is larger than {self.max_body_bytes} bytes"})

    def _waited(self, execution: Execution, outputs_only: bool, headers: dict[str, str]) -> WebhookResponse:
        deadline = self._monotonic() + self.wait_seconds
        current = execution
        while not current.state.is_terminal:
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return WebhookResponse(202, _summary(current), headers)
            # Also re-read every poll: another process may run the execution (a queued one promoted).
            if self._wait_for_end is None:
                self._sleep(self.poll_seconds)
            elif not self._wait_for_end(execution.id, min(remaining, self.poll_seconds)):
                current = self.store.get_execution(execution.id) or current
                status = 200 if current.state.is_terminal else 202
                return WebhookResponse(status, _waited_body(current, outputs_only), headers)
            current = self.store.get_execution(execution.id) or current
        return WebhookResponse(200, _waited_body(current, outputs_only), headers)


def _waited_body(execution: Execution, outputs_only: bool = False) -> dict[str, Any]:
    if not execution.state.is_terminal:
        return _summary(execution)
    if outputs_only and execution.state in (State.SUCCESS, State.WARNING):
        return dict(execution.outputs)
    # A failed execution answers its state and error, even with returnOutputs: the caller must see it.
    return {**_summary(execution), "outputs": execution.outputs}


def _summary(execution: Execution) -> dict[str, Any]:
    summary = {
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "state": str(execution.state),
    }
    if execution.error:
        summary["error"] = execution.error
    return summary


def _truthy(values: list[str] | None) -> bool:
    return values is not None and len(values) > 0 and values[-1].lower() in ("", "true", "1", "yes")


# --- AWS: Lambda function URL events and the admission Lambda ---------------------------------


def request_from_function_url(event: Mapping[str, JsonValue]) -> WebhookRequest:
    """A Lambda function URL event (payload 2.0) as a WebhookRequest."""
    body = str(event.get("body") or "")
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    # Function URLs join repeated headers with commas; names are lower-case already.
    headers = {str(k).lower(): [str(v)] for k, v in _object(event.get("headers")).items()}
    http = _object(_object(event.get("requestContext")).get("http"))
    return WebhookRequest(
        method=str(http.get("method", "GET")),
        path=str(event.get("rawPath", "/")),
        parameters=parse_qs(str(event.get("rawQueryString") or ""), keep_blank_values=True),
        headers=headers,
        body=data,
    )


def _object(value: JsonValue) -> dict[str, JsonValue]:
    """A JSON object of the event, or an empty one where it has none (a header-less request)."""
    return value if isinstance(value, dict) else {}


def function_url_response(response: WebhookResponse) -> dict[str, JsonValue]:
    headers: dict[str, JsonValue] = {**response.headers}
    return {"statusCode": response.status, "headers": headers, "body": response.text()}


class LambdaInvoker(Protocol):
    """What `admission_start` needs of a boto3 Lambda client."""

    def invoke(
        self, *, FunctionName: str, InvocationType: Literal["RequestResponse"], Payload: str
    ) -> Mapping[str, object]:
        """boto3's answer: `Payload` a stream of the function's JSON answer, `FunctionError` when it raised."""


def admission_start(lambda_client: LambdaInvoker, function_arn: str, store: ExecutionStore) -> StartFn:
    """A `start` that invokes the admission Lambda synchronously, then reads the recorded execution.

    Admission's event is `{namespace, flowId, inputs, labels, trigger, executionId}`; it answers
    `{state: "REFUSED", error, input?}` when it refuses, and an error it raises comes back as
    Lambda's `errorType`: both become the matching refusal.
    """

    def start(
        namespace: str, flow_id: str, inputs: dict[str, Any], trigger: dict[str, Any], execution_id: str
    ) -> Execution:
        event = {
            "namespace": namespace,
            "flowId": flow_id,
            "inputs": inputs,
            "labels": {},
            "trigger": trigger,
            "executionId": execution_id,
        }
        response = lambda_client.invoke(
            FunctionName=function_arn,
            InvocationType="RequestResponse",
            Payload=json.dumps(event, default=str),
        )
        payload = _answer(response["Payload"])
        if response.get("FunctionError"):
            error_type = str(payload.get("errorType", ""))
            message = str(payload.get("errorMessage", "admission failed"))
            status = REFUSAL_STATUS.get(error_type)
            if status is None:
                raise StratoflowError(f"admission failed: {error_type}: {message}")
            raise StartRefused(status, message)
        if payload.get("state") == REFUSED:
            # Admission answers a refusal (nothing recorded): an input names a bad request.
            raise StartRefused(400 if payload.get("input") else 409, str(payload.get("error", "refused")))
        execution: Execution | None = store.get_execution(execution_id)
        if execution is None:
            raise StratoflowError(f"admission answered but recorded no execution {execution_id}")
        return execution

    return start


def _answer(stream: object) -> dict[str, JsonValue]:
    """The JSON object a Lambda answered, from boto3's stream of it (none for an empty answer)."""
    read = getattr(stream, "read", None)
    answer = json.loads((read() if callable(read) else b"") or b"null")
    return answer if isinstance(answer, dict) else {}
