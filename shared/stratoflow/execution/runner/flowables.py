"""Runner actions of flowable tasks: what their compiled structure asks the runner for.

`start` returns the data the state machine routes on (`skip`, `branch`, `values`, `branches`, the
subflow's name and input, a WaitFor's first scope); `end` closes the parent task run.
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stratoflow.domain import Attempt
from stratoflow.errors import InputError, NotFoundError
from stratoflow.execution.ids import loop_value, task_run_id
from stratoflow.execution.masking import execution_secrets, mask_text
from stratoflow.execution.runner.subflows import failed_child_attempt, start_subflow, subflow_outputs
from stratoflow.execution.runner.timeouts import is_own_timeout, kill_running_inside, timeout_message
from stratoflow.expressions import ExpressionError, is_truthy, render
from stratoflow.flow.fields import parse_iso_duration
from stratoflow.namespaces import NamespaceAccessDenied
from stratoflow.states import State
from stratoflow.storage_layout import LOOP_ITEMS
from stratoflow.tasks.errors import TaskFailed

if TYPE_CHECKING:
    from stratoflow.execution.runner.runner import Call


INLINE_VALUES_BYTES = 16 * 1024
"""Loop values up to this size (as JSON) travel in the state payload; larger lists go to storage."""

LOOP_EVENT_BUDGET = 15_000
"""History events the inline iterations of a loop (and of the inline loops around it) may add to one
execution; past it the loop runs its iterations as child executions. Step Functions allows 25,000 in
all: the rest is left to the flow's other states."""


def _now() -> datetime:
    return datetime.now(UTC)


def action_start(call: Call) -> dict[str, Any]:
    existing = call.task_run
    if existing.state.is_terminal and existing.state != State.FAILED:
        return {"skip": True}
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
            return {"skip": True}
        evaluate = STARTS.get(type(call.task).type_name)
        result = evaluate(call) if evaluate else {}
    except (ExpressionError, InputError, NotFoundError, NamespaceAccessDenied, ValueError) as error:
        return _start_failed(call, str(error))
    except TaskFailed as error:
        return _start_failed(call, error.message)
    result.setdefault("skip", False)
    return result


def _start_failed(call: Call, message: str) -> dict[str, Any]:
    # An input error may quote the value it refused: a secret passed to a subflow stays masked.
    # Read again: the failed start may have read a secret, which recorded its name on the execution.
    execution = call.store.get_execution(call.execution.id) or call.execution
    message = mask_text(message, execution_secrets(call.store, execution, call.runner.secrets))
    if call.task.allow_failure:
        call.fail(message, State.WARNING)
        return {"skip": True}
    call.fail(message)
    raise TaskFailed(f"task '{call.task.id}': {message}")


def _values(call: Call, raw: Any) -> dict[str, Any]:
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
    text = json.dumps(strings, separators=(",", ":"))
    inline_items = len(strings) * int((call.scope or {}).get("inlineItems") or 1)
    if inline_items * int(call.event.get("eventsPerItem") or 0) > LOOP_EVENT_BUDGET:
        return _as_child_executions(call, text)
    result: dict[str, Any] = {
        "values": strings,
        "valuesUri": None,
        "distributed": False,
        "inlineItems": inline_items,
    }
    if len(text) > INLINE_VALUES_BYTES:
        # Too large for the state payload: the Map iterates over indexes, and each iteration reads its
        # value back from storage (TaskRunner.resolve_scope).
        uri = call.runner.blobs.put(call.data_key("values.json"), text.encode())
        result.update(values=list(range(len(strings))), valuesUri=uri)
    return result


def _as_child_executions(call: Call, text: str) -> dict[str, Any]:
    """The loop's values in storage, where a distributed Map's ItemReader finds them."""
    blobs = call.runner.blobs
    items = call.data_key(LOOP_ITEMS)
    blobs.put(items, text.encode())
    bucket, key = blobs.locate(items)
    return {
        "values": [],
        "valuesUri": None,
        "distributed": True,
        "inlineItems": 1,  # each iteration is an execution of its own, with a history of its own
        "items": {"bucket": bucket, "key": key},
    }


def _start_if(call: Call) -> dict[str, Any]:
    result = is_truthy(render(call.task.condition, call.context()))  # type: ignore[attr-defined]
    call.save(outputs={"evaluationResult": result})
    return {"branch": "then" if result else "else"}


def _start_switch(call: Call) -> dict[str, Any]:
    value = render(call.task.value, call.context())  # type: ignore[attr-defined]
    key = value if isinstance(value, str) else json.dumps(value)
    call.save(outputs={"value": key})
    for index, case in enumerate(call.task.cases):  # type: ignore[attr-defined]
        if str(case) == key:
            return {"branch": f"case{index}"}
    if not call.task.defaults:  # type: ignore[attr-defined]
        raise TaskFailed(f"no case matches the value {key!r} and there are no defaults")
    return {"branch": "defaults"}


def _start_parallel(call: Call) -> dict[str, Any]:
    children = [t for t in call.task.tasks if not t.disabled]  # type: ignore[attr-defined]
    return {"branches": list(range(len(children)))}


def _start_wait_for(call: Call) -> dict[str, Any]:
    return {"scope": _loop_scope(call, 0), "done": False, "startedAt": _now().isoformat()}


