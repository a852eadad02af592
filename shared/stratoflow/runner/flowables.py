"""Runner actions of flowable tasks: what their compiled structure asks the runner for.

`start` returns the data the state machine routes on (`skip`, `branch`, `values`, `branches`, the
subflow's name and input, a WaitFor's first scope); `end` closes the parent task run.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stratoflow.domain import Attempt, Execution
from stratoflow.errors import ConflictError, InputError, NotFoundError
from stratoflow.expressions import ExpressionError, is_truthy, render
from stratoflow.lineage import CORRELATION_ID, correlation_of
from stratoflow.namespaces import NamespaceAccessDenied, NamespaceGuard
from stratoflow.runner.ids import loop_value, task_run_id
from stratoflow.runner.masking import configured_source, execution_secrets, mask_text, secret_input_ids
from stratoflow.states import State
from stratoflow.storage_layout import LOOP_ITEMS
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.fields import is_system_label

if TYPE_CHECKING:
    from stratoflow.runner.runner import Call

SUBFLOW_NAMESPACE = uuid.UUID("5f0e6d6c-2b1a-4c36-9d59-7f3c1f7a9b10")


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
        failed_child = _failed_child_attempt(call)
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


def _failed_child_attempt(call: Call) -> Attempt | None:
    """A Subflow task run's current attempt, ended FAILED, when the child it started failed: the
    Subflow's `retry` is starting it again (each attempt a new child)."""
    run = call.task_run
    if type(call.task).type_name != "Subflow" or run.state != State.RUNNING or not run.attempts:
        return None
    current = run.attempts[-1]
    child_id = run.outputs.get("executionId")
    child = call.store.get_execution(child_id) if isinstance(child_id, str) else None
    if current.state.is_terminal or child is None or not child.state.is_failure:
        return None
    error = f"subflow execution {child.id} ended {child.state}" + (f": {child.error}" if child.error else "")
    return current.model_copy(update={"state": State.FAILED, "end_date": _now(), "error": error})


def _start_failed(call: Call, message: str) -> dict[str, Any]:
    # An input error may quote the value it refused: a secret passed to a subflow stays masked.
    # Read again: the failed start may have read a secret, which recorded its name on the execution.
    execution = call.store.get_execution(call.execution.id) or call.execution
    message = mask_text(message, execution_secrets(call.store, execution, configured_source()))
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


def _start_subflow(call: Call) -> dict[str, Any]:
    """Admission of the child execution: inputs resolved and the execution recorded before it starts."""
    from stratoflow.flow import resolve_inputs

    task: Any = call.task
    if call.execution.restarts and task.restart_behavior == "RETRY_FAILED":
        restarted = _restart_child(call)  # keeps the child's inputs: nothing to render or resolve
        if restarted is not None:
            return restarted
    # Starting a flow of another namespace runs code with that namespace's KV, files and secrets: only
    # its own, a parent namespace's, or one that allows the caller's namespace.
    NamespaceGuard(call.store, call.execution.namespace).check(
        task.namespace, "read", f"subflow {task.namespace}.{task.flow_id}"
    )
    record = call.store.get_flow(task.namespace, task.flow_id, task.revision)
    if record is None:
        raise NotFoundError(f"subflow {task.namespace}.{task.flow_id} is not deployed")
    from stratoflow.flow import load_flow

    child_flow = load_flow(record.source, f"{task.namespace}.{task.flow_id}")
    # Rendered with the task run's services, so inputs may use `secret()`, `kv()` and `read()`.
    ctx = call.run_context(max(len(call.task_run.attempts), 1))
    inputs = resolve_inputs(child_flow, ctx.render(task.inputs or {}))
    # The parent's secrets stay secret in the child: masked in its labels, its inputs marked secret.
    secrets = ctx.secrets
    labels = {str(k): ctx.mask(str(v)) for k, v in ctx.render(task.labels or {}).items()}
    forged = sorted(k for k in labels if is_system_label(k))
    if forged:  # a rendered key can name one even when the flow's YAML did not
        raise TaskFailed(f"label '{forged[0]}': labels starting with 'system.' are set by the system")
    # Kestra's inheritLabels: the parent's own labels, not its system ones (the child has its own).
    inherited = (
        {k: v for k, v in call.execution.labels.items() if not is_system_label(k)}
        if task.inherit_labels
        else {}
    )
    child_id = subflow_execution_id(call.execution, call.id, attempt=len(call.task_run.attempts))
    child = Execution(
        id=child_id,
        namespace=task.namespace,
        flow_id=task.flow_id,
        revision=record.revision,
        inputs=inputs,
        labels={
            **child_flow.labels,
            **inherited,
            **labels,
            CORRELATION_ID: correlation_of(call.execution),
        },
        secret_inputs=secret_input_ids(child_flow, inputs, secrets),
        parent_execution_id=call.execution.id,
        has_sla=bool(child_flow.sla),
        trigger={
            "executionId": call.execution.id,
            "namespace": call.execution.namespace,
            "flowId": call.execution.flow_id,
            "taskRunId": call.id,
        },
    )
    with contextlib.suppress(ConflictError):  # a retried start: the child was admitted already
        call.store.create_execution(child)
    call.save(outputs={"executionId": child_id})
    ref = {"id": child_id, "namespace": task.namespace, "flowId": task.flow_id, "revision": record.revision}
    return {"name": child_id, "input": {"execution": ref, "scope": None}}


