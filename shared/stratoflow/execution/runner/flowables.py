"""Runner actions of flowable tasks: what their compiled structure asks the runner for.

`start` returns the data the state machine routes on (`skip`, `branch`, `values`, `branches`, the
subflow's name and input, a WaitFor's first scope); `end` closes the parent task run. Each action
takes its parsed call and answers with a model of `stratoflow.runner_call`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stratoflow.domain import Attempt
from stratoflow.errors import InputError, NotFoundError
from stratoflow.execution.ids import loop_value, task_run_id
from stratoflow.execution.masking import execution_secrets, mask_text
from stratoflow.execution.runner.subflows import (
    end_items,
    failed_child_attempt,
    start_items,
    start_subflow,
    subflow_outputs,
)
from stratoflow.execution.runner.timeouts import is_own_timeout, kill_running_inside, timeout_message
from stratoflow.expressions import ExpressionError, is_truthy, render
from stratoflow.flow.fields import parse_iso_duration
from stratoflow.namespaces import NamespaceAccessDenied
from stratoflow.runner_call import (
    AwaitCall,
    BranchChosen,
    BranchesListed,
    CaughtError,
    CheckCall,
    DelayRendered,
    EndCall,
    FlowOutputsRecorded,
    LoopDistributed,
    LoopScope,
    LoopStarted,
    ObjectLocation,
    PauseCall,
    StartCall,
    Started,
    StartResult,
    TaskRunState,
    WaitForChecked,
    WaitForStarted,
)
from stratoflow.states import DONE_STATES, State
from stratoflow.storage_layout import LOOP_ITEMS
from stratoflow.tasks.errors import ExitExecution, TaskFailed

log = logging.getLogger("stratoflow.execution.runner")

if TYPE_CHECKING:
    from stratoflow.execution.runner.call import Call


INLINE_VALUES_BYTES = 16 * 1024
"""Loop values up to this size (as JSON) travel in the state payload; larger lists go to storage."""

LOOP_EVENT_BUDGET = 15_000
"""History events the inline iterations of a loop (and of the inline loops around it) may add to one
execution; past it the loop runs its iterations as child executions. Step Functions allows 25,000 in
all: the rest is left to the flow's other states."""


Answer = StartResult | WaitForChecked | TaskRunState | FlowOutputsRecorded
"""What an action returns to the state machine."""


def _now() -> datetime:
    return datetime.now(UTC)


def action_start(call: Call, request: StartCall) -> StartResult:
    existing = call.task_run
    if existing.state.is_terminal and existing.state != State.FAILED:
        return Started(skip=True)
    # A restart runs a failed flowable again: a new attempt after the failed ones (a repeated start
    # call, the run still RUNNING, begins its current attempt again).
    if existing.state == State.FAILED:
        earlier = list(existing.attempts)
    else:
        earlier = [attempt for attempt in existing.attempts if attempt.state.is_terminal]
        failed_child = failed_child_attempt(call)
        if failed_child is not None:  # the Subflow task's `retry`: the last attempt's child failed
            earlier.append(failed_child)
    call.save(state=State.RUNNING, attempts=[*earlier, Attempt(state=State.RUNNING)], start_date=_now())
    try:
        if call.should_skip():
            return Started(skip=True)
        evaluate = STARTS.get(type(call.task).type_name)
        return evaluate(call, request) if evaluate else Started()
    except (ExpressionError, InputError, NotFoundError, NamespaceAccessDenied, ValueError) as error:
        return _start_failed(call, str(error))
    except TaskFailed as error:
        return _start_failed(call, error.message)


def _start_failed(call: Call, message: str) -> Started:
    # An input error may quote the value it refused: a secret passed to a subflow stays masked.
    # Read again: the failed start may have read a secret, which recorded its name on the execution.
    execution = call.store.get_execution(call.execution.id) or call.execution
    message = mask_text(message, execution_secrets(call.store, execution, call.runner.secrets))
    if call.task.allow_failure:
        call.fail(message, State.WARNING)
        return Started(skip=True)
    call.fail(message)
    raise TaskFailed(f"task '{call.task.id}': {message}")


