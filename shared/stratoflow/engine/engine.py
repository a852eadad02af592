"""`LocalEngine`: runs a state machine definition in-process, as Step Functions would."""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stratoflow.engine.build import build
from stratoflow.engine.clock import Clock, RealClock
from stratoflow.engine.errors import RUNTIME, Cancelled, InvalidDefinition, StateFailure
from stratoflow.engine.events import EngineEvent, Listener
from stratoflow.engine.machine import Machine, run_machine
from stratoflow.engine.resources import ResourceHandler
from stratoflow.engine.runtime import PAYLOAD_LIMIT, Run, TokenRegistry, payload_size
from stratoflow.engine.validate import validate_definition
from stratoflow.engine.waiter import answer, heartbeat

log = logging.getLogger(__name__)

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
TIMED_OUT = "TIMED_OUT"
ABORTED = "ABORTED"
_END_EVENTS = {
    SUCCEEDED: "ExecutionSucceeded",
    FAILED: "ExecutionFailed",
    TIMED_OUT: "ExecutionTimedOut",
    ABORTED: "ExecutionAborted",
}
MAX_EXECUTION_NAME = 80


@dataclass(frozen=True)
class ExecutionResult:
    """How an execution ended; `output` is set only when it SUCCEEDED."""

    name: str
    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    start_date: datetime
    stop_date: datetime
    transitions: int
    """State transitions as Step Functions bills them: every state entered (in Map iterations and
    Parallel branches too) and every retry."""
    history_events: int = 0
    """History events as Step Functions counts them (recorded or not), the execution's end included."""
    largest_payload: int = 0
    """Bytes of the largest state input, result or output the execution passed (UTF-8 JSON)."""
    history: list[EngineEvent] = field(default_factory=list)
    """Events, when the engine records history (`record_history=True`)."""

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED


