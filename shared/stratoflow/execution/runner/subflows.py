"""The Subflow task's runner actions: admitting the child (a new one per attempt of its `retry`,
or the failed one restarted), and its outputs when the child ended (`outputs` rendered in the
child's context)."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stratoflow.domain import Attempt, Execution
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.execution.control import RESTARTABLE, prepare_restart
from stratoflow.execution.flows import flow_of
from stratoflow.execution.lineage import CORRELATION_ID, correlation_of
from stratoflow.execution.masking import secret_input_ids
from stratoflow.execution.runner.context import render_context
from stratoflow.execution.runner.outputs import ExecutionOutputs
from stratoflow.execution.runs import run_name
from stratoflow.expressions import ExpressionError, render
from stratoflow.flow import load_flow, resolve_inputs
from stratoflow.flow.fields import is_system_label
from stratoflow.namespaces import NamespaceGuard
from stratoflow.runner_call import ExecutionRef, StartCall, StateInput, SubflowStarted
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed

if TYPE_CHECKING:
    from stratoflow.execution.runner.runner import Call

SUBFLOW_NAMESPACE = uuid.UUID("5f0e6d6c-2b1a-4c36-9d59-7f3c1f7a9b10")


def _now() -> datetime:
    return datetime.now(UTC)


def failed_child_attempt(call: Call) -> Attempt | None:
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


def start_subflow(call: Call, _request: StartCall) -> SubflowStarted:
    """Admission of the child execution: inputs resolved and the execution recorded before it starts."""
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
    ref = ExecutionRef(id=child_id, namespace=task.namespace, flow_id=task.flow_id, revision=record.revision)
    return SubflowStarted(name=child_id, input=StateInput(execution=ref, scope=None))


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


def _restart_child(call: Call) -> SubflowStarted | None:
    """`restartBehavior: RETRY_FAILED`: restart the child this task run started last, when it FAILED or
    was KILLED (its successful task runs are kept); None to start a new child instead."""
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
    ref = ExecutionRef(id=child.id, namespace=task.namespace, flow_id=task.flow_id, revision=child.revision)
    return SubflowStarted(
        name=run_name(child.id, child.restarts), input=StateInput(execution=ref, scope=None)
    )


def subflow_outputs(call: Call) -> dict[str, Any]:
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
