"""Executions with loops, run on moto's services by Stratoflow's engine instead of moto's interpreter.

moto's ASL interpreter (moto 5.2.6) cannot keep up with loops: it spends about 0.1 s of CPU per Map
iteration (its ANTLR and JSONPath parsers rebuilt as it goes) and, as issue 17 measured, fails an
inline Map of about a thousand items with `maximum recursion depth exceeded` and a 10,000-item one
with a timeout. A state machine with a Map state whose tasks are all the task runner (Lambda invoke)
and S3 objects (a distributed Map's ItemReader and ResultWriter) therefore runs on the local engine
here, the one the ASL semantics tests pin to Step Functions': its Lambda tasks call the same
in-process functions, which read and write DynamoDB and S3 on moto, and its ItemReader/ResultWriter
read and write moto's S3. The execution stays moto's: StartExecution creates it, DescribeExecution
and StopExecution work on it, and it ends with the engine's status, output and error, so the status
events, the CLI and the console see it as any other. Only its history is the engine's: counted (the
`--json` document's `historyEvents`), not listed by GetExecutionHistory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.stepfunctions.parser.api import ExecutionStatus, GetExecutionHistoryOutput
from moto.stepfunctions.parser.backend.execution import Execution as MotoExecution

from stratoflow.engine import LambdaIntegration, LocalEngine, Resources, TaskCall
from stratoflow.engine.engine import LocalExecution

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_s3 import S3Client

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
OBJECTS = ("arn:aws:states:::s3:getObject", "arn:aws:states:::s3:putObject")


def engine_runs_it(definition: Mapping[str, Any]) -> bool:
    """True when the definition has a Map state and only tasks the engine path answers."""
    has_map = False
    for state in _states(definition):
        if state.get("Type") == "Map":
            has_map = True
        if state.get("Type") == "Task":
            resource = str(state.get("Resource", ""))
            if resource != LAMBDA_INVOKE and resource not in OBJECTS:
                return False  # a callback (.waitForTaskToken), an SDK or .sync integration: moto's
    return has_map


def _states(machine: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for state in machine.get("States", {}).values():
        yield state
        for branch in state.get("Branches", []):
            yield from _states(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _states(processor)


class MotoObjects:
    """`s3:getObject` (the object's text) and `s3:putObject` (a Map's results, as a manifest) on moto."""

    def __init__(self, s3: S3Client):
        self.s3 = s3

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        if resource == OBJECTS[0]:
            body = self.s3.get_object(Bucket=parameters["Bucket"], Key=parameters["Key"])["Body"]
            return body.read().decode("utf-8")
        key = f"{parameters['Prefix'].rstrip('/')}/manifest.json"
        results = json.dumps(parameters["Results"], separators=(",", ":")).encode()
        self.s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=results)
        return {"Bucket": parameters["Bucket"], "Key": key}


class EngineRuns:
    """While installed, moto's executions of the state machines `engine_runs_it` accepts run on the
    local engine; `history_events(arn)` is what the engine counted for one of them (None: moto ran it)."""

    def __init__(self, functions: Mapping[str, Callable[[Any, Any], Any]], s3: S3Client):
        self._resources = Resources(
            {LAMBDA_INVOKE: LambdaIntegration(functions), "arn:aws:states:::s3:": MotoObjects(s3)}
        )
        self._running: dict[str, LocalExecution] = {}
        self._events: dict[str, int] = {}
        self._lock = threading.Lock()

    def history_events(self, execution_arn: str) -> int | None:
        with self._lock:
            return self._events.get(execution_arn)

    @contextmanager
    def installed(self) -> Iterator[None]:
        runs = self
        start, stop, history = MotoExecution.start, MotoExecution.stop, MotoExecution.to_history_output

        def start_execution(execution: MotoExecution) -> None:
            definition = json.loads(execution.state_machine.definition)
            if not engine_runs_it(definition):
                start(execution)
                return
            runs._start(execution, definition)

        def stop_execution(
            execution: MotoExecution, stop_date: datetime, error: str | None, cause: str | None
        ) -> None:
            running = runs._running.get(execution.exec_arn)
            if running is None:
                stop(execution, stop_date, error, cause)
                return
            running.stop(error or None, cause or None)

        def history_output(execution: MotoExecution) -> GetExecutionHistoryOutput:
            if execution.exec_arn in runs._running:
                return GetExecutionHistoryOutput(events=[])
            return history(execution)

        with (
            mock.patch.object(MotoExecution, "start", start_execution),
            mock.patch.object(MotoExecution, "stop", stop_execution),
            mock.patch.object(MotoExecution, "to_history_output", history_output),
        ):
            yield

    def _start(self, execution: MotoExecution, definition: dict[str, Any]) -> None:
        engine = LocalEngine(definition, self._resources, state_machine_name=execution.state_machine.name)
        execution.exec_status = ExecutionStatus.RUNNING
        running = engine.start(execution.input_data, name=execution.name)
        with self._lock:
            self._running[execution.exec_arn] = running

        def close() -> None:  # moto's execution ends as the engine's did
            result = running.wait()
            execution.output = result.output
            execution.error, execution.cause = result.error, result.cause
            execution.stop_date = datetime.now(UTC)
            with self._lock:
                self._events[execution.exec_arn] = result.history_events
            execution.exec_status = ExecutionStatus(result.status)

        threading.Thread(target=close, name=f"moto-engine-{execution.name}", daemon=True).start()