def subflow_execution_id(parent: Execution, task_run_id: str, attempt: int = 1) -> str:
    """The child execution of a Subflow task run: derived, so a repeated start call admits it once.

    Each restart of the parent (`strato restart`, a flow `retry` of RETRY_FAILED_TASK) that runs the
    task again names another child (Kestra's `restartBehavior: NEW_EXECUTION`): the failed child stays
    as it ended, in the history. So does each attempt of the task's own `retry`.
    """
    key = f"{parent.id}/{task_run_id}"
    if parent.restarts:
        key = f"{key}/restart-{parent.restarts}"
    if attempt > 1:
        key = f"{key}/attempt-{attempt}"
    return str(uuid.uuid5(SUBFLOW_NAMESPACE, key))


def _restart_child(call: Call) -> dict[str, Any] | None:
    """`restartBehavior: RETRY_FAILED`: restart the child this task run started last, when it FAILED or
    was KILLED (its successful task runs are kept); None to start a new child instead."""
    from stratoflow.cloud.runs import run_name
    from stratoflow.control import RESTARTABLE, prepare_restart

    task: Any = call.task
    previous = call.task_run.outputs.get("executionId")
    child = call.store.get_execution(previous) if isinstance(previous, str) else None
    if child is None:
        return None
    if child.state in RESTARTABLE:
        child = prepare_restart(call.store, child.id, concurrency=False)  # as the first child: no slot
    elif child.state != State.RUNNING or child.restarts == 0:
        return None  # it succeeded (the parent failed after it): a new child runs the flow again
    # else: a repeated start call, after this restart of the child: start the same run again
    ref = {"id": child.id, "namespace": task.namespace, "flowId": task.flow_id, "revision": child.revision}
    return {"name": run_name(child.id, child.restarts), "input": {"execution": ref, "scope": None}}


def _start_pause(call: Call) -> dict[str, Any]:
    """A `pauseDuration` given as an expression: its seconds, for the Wait state."""
    delay: Any = call.task.delay  # type: ignore[attr-defined]
    if not isinstance(delay, str):
        return {}
    from stratoflow.tasks.fields import parse_iso_duration

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
    "Subflow": _start_subflow,
}


def action_end(call: Call) -> dict[str, Any]:
    task_run = call.task_run
    if task_run.state in (State.SKIPPED, State.SUCCESS, State.WARNING):
        return {"state": str(task_run.state)}
    error = call.event.get("error")
    type_name = type(call.task).type_name
    if error is not None:
        message = _error_message(error)
        described = _service_failure(call, error)
        if described is not None:
            service_outputs, message = described
            call.save(outputs=service_outputs)
        if type_name == "Subflow" and not call.task.transmit_failed:  # type: ignore[attr-defined]
            call.finished_ok(State.SUCCESS, _subflow_outputs(call))
            return {"state": "SUCCESS"}
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
        outputs = _subflow_outputs(call)
        if call.task.wait and outputs.get("state") == "WARNING":  # type: ignore[attr-defined]
            state = State.WARNING
    elif type_name == "Pause":
        current = call.store.get_execution(call.execution.id)
        if current is not None and current.state == State.PAUSED:
            call.store.update_execution(call.execution.id, state=State.RUNNING)
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


def _subflow_outputs(call: Call) -> dict[str, Any]:
    child_id = call.task_run.outputs.get("executionId")
    child = call.store.get_execution(child_id) if child_id else None
    if child is None:
        return {"executionId": child_id}
    outputs = dict(child.outputs)
    task: Any = call.task
    if task.outputs and child.state.is_terminal:
        outputs.update(_child_rendered(call, child, task.outputs))
    return {"executionId": child.id, "state": str(child.state), "outputs": outputs}


def _child_rendered(call: Call, child: Execution, values: dict[str, Any]) -> dict[str, Any]:
    """A Subflow task's `outputs`, rendered in the child's context (its tasks' outputs, inputs...)."""
    from stratoflow.runner.context import render_context
    from stratoflow.runner.outputs import ExecutionOutputs
    from stratoflow.triggers.events import flow_of

    record = call.store.get_flow(child.namespace, child.flow_id, child.revision)
    if record is None:
        raise NotFoundError(f"subflow {child.namespace}.{child.flow_id} revision {child.revision} is gone")
    child_flow = flow_of(record)
    context = render_context(
        child_flow, child, ExecutionOutputs(call.store, call.runner.blobs, child.id, child_flow)
    )
    try:
        rendered: dict[str, Any] = render(values, context)
    except ExpressionError as error:
        call.fail(f"outputs: {error}")
        raise TaskFailed(f"task '{call.task.id}': outputs: {error}") from error
    return rendered


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