def _values(call: Call, request: StartCall, raw: Any) -> LoopStarted | LoopDistributed:
    values = render(raw, call.context())
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except json.JSONDecodeError as error:
            raise TaskFailed(f"values is not a list nor a JSON array: {values!r}") from error
    if not isinstance(values, list):
        raise TaskFailed(f"values must be a list, got {type(values).__name__}")
    if any(v is None for v in values):
        raise TaskFailed("values contains a null: ForEach cannot iterate over null values")
    strings = [loop_value(v) for v in values]
    call.save(iterations=len(strings))  # what the loop's end reads its iterations' task runs by
    text = json.dumps(strings, separators=(",", ":"))
    inline_items = len(strings) * int((call.scope or {}).get("inlineItems") or 1)
    if inline_items * (request.events_per_item or 0) > LOOP_EVENT_BUDGET:
        return _as_child_executions(call, text)
    if len(text) > INLINE_VALUES_BYTES:
        # Too large for the state payload: the Map iterates over indexes, and each iteration reads its
        # value back from storage (TaskRunner.resolve_scope).
        uri = call.runner.blobs.put(call.data_key("values.json"), text.encode())
        return LoopStarted(values=list(range(len(strings))), values_uri=uri, inline_items=inline_items)
    return LoopStarted(values=strings, values_uri=None, inline_items=inline_items)


def _as_child_executions(call: Call, text: str) -> LoopDistributed:
    """The loop's values in storage, where a distributed Map's ItemReader finds them."""
    blobs = call.runner.blobs
    items = call.data_key(LOOP_ITEMS)
    blobs.put(items, text.encode())
    bucket, key = blobs.locate(items)
    # `inlineItems` is 1: each iteration is an execution of its own, with a history of its own.
    return LoopDistributed(items=ObjectLocation(bucket=bucket, key=key))


def _start_if(call: Call, _request: StartCall) -> BranchChosen:
    result = is_truthy(render(call.task.condition, call.context()))  # type: ignore[attr-defined]
    call.save(outputs={"evaluationResult": result})
    return BranchChosen(branch="then" if result else "else")


def _start_switch(call: Call, _request: StartCall) -> BranchChosen:
    value = render(call.task.value, call.context())  # type: ignore[attr-defined]
    key = value if isinstance(value, str) else json.dumps(value)
    call.save(outputs={"value": key})
    for index, case in enumerate(call.task.cases):  # type: ignore[attr-defined]
        if str(case) == key:
            return BranchChosen(branch=f"case{index}")
    if not call.task.defaults:  # type: ignore[attr-defined]
        raise TaskFailed(f"no case matches the value {key!r} and there are no defaults")
    return BranchChosen(branch="defaults")


def _start_parallel(call: Call, _request: StartCall) -> BranchesListed:
    children = [t for t in call.task.tasks if not t.disabled]  # type: ignore[attr-defined]
    return BranchesListed(branches=list(range(len(children))))


def _start_wait_for(call: Call, _request: StartCall) -> WaitForStarted:
    return WaitForStarted(scope=_loop_scope(call, 0), done=False, started_at=_now().isoformat())


def _loop_scope(call: Call, iteration: int) -> LoopScope:
    parent = None if call.scope is None else LoopScope.model_validate(call.scope)
    return LoopScope(task_id=call.task.id, value=None, iteration=iteration, parent=parent)


def _start_pause(call: Call, _request: StartCall) -> Started:
    """A `pauseDuration` given as an expression: its seconds, for the Wait state."""
    delay: Any = call.task.delay  # type: ignore[attr-defined]
    if not isinstance(delay, str):
        return Started()
    rendered = render(delay, call.context())
    try:
        seconds = parse_iso_duration(str(rendered)).total_seconds()
    except ValueError as error:
        raise TaskFailed(f"pauseDuration rendered to {rendered!r}: {error}") from None
    return DelayRendered(seconds=max(0, math.ceil(seconds)))


def _start_loop(call: Call, request: StartCall) -> LoopStarted | LoopDistributed:
    task: Any = call.task  # ForEach names its values `values`, the legacy Each tasks `value`
    return _values(call, request, task.values if type(task).type_name == "ForEach" else task.value)


STARTS: dict[str, Callable[[Call, StartCall], StartResult]] = {
    "Pause": _start_pause,
    "ForEach": _start_loop,
    "EachSequential": _start_loop,
    "EachParallel": _start_loop,
    "If": _start_if,
    "Switch": _start_switch,
    "Parallel": _start_parallel,
    "WaitFor": _start_wait_for,
    "Subflow": start_subflow,
    "ForEachItem": start_items,
}


def action_end(call: Call, request: EndCall) -> TaskRunState:
    task_run = call.task_run
    if task_run.state in (State.SKIPPED, State.SUCCESS, State.WARNING):
        return TaskRunState(state=str(task_run.state))
    error = request.error
    type_name = type(call.task).type_name
    if error is not None:
        timed_out = is_own_timeout(call, error)
        if timed_out:
            kill_running_inside(call)
        message = timeout_message(call) if timed_out else _error_message(error)
        described = _service_failure(call, error)
        if described is not None:
            service_outputs, message = described
            call.save(outputs=service_outputs)
        if type_name == "ForEachItem" and "numberOfBatches" in task_run.outputs and not timed_out:
            _state, counted, why = end_items(call)  # the Map failed: say which batches did
            call.save(outputs=counted)
            message = why or message
        # A child's failure is not transmitted; the Subflow's own timeout fails it like any task's.
        if type_name == "Subflow" and not call.task.transmit_failed and not timed_out:  # type: ignore[attr-defined]
            call.finished_ok(State.SUCCESS, subflow_outputs(call))
            return TaskRunState(state="SUCCESS")
        if _pause_timed_out(call, error, "WARN"):
            _unpause(call)
            call.fail(message, State.WARNING)
            wake_dependents(call)
            return TaskRunState(state="WARNING")
        if _pause_timed_out(call, error, "CANCEL"):
            # Kestra's CANCEL: the execution ends CANCELLED, as an Exit task ends it (no `errors`).
            _unpause(call)
            message = (
                f"task '{call.task.id}' was not resumed within its pauseDuration: the execution is cancelled"
            )
            call.fail(message, State.CANCELLED)
            call.store.update_execution(call.execution.id, exit_state=State.CANCELLED, error=message)
            raise ExitExecution(State.CANCELLED.value, message)
        if call.task.allow_failure or type_name == "AllowFailure":
            call.fail(message, State.WARNING)
            wake_dependents(call)
            return TaskRunState(state="WARNING")
        if task_run.state != State.FAILED:
            call.fail(message)
        raise TaskFailed(f"task '{call.task.id}' failed: {message}")
    outputs: dict[str, Any] | None = None
    state = call.children_state()
    if type_name == "Subflow":
        outputs = subflow_outputs(call)
        if call.task.wait and outputs.get("state") == "WARNING":  # type: ignore[attr-defined]
            state = State.WARNING
    elif type_name == "Pause":
        _unpause(call)
        resume = request.resume
        outputs = {"onResume": resume} if resume else {}
    elif type_name == "ForEachItem":
        state, outputs, why = end_items(call)
        if why is not None:
            call.save(outputs=outputs)
            call.fail(why)
            raise TaskFailed(f"task '{call.task.id}' failed: {why}")
    elif type_name in ("If", "Switch"):
        outputs = dict(task_run.outputs)
    elif hasattr(call.task, "service_outputs"):  # ECS, Batch: the `.sync` result the end call was given
        service = request.evaluation.service if request.evaluation else None
        outputs = call.task.service_outputs(service or {})
    if state.is_failure:
        call.fail("a child task failed")
        raise TaskFailed(f"task '{call.task.id}' failed: a child task failed")
    return TaskRunState(state=str(call.finished_ok(state, outputs)))


def _unpause(call: Call) -> None:
    current = call.store.get_execution(call.execution.id)
    if current is not None and current.state == State.PAUSED:
        call.store.update_execution(call.execution.id, state=State.RUNNING)


def _pause_timed_out(call: Call, error: CaughtError, behavior: str) -> bool:
    """A Pause with this `behavior` whose duration passed without a resume."""
    if type(call.task).type_name != "Pause" or getattr(call.task, "behavior", None) != behavior:
        return False
    return error.error == "States.Timeout"


def _error_message(error: CaughtError) -> str:
    """The message inside a caught error: Lambda's Cause is a JSON document with `errorMessage`."""
    cause = error.cause or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return str(parsed["errorMessage"])
    except json.JSONDecodeError:
        pass
    return f"{error.error}: {cause}" if cause else error.error


