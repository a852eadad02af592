"""Lambda tasks answered by in-process Python handlers, shaped as Step Functions sees real Lambda.

`LambdaIntegration` answers the optimized integration `arn:aws:states:::lambda:invoke` (and its
`.waitForTaskToken` variant: FunctionName and Payload in Parameters; the result is the Invoke
response, the return value under `Payload`) and plain Lambda ARNs as Resource (the state's
parameters are the event; the result is the return value).

Event and result travel as JSON, as they would over the wire. An exception raised by a handler
fails the task with the exception's class name as error (Lambda's `errorType`) and, as cause, the
JSON error document the Python runtime writes: `{"errorMessage", "errorType", "requestId",
"stackTrace"}`. An unknown function fails with `Lambda.ResourceNotFoundException`.
"""

from __future__ import annotations

import json
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stratoflow.engine.errors import TaskError
from stratoflow.engine.resources import WAIT_FOR_TASK_TOKEN, TaskCall

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
LAMBDA_ARN = "arn:aws:lambda:"
RESOURCE_PREFIXES = (LAMBDA_INVOKE, LAMBDA_ARN)
"""Route these prefixes to a LambdaIntegration in `Resources`."""

_MAX_RUNTIME_MS = 900_000

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The `context` argument of a handler, with the attributes Lambda's Python runtime provides."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    log_group_name: str = ""
    log_stream_name: str = "local"
    deadline: datetime | None = None
    # The local engine's only addition: set when the attempt no longer matters (TaskCall.cancelled).
    # Real Lambda has no such flag; the task runner reads its record instead (runner.kill_flag).
    cancelled: threading.Event | None = None

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline is None:
            return _MAX_RUNTIME_MS
        return max(0, int((self.deadline - datetime.now(UTC)).total_seconds() * 1000))


def function_name_candidates(name: str) -> list[str]:
    """Names to try for a FunctionName: as given, then the name inside an ARN or `name:qualifier`."""
    candidates = [name]
    if name.startswith("${"):
        return candidates
    parts = name.split(":")
    if name.startswith("arn:") and len(parts) >= 7:
        candidates.append(parts[6])
    elif "function:" in name:
        candidates.append(name.split("function:", 1)[1].split(":")[0])
    elif len(parts) > 1:
        candidates += [parts[0], parts[-1]]
    return candidates


class LambdaIntegration:
    """Answers Lambda tasks with in-process handlers `handler(event, context)`, keyed by function name."""

    def __init__(self, functions: Mapping[str, Handler]):
        self._functions = dict(functions)

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        if resource.startswith(LAMBDA_INVOKE):
            if not isinstance(parameters, dict) or not isinstance(parameters.get("FunctionName"), str):
                raise TaskError(
                    "Lambda.InvalidParameterValueException", "Parameters must include a FunctionName string"
                )
            request_id = str(uuid.uuid4())
            payload = self.call(parameters["FunctionName"], parameters.get("Payload", {}), call, request_id)
            if resource.endswith(WAIT_FOR_TASK_TOKEN):
                return None
            return invoke_response(payload, request_id)
        return self.call(resource, parameters, call, str(uuid.uuid4()))

    def call(self, function_name: str, event: Any, call: TaskCall, request_id: str) -> Any:
        """Run one function as Lambda would: JSON in, JSON out, errors as Lambda function errors."""
        handler, name = self._lookup(function_name)
        try:
            event = json.loads(json.dumps(event))
        except (TypeError, ValueError) as error:
            raise TaskError(
                "Lambda.InvalidRequestContentException", f"Could not serialize the payload: {error}"
            ) from None
        arn = (
            function_name
            if function_name.startswith("arn:")
            else f"arn:aws:lambda:local:000000000000:function:{name}"
        )
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=arn,
            aws_request_id=request_id,
            deadline=call.deadline,
            cancelled=call.cancelled,
        )
        try:
            result = handler(event, context)
        except Exception as error:
            raise TaskError(type(error).__name__, error_document(error, request_id)) from error
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as error:
            document = {
                "errorMessage": f"Unable to marshal response: {error}",
                "errorType": "Runtime.MarshalError",
                "requestId": request_id,
                "stackTrace": [],
            }
            raise TaskError("Runtime.MarshalError", json.dumps(document)) from None

    def _lookup(self, function_name: str) -> tuple[Handler, str]:
        for candidate in function_name_candidates(function_name):
            if candidate in self._functions:
                return self._functions[candidate], candidate
        raise TaskError(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {function_name} (known: {', '.join(sorted(self._functions)) or 'none'})",
        )


def error_document(error: BaseException, request_id: str) -> str:
    """The Cause Step Functions reports for an unhandled Python Lambda error."""
    document = {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
    }
    return json.dumps(document)


def invoke_response(payload: Any, request_id: str) -> dict[str, Any]:
    """The result of `lambda:invoke`, as Step Functions returns the Invoke API response."""
    headers = {
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {key: [value] for key, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }
