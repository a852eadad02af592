"""The Task state: invoking the resource handler, task timeouts and heartbeats, and `.waitForTaskToken`.

Three ways to run an attempt, cheapest first:

- no TimeoutSeconds/HeartbeatSeconds, no token and no `.sync` job: the handler runs on the state's
  own thread;
- a timeout, a heartbeat or a `.sync` job (a child execution) with a synchronous handler: on a virtual clock the handler runs inline and
  its virtual duration is checked when it returns (it takes clock time only by sleeping on
  `call.clock`); on a real clock it runs on a helper thread that is abandoned when it times out, as
  Step Functions abandons a Lambda invocation;
- `.waitForTaskToken`: the handler runs inline (its return value is ignored), then the state waits
  for `send_task_success`/`send_task_failure`, kept alive by `send_task_heartbeat`, until
  TimeoutSeconds (States.Timeout) or HeartbeatSeconds without a heartbeat (States.HeartbeatTimeout).
  On a virtual clock a wait with a deadline expires at once unless the token was already answered:
  answer it from the handler, or give the state no deadline.
"""

from __future__ import annotations

import contextvars
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from stratoflow.engine.errors import (
    RUNTIME,
    TIMEOUT,
    Cancelled,
    StateFailure,
    TaskError,
    UnknownResource,
)
from stratoflow.engine.paths import compile_path
from stratoflow.engine.recovery import RecoverableState, Recovery
from stratoflow.engine.resources import WAIT_FOR_TASK_TOKEN, TaskCall
from stratoflow.engine.runtime import CancelScope, Run, StateContext
from stratoflow.engine.states import ResultPlacement, template
from stratoflow.engine.waiter import TaskWaiter