def _service_failure(call: Call, error: CaughtError) -> tuple[dict[str, Any], str] | None:
    """A native service task's failure (an ECS task or Batch job that failed): the outputs its
    description gives, and a message naming why it stopped."""
    describe = getattr(call.task, "service_failure", None)
    if describe is None:
        return None
    # The task reads the error as the Catch wrote it.
    described: tuple[dict[str, Any], str] | None = describe(
        error.model_dump(by_alias=True, exclude_unset=True)
    )
    return described


def action_check(call: Call, request: CheckCall) -> WaitForChecked:
    """After one WaitFor iteration: done when the condition is truthy, or when a bound is reached."""
    task: Any = call.task
    loop = request.loop
    iteration = loop.scope.iteration + 1
    frequency = task.check_frequency
    context = call.context()
    try:
        done = is_truthy(render(task.condition, context))
    except ExpressionError as error:
        call.fail(f"condition: {error}")
        raise TaskFailed(f"task '{task.id}': condition: {error}") from error
    interval = 1
    if frequency is not None and frequency.interval is not None:
        interval = max(0, int(frequency.interval.total_seconds()))
    if not done:
        started = datetime.fromisoformat(loop.started_at or call.task_run.start_date.isoformat())
        max_iterations = frequency.max_iterations if frequency else None
        max_duration: timedelta | None = frequency.max_duration if frequency else None
        reached = (max_iterations is not None and iteration >= max_iterations) or (
            max_duration is not None and _now() - started >= max_duration
        )
        if reached:
            if task.fail_on_max_reached:
                call.fail(f"the condition was still false after {iteration} iterations")
                raise TaskFailed(f"task '{task.id}': maximum iterations or duration reached")
            done = True
    # Iterations started: the next one, unless this was the last (what the loop's end reads by key).
    call.save(outputs={"iterationCount": iteration}, iterations=iteration if done else iteration + 1)
    return WaitForChecked(
        done=done, scope=_loop_scope(call, iteration), interval=interval, started_at=loop.started_at
    )


def action_pause(call: Call, request: PauseCall) -> TaskRunState:
    call.save(state=State.PAUSED, task_token=request.task_token)
    paused = call.store.update_execution(call.execution.id, state=State.PAUSED)
    for hook in call.runner.pause_hooks:
        try:
            hook(paused)
        except Exception:  # a Flow trigger that cannot be told must not fail the pause itself
            log.exception("a hook on the pause of execution %s failed", paused.id)
    return TaskRunState(state="PAUSED")


def action_await(call: Call, request: AwaitCall) -> TaskRunState:
    """A Dag task registers its callback token first, then checks: no wake-up can slip between the two."""
    call.save(task_token=request.task_token, state=State.CREATED)
    if _dependencies_done(call, call.task.id):
        _wake(call, call.task_run.task_token)
    return TaskRunState(state="WAITING")


def _dag_of(call: Call, task_id: str) -> Any | None:
    parents = call.flow.task_parents(task_id)
    if parents and type(parents[-1]).type_name == "Dag":
        return parents[-1]
    return None


def _dependencies_done(call: Call, task_id: str) -> bool:
    dag = _dag_of(call, task_id)
    if dag is None:
        return True
    node = next(n for n in dag.tasks if n.task.id == task_id)
    for dependency in node.depends_on:
        dep_task = call.flow.find_task(dependency)
        if dep_task is None or dep_task.disabled:
            continue
        run = call.store.get_task_run(
            call.execution.id, task_run_id(call.execution.id, dependency, call.scope)
        )
        if run is None or run.state not in DONE_STATES:
            return False
    return True


def wake_dependents(call: Call) -> None:
    """When a Dag task ends well, complete the waits of the tasks whose dependencies are now all done."""
    dag = _dag_of(call, call.task.id)
    if dag is None or call.runner.callbacks is None:
        return
    for node in dag.tasks:
        if call.task.id not in node.depends_on:
            continue
        run = call.store.get_task_run(
            call.execution.id, task_run_id(call.execution.id, node.task.id, call.scope)
        )
        if run is not None and run.task_token and _dependencies_done(call, node.task.id):
            _wake(call, run.task_token)


def _wake(call: Call, token: str | None) -> None:
    if token and call.runner.callbacks is not None:
        # Raises when the other side of the race completed the wait already: harmless.
        with contextlib.suppress(Exception):
            call.runner.callbacks.send_success(token, {})