class LocalExecution:
    """One execution, running on its own thread (`LocalEngine.start`) or the caller's (`LocalEngine.run`)."""

    def __init__(self, engine: LocalEngine, run: Run, machine: Machine, execution_input: Any):
        self._engine = engine
        self._run = run
        self._machine = machine
        self._input = execution_input
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._result: ExecutionResult | None = None
        self.name = run.name
        self.execution_arn = run.execution_arn

    @property
    def status(self) -> str:
        return self._result.status if self._result is not None else RUNNING

    def wait(self, timeout: float | None = None) -> ExecutionResult:
        """Block until the execution ends (real seconds); raises TimeoutError if it does not in time."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"execution '{self.name}' still running after {timeout} s")
        assert self._result is not None
        return self._result

    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """Abort the execution (StopExecution): it is ABORTED at once; running tasks see `call.cancelled`."""
        self._run.end(ABORTED, error, cause)
        self._finish(ABORTED, None, error, cause)

    def owns_token(self, token: str) -> bool:
        """True while a task of this execution waits on `token`."""
        waiter = self._run.tokens.get(token)
        return waiter is not None and waiter.owner == self.execution_arn

    def waits_for_token(self) -> bool:
        """True while a task of this execution waits on a task token (a paused task, a callback)."""
        return self._run.tokens.any_owned_by(self.execution_arn)

    def send_task_success(self, token: str, output: Any) -> None:
        self._engine.send_task_success(token, output)

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        self._engine.send_task_failure(token, error, cause)

    def send_task_heartbeat(self, token: str) -> None:
        self._engine.send_task_heartbeat(token)

    def execute(self) -> None:
        """Run the state machine to its end on the calling thread."""
        run = self._run
        run.begin()
        run.emit("ExecutionStarted", input=self._input)
        watchdog = self._start_watchdog()
        try:
            output = run_machine(self._machine, self._input, run, run.root)
            self._finish(SUCCEEDED, output, None, None)
        except StateFailure as failure:
            self._finish(FAILED, None, failure.error or None, failure.cause)
        except Cancelled:
            status, error, cause = run.outcome or (ABORTED, None, None)
            self._finish(status, None, error, cause)
        except Exception as error:  # an engine bug: report it on the execution rather than lose the thread
            log.exception("execution %s crashed", self.name)
            self._finish(FAILED, None, RUNTIME, f"Internal error of the local engine: {error!r}")
        finally:
            if watchdog is not None:
                watchdog.set()

    def _start_watchdog(self) -> threading.Event | None:
        """On a real clock, time the execution out even while a task handler hangs."""
        run = self._run
        if run.deadline is None or run.clock.virtual:
            return None
        done = threading.Event()

        def watch() -> None:
            run.clock.sleep(max(run.remaining(), 0.0), done)
            if not done.is_set():
                run.time_out()
                status, error, cause = run.outcome or (TIMED_OUT, None, None)
                self._finish(status, None, error, cause)

        threading.Thread(target=watch, name=f"timeout-{self.name}", daemon=True).start()
        return done

    def _finish(self, status: str, output: Any, error: str | None, cause: str | None) -> None:
        run = self._run
        with self._lock:
            if self._result is not None:
                return
            if status == SUCCEEDED:
                run.emit(_END_EVENTS[status], output=output)
            else:
                run.emit(_END_EVENTS[status], error=error, cause=cause)
            run.finished = True
            self._result = ExecutionResult(
                name=run.name,
                execution_arn=run.execution_arn,
                status=status,
                output=output,
                error=error,
                cause=cause,
                start_date=run.start,
                stop_date=run.clock.now(),
                transitions=run.transitions,
                history_events=run.events,
                largest_payload=run.largest_payload,
                history=list(run.history or []),
            )
        run.root.cancel()  # whatever still runs (a hung handler's branch) stops at its next step
        self._done.set()


class LocalEngine:
    """Runs one ASL definition (JSONPath, inline Map) in-process; Task states go to `resources`.

    `clock` defaults to the wall clock; give a `VirtualClock` to skip waits. `listener` receives
    every history event as it happens, on the thread that produced it.
    """

    def __init__(
        self,
        definition: dict[str, Any] | str,
        resources: ResourceHandler,
        clock: Clock | None = None,
        listener: Listener | None = None,
        *,
        record_history: bool = False,
        state_machine_name: str = "StateMachine",
    ):
        if isinstance(definition, str):
            definition = json.loads(definition)
        problems = validate_definition(definition)
        if problems:
            raise InvalidDefinition(problems)
        assert isinstance(definition, dict)
        self.definition = definition
        self.resources = resources
        self.clock: Clock = clock or RealClock()
        self.listener = listener
        self.record_history = record_history
        self.state_machine_name = state_machine_name
        self.state_machine_arn = f"arn:aws:states:local:000000000000:stateMachine:{state_machine_name}"
        self._machine = build(definition)
        self._tokens = TokenRegistry()

    def start(
        self,
        input: Any,
        name: str | None = None,
        before_start: Callable[[LocalExecution], None] | None = None,
    ) -> LocalExecution:
        """Start an execution on a background thread. `before_start` gets the execution before its
        first state runs: whoever answers its task tokens must know it by then, since a task of its
        own (a Dag task completing a waiting one) may send one at once."""
        execution = self._prepare(input, name)
        if before_start is not None:
            before_start(execution)
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(execution.execute,), name=f"execution-{execution.name}", daemon=True
        ).start()
        return execution

    def run(self, input: Any, name: str | None = None) -> ExecutionResult:
        """Run an execution to its end on the calling thread."""
        execution = self._prepare(input, name)
        execution.execute()
        return execution.wait()

    def send_task_success(self, token: str, output: Any) -> None:
        """Complete the `.waitForTaskToken` task holding `token` with `output` as its result."""
        try:
            payload_size(output)
        except (TypeError, ValueError) as error:
            raise ValueError(f"task output must be JSON: {error}") from None
        answer(self._tokens.get(token), token, True, output)

    def send_task_failure(self, token: str, error: str | None = None, cause: str | None = None) -> None:
        answer(self._tokens.get(token), token, False, error or "", cause)

    def send_task_heartbeat(self, token: str) -> None:
        heartbeat(self._tokens.get(token), token)

    def _prepare(self, execution_input: Any, name: str | None) -> LocalExecution:
        name = name or str(uuid.uuid4())
        if not 0 < len(name) <= MAX_EXECUTION_NAME:
            raise ValueError(f"execution names have 1 to {MAX_EXECUTION_NAME} characters, got {len(name)}")
        try:
            size = payload_size(execution_input)
        except (TypeError, ValueError) as error:
            raise ValueError(f"execution input must be JSON: {error}") from None
        if size > PAYLOAD_LIMIT:
            raise ValueError(f"execution input is {size} bytes, over the {PAYLOAD_LIMIT}-byte limit")
        execution_input = json.loads(json.dumps(execution_input))
        run = Run(
            clock=self.clock,
            resources=self.resources,
            listener=self.listener,
            record_history=self.record_history,
            name=name,
            execution_arn=f"arn:aws:states:local:000000000000:execution:{self.state_machine_name}:{name}",
            state_machine_arn=self.state_machine_arn,
            state_machine_name=self.state_machine_name,
            execution_input=execution_input,
            timeout_seconds=self.definition.get("TimeoutSeconds"),
            tokens=self._tokens,
        )
        run.largest_payload = size
        return LocalExecution(self, run, self._machine, execution_input)