class TaskState(RecoverableState):
    kind = "Task"

    def __init__(self, name: str, spec: dict[str, Any]):
        super().__init__(name, spec)
        self.resource: str = spec["Resource"]
        self.parameters = template(spec, "Parameters")
        self.result_selector = template(spec, "ResultSelector")
        self.placement = ResultPlacement(spec)
        self.recovery = Recovery(spec)
        self.token_task = self.resource.endswith(WAIT_FOR_TASK_TOKEN)
        self.timeout: int | None = spec.get("TimeoutSeconds")
        self.heartbeat: int | None = spec.get("HeartbeatSeconds")
        self.timeout_path = compile_path(spec["TimeoutSecondsPath"]) if "TimeoutSecondsPath" in spec else None
        self.heartbeat_path = (
            compile_path(spec["HeartbeatSecondsPath"]) if "HeartbeatSecondsPath" in spec else None
        )
        prefix = "LambdaFunction" if self.resource.startswith("arn:aws:lambda:") else "Task"
        self.scheduled, self.started, self.succeeded = (
            f"{prefix}{e}" for e in ("Scheduled", "Started", "Succeeded")
        )
        self.failed, self.timed_out = f"{prefix}Failed", f"{prefix}TimedOut"
        # A `.sync` integration (ECS, Batch, child executions): Step Functions records that the job was
        # submitted before it records how it ended.
        self.sync_task = ".sync" in self.resource

    def _attempt(self, raw: Any, run: Run, scope: CancelScope, entered_id: int, context: StateContext) -> Any:
        data = self.select(self.input_path, raw, context, entered_id)
        if self.token_task:
            context.token = str(uuid.uuid4())
        parameters = (
            data if self.parameters is None else self.render(self.parameters, data, context, entered_id)
        )
        if parameters is not raw:
            run.check_size(parameters, self.name, "input")
        timeout = self._seconds(self.timeout, self.timeout_path, data, context, entered_id)
        heartbeat = self._seconds(self.heartbeat, self.heartbeat_path, data, context, entered_id)
        run.emit(
            self.scheduled,
            self.name,
            resource=self.resource,
            parameters=parameters,
            timeoutInSeconds=timeout,
            heartbeatInSeconds=heartbeat,
        )
        run.emit(self.started, self.name, resource=self.resource)
        # A `.sync` job is waited for like a timed task, so that the state can stop waiting for it (a
        # timeout around it, a failed sibling branch) and the job's handler see its attempt cancelled.
        if timeout is None and heartbeat is None and not self.token_task and not self.sync_task:
            result = self._call_inline(run, scope, parameters, context, entered_id)
        else:
            result = self._call_waiting(run, scope, parameters, context, entered_id, timeout, heartbeat)
        run.emit(self.succeeded, self.name, resource=self.resource, output=result)
        run.check_size(result, self.name, "result")
        if self.result_selector is not None:
            result = self.render(self.result_selector, result, context, entered_id)
        output = self.place(self.placement, raw, result, entered_id)
        output = self.select(self.output_path, output, context, entered_id)
        if output is not raw:
            run.check_size(output, self.name, "output")
        return output

    def _seconds(
        self, value: int | None, path: Any, data: Any, context: StateContext, entered_id: int
    ) -> int | None:
        if path is None:
            return value
        found = self.select(path.find, data, context, entered_id)
        if isinstance(found, bool) or not isinstance(found, int) or found < 1:
            raise self.runtime_failure(
                entered_id, f"The path '{path.text}' must select a positive integer, got {found!r}"
            )
        return found

    def _call(self, run: Run, parameters: Any, call: TaskCall, entered_id: int) -> Any:
        """Invoke the handler; failures become StateFailure (with the TaskFailed event)."""
        try:
            result = run.resources.invoke(self.resource, parameters, call)
            if self.sync_task:
                run.emit("TaskSubmitted", self.name, resource=self.resource)
            return result
        except Cancelled:
            raise
        except TaskError as error:
            if self.sync_task and error.error == "States.TaskFailed":  # the job ran, and failed
                run.emit("TaskSubmitted", self.name, resource=self.resource)
            failure = StateFailure(error.error, error.cause)
        except UnknownResource as error:
            failure = self.runtime_failure(entered_id, str(error))
        except Exception as error:  # a handler's own exception fails the task, as Lambda reports errorType
            failure = StateFailure(type(error).__name__, str(error))
        run.emit(self.failed, self.name, resource=self.resource, error=failure.error, cause=failure.cause)
        raise failure

    def _task_call(
        self, run: Run, context: StateContext, cancelled: threading.Event, timeout: int | None
    ) -> TaskCall:
        deadline = None
        if timeout is not None:
            deadline = datetime.fromtimestamp(run.clock.now().timestamp() + timeout, UTC)
        return TaskCall(
            run.name,
            run.execution_arn,
            self.name,
            context.retry_count,
            context.token,
            cancelled,
            run.clock,
            deadline,
        )

    def _call_inline(
        self, run: Run, scope: CancelScope, parameters: Any, context: StateContext, entered_id: int
    ) -> Any:
        result = self._call(run, parameters, self._task_call(run, context, scope.event, None), entered_id)
        run.check(scope)
        return result

    def _call_waiting(
        self,
        run: Run,
        scope: CancelScope,
        parameters: Any,
        context: StateContext,
        entered_id: int,
        timeout: int | None,
        heartbeat: int | None,
    ) -> Any:
        attempt_scope = CancelScope(scope)
        waiter = TaskWaiter(run.clock, timeout, heartbeat, owner=run.token_owner)
        attempt_scope.add_callback(waiter.wake.set)
        call = self._task_call(run, context, attempt_scope.event, timeout)
        if context.token is not None:
            run.tokens.add(context.token, waiter)
        try:
            if self.token_task or run.clock.virtual:
                self._run_inline(run, parameters, call, entered_id, waiter)
            else:
                self._run_on_helper(run, parameters, call, entered_id, waiter)
            # The invocation returned, so the task was submitted: Step Functions records that even when
            # the callback already came back during the invocation (only a failed invocation is not).
            invoke_failed = waiter.result is not None and waiter.result[3]
            if self.token_task and not invoke_failed:
                run.emit("TaskSubmitted", self.name, resource=self.resource)
            waiter.wait(run, attempt_scope)
        finally:
            if context.token is not None:
                run.tokens.remove(context.token)
            attempt_scope.cancel()
            attempt_scope.close()
        return self._outcome(run, waiter, timeout, heartbeat)

    def _run_inline(
        self, run: Run, parameters: Any, call: TaskCall, entered_id: int, waiter: TaskWaiter
    ) -> None:
        try:
            result = self._call(run, parameters, call, entered_id)
        except StateFailure as failure:
            if failure.error == RUNTIME:
                raise
            waiter.settle(False, failure.error, failure.cause, reported=True)
            return
        if not self.token_task:
            waiter.settle(True, result)

    def _run_on_helper(
        self, run: Run, parameters: Any, call: TaskCall, entered_id: int, waiter: TaskWaiter
    ) -> None:
        def work() -> None:
            try:
                waiter.settle(True, self._call(run, parameters, call, entered_id))
            except StateFailure as failure:
                waiter.settle(False, failure.error, failure.cause, reported=True)
            except Cancelled:
                pass

        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(work,), name=f"task-{self.name}", daemon=True).start()

    def _outcome(self, run: Run, waiter: TaskWaiter, timeout: int | None, heartbeat: int | None) -> Any:
        if waiter.violation is not None:
            limit = timeout if waiter.violation == TIMEOUT else heartbeat
            field = "TimeoutSeconds" if waiter.violation == TIMEOUT else "HeartbeatSeconds"
            message = f"The task '{self.name}' exceeded its {field} ({limit} s)."
            run.emit(self.timed_out, self.name, resource=self.resource, error=waiter.violation, cause=message)
            raise StateFailure(waiter.violation, message)
        assert waiter.result is not None
        ok, value, cause, reported = waiter.result
        if ok:
            return value
        if not reported:  # send_task_failure: no TaskFailed event yet
            run.emit(self.failed, self.name, resource=self.resource, error=value, cause=cause)
        raise StateFailure(value, cause)