def _loop_scope(call: Call, iteration: int) -> dict[str, Any]:
    return {"taskId": call.task.id, "value": None, "iteration": iteration, "parent": call.scope}


def _start_pause(call: Call) -> dict[str, Any]:
    """A `pauseDuration` given as an expression: its seconds, for the Wait state."""
    delay: Any = call.task.delay  # type: ignore[attr-defined]
    if not isinstance(delay, str):
        return {}
    rendered = render(delay, call.context())
    try:
        seconds = parse_iso_duration(str(rendered)).total_seconds()
    except ValueError as error:
        raise TaskFailed(f"pauseDuration rendered to {rendered!r}: {error}") from None
    return {"seconds": max(0, math.ceil(seconds))}


STARTS = {
    "Pause": _start_pause,
    "ForEach": lambda call: _values(call, call.task.values),
    "EachSequential": lambda call: _values(call, call.task.value),
    "EachParallel": lambda call: _values(call, call.task.value),
    "If": _start_if,
    "Switch": _start_switch,
    "Parallel": _start_parallel,
    "WaitFor": _start_wait_for,
    "Subflow": start_subflow,
}


def action_end(call: Call) -> dict[str, Any]:
    task_run = call.task_run
    if task_run.state in (State.SKIPPED, State.SUCCESS, State.WARNING):
        return {"state": str(task_run.state)}
    error = call.event.get("error")
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
        # A child's failure is not transmitted; the Subflow's own timeout fails it like any task's.
        if type_name == "Subflow" and not call.task.transmit_failed and not timed_out:  # type: ignore[attr-defined]
            call.finished_ok(State.SUCCESS, subflow_outputs(call))
            return {"state": "SUCCESS"}
        if _pause_timed_out_warning(call, error):
            _unpause(call)
            call.fail(message, State.WARNING)
            wake_dependents(call)
            return {"state": "WARNING"}
        if call.task.allow_failure or type_name == "AllowFailure":
            call.fail(message, State.WARNING)
            wake_dependents(call)
            return {"state": "WARNING"}
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
        resume = call.event.get("resume")
        outputs = {"onResume": resume} if resume else {}
    elif type_name in ("If", "Switch"):
        outputs = dict(task_run.outputs)
    elif hasattr(call.task, "service_outputs"):  # ECS, Batch: the `.sync` result the end call was given
        service = (call.event.get("eval") or {}).get("service")
        outputs = call.task.service_outputs(service if isinstance(service, dict) else {})
    if state.is_failure:
        call.fail("a child task failed")
        raise TaskFailed(f"task '{call.task.id}' failed: a child task failed")
    return {"state": str(call.finished_ok(state, outputs))}


def _unpause(call: Call) -> None:
    current = call.store.get_execution(call.execution.id)
    if current is not None and current.state == State.PAUSED:
        call.store.update_execution(call.execution.id, state=State.RUNNING)


def _pause_timed_out_warning(call: Call, error: Any) -> bool:
    """A Pause with `behavior: WARN` whose duration passed without a resume: Kestra ends it WARNING."""
    if type(call.task).type_name != "Pause" or getattr(call.task, "behavior", None) != "WARN":
        return False
    return isinstance(error, dict) and error.get("Error") == "States.Timeout"


def _error_message(error: Any) -> str:
    """The message inside a caught error: Lambda's Cause is a JSON document with `errorMessage`."""
    if not isinstance(error, dict):
        return str(error)
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return str(parsed["errorMessage"])
    except (TypeError, json.JSONDecodeError):
        pass
    return f"{error.get('Error', 'Error')}: {cause}" if cause else str(error.get("Error", "error"))


def _service_failure(call: Call, error: Any) -> tuple[dict[str, Any], str] | None:
    """A native service task's failure (an ECS task or Batch job that failed): the outputs its
    description gives, and a message naming why it stopped."""
    describe = getattr(call.task, "service_failure", None)
    if describe is None:
        return None
    described: tuple[dict[str, Any], str] | None = describe(error)
    return described


def action_check(call: Call) -> dict[str, Any]:
    """After one WaitFor iteration: done when the condition is truthy, or when a bound is reached."""
    task: Any = call.task
    loop = call.event.get("loop") or {}
    scope = loop.get("scope") or _loop_scope(call, 0)
    iteration = int(scope.get("iteration", 0)) + 1
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
        started = datetime.fromisoformat(loop.get("startedAt") or call.task_run.start_date.isoformat())
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
    call.save(outputs={"iterationCount": iteration})
    return {
        "done": done,
        "scope": _loop_scope(call, iteration),
        "interval": interval,
        "startedAt": loop.get("startedAt"),
    }


def action_pause(call: Call) -> dict[str, Any]:
    call.save(state=State.PAUSED, task_token=call.event.get("taskToken"))
    call.store.update_execution(call.execution.id, state=State.PAUSED)
    return {"state": "PAUSED"}


def action_await(call: Call) -> dict[str, Any]:
    """A Dag task registers its callback token first, then checks: no wake-up can slip between the two."""
    call.save(task_token=call.event.get("taskToken"), state=State.CREATED)
    if _dependencies_done(call, call.task.id):
        _wake(call, call.task_run.task_token)
    return {"state": "WAITING"}


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
        if run is None or run.state not in (State.SUCCESS, State.WARNING, State.SKIPPED):
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
