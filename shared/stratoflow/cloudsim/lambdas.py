"""Answer Lambda `Invoke` calls made under moto with in-process Python handlers.

moto cannot run Lambda code without Docker. `in_process_lambdas` registers a `before-send` hook,
first, on boto3's default session, so every client created afterwards (including the ones moto's
Step Functions interpreter creates for each Lambda task) gets Invoke answered by a Python handler:
its return value as the payload, or - when it raises - a Lambda function error
(`X-Amz-Function-Error: Unhandled` and the `{"errorMessage", "errorType", "requestId",
"stackTrace"}` document), so Step Functions sees the same error name and cause as on AWS.

Enter it after the moto mock has started (the mock replaces the default session) and before the
clients are created. Invocations of functions not in the mapping go on to moto.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from stratoflow.engine.lambdas import LambdaContext, error_document, function_name_candidates

Handler = Callable[[Any, Any], Any]
EVENT = "before-send.lambda.Invoke"
IN_PROCESS_URL = "https://answered-in-process.invalid/"


class _RawBody:
    """The minimal raw HTTP body botocore reads a response from."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_args: Any) -> bytes:
        body, self._body = self._body, b""
        return body


class InProcessLambdas:
    """The `before-send` hook: finds the handler named in the request URL and runs it."""

    def __init__(self, functions: Mapping[str, Handler]):
        self.functions = dict(functions)
        # Handlers of every function whose name starts with a prefix (the stack's sandbox functions).
        self.prefixes: dict[str, Handler] = {}
        self.invocations: list[tuple[str, Any]] = []
        self._in_flight = 0
        self._idle = threading.Condition()

    def wait_idle(self, seconds: float) -> bool:
        """Wait until no handler runs, at most `seconds`; whether none does.

        An execution may end while a task of it still runs (a flowable timed out around a script): on
        AWS the task runner goes on until its stop reaches the script's sandbox and its late end is
        discarded. The simulation waits for that before it ends the services it goes through."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=seconds)

    def __call__(self, request: AWSPreparedRequest, **_kwargs: Any) -> AWSResponse | None:
        raw = request.url.split("/functions/", 1)[1].split("/", 1)[0]
        name = unquote(raw)
        handler, found = self._lookup(name)
        if handler is None:
            return None  # not ours: let moto answer
        # botocore calls every before-send handler and keeps the first answer: moto sees the request
        # too, and would try to run a function it stores (the sandboxes) in Docker. It gets a host
        # outside AWS instead, which it leaves alone (a 404 from its Lambda backend, unread, cost
        # ~0.6 ms per invoke: not a cost on AWS, and it was counted in bench/script_tasks.py).
        request.url = IN_PROCESS_URL
        body = request.body or b"{}"
        if not isinstance(body, str | bytes | bytearray):
            body = body.read()  # a stream, as botocore may send a large payload
        event = json.loads(body)
        self.invocations.append((found, event))
        request_id = str(uuid.uuid4())
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:us-east-1:123456789012:function:{found}"
        context = LambdaContext(function_name=found, invoked_function_arn=arn, aws_request_id=request_id)
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": request_id}
        with self._idle:
            self._in_flight += 1
        try:
            payload = json.dumps(handler(event, context))
        except Exception as error:  # the function failed: answer as Lambda does for an unhandled error
            headers["X-Amz-Function-Error"] = "Unhandled"
            payload = error_document(error, request_id)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
        if request.headers.get("X-Amz-Invocation-Type") in ("Event", b"Event"):
            # botocore's parser reads the headers as a mapping; the stubs ask for its HTTPHeaders class.
            return AWSResponse(request.url, 202, {"x-amzn-RequestId": request_id}, _RawBody(b""))  # type: ignore[arg-type]
        return AWSResponse(request.url, 200, headers, _RawBody(payload.encode("utf-8")))  # type: ignore[arg-type]

    def _lookup(self, name: str) -> tuple[Handler | None, str]:
        for candidate in function_name_candidates(name):
            if candidate in self.functions:
                return self.functions[candidate], candidate
        for candidate in function_name_candidates(name):
            for prefix, handler in self.prefixes.items():
                if candidate.startswith(prefix) and ":" not in candidate:
                    return handler, candidate
        return None, name


@contextmanager
def in_process_lambdas(functions: Mapping[str, Handler]) -> Iterator[InProcessLambdas]:
    """Answer Lambda Invoke with `functions` (name -> handler(event, context)) while inside the block."""
    hook = InProcessLambdas(functions)
    events = boto3._get_default_session().events
    # A before-send handler answers a response; the stubs type handlers as returning None.
    events.register_first(EVENT, hook)  # type: ignore[arg-type]
    try:
        yield hook
    finally:
        events.unregister(EVENT, hook)  # type: ignore[arg-type]
