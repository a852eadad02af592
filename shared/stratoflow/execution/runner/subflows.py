"""The runner actions of the tasks that start other flows.

Subflow: admitting the child (a new one per attempt of its `retry`, or the failed one restarted), and
its outputs when the child ended (`outputs` rendered in the child's context).

ForEachItem, Kestra's three sub-tasks on a distributed Map:
- `start` (Kestra's `<id>_split`): the file is cut into lines, written one `[number, text]` JSON line
  each where the Map's ItemReader reads them; its ItemBatcher groups `batchSize` lines per batch.
- `batch` (`<id>_items`, once per batch, in the Map's child execution): the batch's lines become its
  batch file (`taskrun.items`) and the subflow's execution is admitted; the state machine starts it.
- `end` (`<id>_items`, `<id>_merge`): the batches' executions counted by state, their outputs merged
  into one Ion file, and the three sub-task runs recorded under the task's run.
Nothing grows with the file in the parent execution's payload or history: the lines travel in storage
and in the children's inputs, one batch each.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from pydantic import JsonValue

from stratoflow.domain import Attempt, Execution, TaskRun
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.execution.control import RESTARTABLE, prepare_restart
from stratoflow.execution.flows import flow_of
from stratoflow.execution.ids import task_run_id
from stratoflow.execution.lineage import CORRELATION_ID, batch_execution_id, correlation_of
from stratoflow.execution.masking import secret_input_ids
from stratoflow.execution.runner.batches import cut, split_lines
from stratoflow.execution.runner.context import render_context
from stratoflow.execution.runner.outputs import ExecutionOutputs
from stratoflow.execution.runs import run_name
from stratoflow.expressions import ExpressionError, render
from stratoflow.flow import registry, resolve_inputs
from stratoflow.flow.fields import is_system_label
from stratoflow.namespaces import NamespaceGuard
from stratoflow.runner_call import (
    BatchCall,
    ExecutionRef,
    ItemsSplit,
    ObjectLocation,
    StartCall,
    Started,
    StateInput,
    SubflowStarted,
)
from stratoflow.states import State
from stratoflow.storage_layout import LOOP_ITEMS
from stratoflow.store.rules import uri_for
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import is_storage_uri, read_stored

if TYPE_CHECKING:
    from stratoflow.execution.runner.call import Call
    from stratoflow.tasks.native import ForEachItem

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
    child_id = subflow_execution_id(call.execution, call.id, attempt=len(call.task_run.attempts))
    started = admit_child(call, child_id)
    call.save(outputs={"executionId": child_id})
    return started


def admit_child(call: Call, child_id: str, taskrun: dict[str, object] | None = None) -> SubflowStarted:
    """Record the execution `child_id` of the task's flow (`namespace`, `flowId`, `revision`), its
    `inputs` and `labels` rendered with `taskrun` added to the task run's variables (a ForEachItem
    batch's `items` and `iteration`); a repeated call admits it once."""
    task: Any = call.task
    # Starting a flow of another namespace runs code with that namespace's KV, files and secrets: only
    # its own, a parent namespace's, or one that allows the caller's namespace.
    NamespaceGuard(call.store, call.execution.namespace).check(
        task.namespace, "read", f"subflow {task.namespace}.{task.flow_id}"
    )
    record = call.store.get_flow(task.namespace, task.flow_id, task.revision)
    if record is None:
        raise NotFoundError(f"subflow {task.namespace}.{task.flow_id} is not deployed")
    child_flow = flow_of(record)  # parsed once per revision: a ForEachItem admits one child per batch
    # Rendered with the task run's services, so inputs may use `secret()`, `kv()` and `read()`.
    ctx = call.run_context(max(len(call.task_run.attempts), 1))
    variables = {"taskrun": {**ctx.variables.get("taskrun", {}), **taskrun}} if taskrun else None
    inputs = resolve_inputs(child_flow, ctx.render(task.inputs or {}, variables))
    # The parent's secrets stay secret in the child: masked in its labels, its inputs marked secret.
    secrets = ctx.secrets
    labels = {str(k): ctx.mask(str(v)) for k, v in ctx.render(task.labels or {}, variables).items()}
    forged = sorted(k for k in labels if is_system_label(k))
    if forged:  # a rendered key can name one even when the flow's YAML did not
        raise TaskFailed(f"label '{forged[0]}': labels starting with 'system.' are set by the system")
    # Kestra's inheritLabels: the parent's own labels, not its system ones (the child has its own).
    inherited = (
        {k: v for k, v in call.execution.labels.items() if not is_system_label(k)}
        if task.inherit_labels
        else {}
    )
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
    previous = call.task_run.outputs.get("executionId")
    child = call.store.get_execution(previous) if isinstance(previous, str) else None
    if child is None:
        return None
    return restart_child(call, child)


def restart_child(call: Call, child: Execution) -> SubflowStarted | None:
    """The run that restarts `child` when it FAILED or was KILLED (a repeated call, after the restart,
    starts the same run again); None when it did not fail (it ran to its end: nothing to redo)."""
    task: Any = call.task
    if child.state in RESTARTABLE:
        child = prepare_restart(call.store, child.id, concurrency=False)  # as the first child: no slot
    elif child.state != State.RUNNING or child.restarts == 0:
        return None  # it succeeded (the parent failed after it): a new child runs the flow again
    # else: a repeated start call, after this restart of the child: start the same run again
    ref = ExecutionRef(id=child.id, namespace=task.namespace, flow_id=task.flow_id, revision=child.revision)
    return SubflowStarted(
        name=run_name(child.id, child.restarts), input=StateInput(execution=ref, scope=None)
    )


def subflow_outputs(call: Call) -> dict[str, JsonValue]:
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


# --- ForEachItem -------------------------------------------------------------------------------------

SUB_TASK_TYPE = "io.kestra.plugin.core.flow.ForEachItem$ForEachItem"


def _task(call: Call) -> ForEachItem:
    task = call.task
    # The class by its registered name: the registry imported its module with the flow that has one,
    # and a task runner that never runs a ForEachItem never imports the native task types.
    assert type(task) is registry.resolve("ForEachItem")
    return cast("ForEachItem", task)


def start_items(call: Call, _request: StartCall) -> ItemsSplit:
    """Cut the file into batches for the Map's ItemReader (`stratoflow.execution.runner.batches`)."""
    task = _task(call)
    ctx = call.run_context(max(len(call.task_run.attempts), 1))
    uri = as_text(ctx.render(task.items))
    if not is_storage_uri(uri):
        raise TaskFailed(f"items must be a storage URI (strato:///...), got '{uri[:200]}'")
    try:
        text = read_stored(ctx, uri).decode("utf-8")
    except UnicodeDecodeError as error:
        raise TaskFailed(f"items {uri} is not UTF-8 text: {error}") from None
    lines = split_lines(text, task.batch.separator)
    del text  # a large file: its text and its lines are not kept side by side longer than needed
    blobs = call.runner.blobs
    extension = _extension(uri)

    def store(number: int, batch_text: str) -> str:
        return blobs.put(_batch_key(call, extension, number), batch_text.encode())

    batches = cut(lines, task.batch, store)
    # The name every distributed Map's items have: the stack's role lets Step Functions read it.
    key = call.data_key(LOOP_ITEMS)
    blobs.put(key, batches.lines_file)
    bucket, object_key = blobs.locate(key)
    call.save(outputs={"numberOfBatches": batches.count, "batchSize": batches.batch_size, "source": uri})
    return ItemsSplit(
        items=ObjectLocation(bucket=bucket, key=object_key),
        batch_size=batches.batch_size,
        batches=batches.count,
        stored=batches.stored,
    )


def _batch_execution(call: Call, iteration: int) -> str:
    return batch_execution_id(
        call.execution, call.id, iteration, _task(call).restart_behavior == "NEW_EXECUTION"
    )


def _batch_key(call: Call, extension: str, iteration: int) -> str:
    return call.data_key(f"batches/{iteration}.{extension}")


def _extension(source: str) -> str:
    """The batch files' extension: the items file's (`txt` when it has none)."""
    name = source.rsplit("/", 1)[-1]
    return name.rpartition(".")[2] if "." in name else "txt"


def action_batch(call: Call, request: BatchCall) -> SubflowStarted | Started:
    """One batch: its file written and its execution admitted (`skip` when a restarted parent finds
    it succeeded before)."""
    iteration = request.items[0][0] // request.batch_size
    child_id = _batch_execution(call, iteration)
    earlier = call.store.get_execution(child_id) if call.execution.restarts else None
    if earlier is not None:
        restarted = restart_child(call, earlier)
        if restarted is not None:
            return restarted
        if not earlier.state.is_failure:
            return Started(skip=True)
    if request.stored:  # too large to travel here: the start call stored it, this is its URI
        uri = request.items[0][1]
    else:
        key = _batch_key(call, _extension(str(call.task_run.outputs.get("source") or "")), iteration)
        uri = call.runner.blobs.put(key, "".join(text for _, text in request.items).encode())
    return admit_child(call, child_id, {"items": uri, "iteration": iteration})


def end_items(call: Call) -> tuple[State, dict[str, JsonValue], str | None]:
    """The task run's state, its outputs, and why it failed (None when it did not)."""
    task = _task(call)
    batches = int(call.task_run.outputs.get("numberOfBatches") or 0)
    extension = _extension(str(call.task_run.outputs.get("source") or ""))
    children = [call.store.get_execution(_batch_execution(call, i)) for i in range(batches)]
    counts = Counter(str(child.state) for child in children if child is not None)
    outputs: dict[str, JsonValue] = {"numberOfBatches": batches, "iterations": dict(sorted(counts.items()))}
    blobs = call.runner.blobs
    splits = blobs.put(
        call.data_key("splits.txt"),
        "\n".join(uri_for(_batch_key(call, extension, i)) for i in range(batches)).encode(),
    )
    merged = _merged_outputs(call, children) if task.wait else None
    if merged is not None:
        outputs["uri"] = merged
    missing = sum(child is None for child in children)
    failed = sum(child is not None and child.state.is_failure for child in children)
    state, error = State.SUCCESS, None
    if missing:
        state, error = State.FAILED, f"{missing} of {batches} batch(es) could not start their execution"
    elif task.wait and task.transmit_failed and failed:
        state, error = State.FAILED, f"{failed} of {batches} batch execution(s) failed"
    elif task.wait and counts.get(str(State.WARNING), 0) > 0:
        state = State.WARNING
    _record_sub_tasks(call, splits, outputs, merged, state)
    return state, outputs, error


def _merged_outputs(call: Call, children: list[Execution | None]) -> str | None:
    """The flow outputs of the batches' executions, one Ion line each in batch order (Kestra's
    `<id>_merge`); None when none has outputs."""
    values = [child.outputs for child in children if child is not None and child.outputs]
    if not values:
        return None
    # JSON is Ion text, one value a line as Kestra's Ion files are (without the Ion library, which
    # pulls `ssl` into every run that loads the runner).
    text = "".join(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n" for value in values)
    return call.runner.blobs.put(call.data_key("outputs.ion"), text.encode())


def _record_sub_tasks(
    call: Call, splits: str, outputs: dict[str, JsonValue], merged: str | None, state: State
) -> None:
    """Kestra's sub-task runs, so that `outputs.<id>_split`, `<id>_items` and `<id>_merge` read as there."""
    task = _task(call)
    parent = call.task_run
    sub_outputs: dict[str, dict[str, JsonValue]] = {
        "_split": {"splits": splits},
        "_items": outputs,
        "_merge": {"subflowOutputs": merged} if merged else {},
    }
    for suffix, values in sub_outputs.items():
        sub_id = f"{task.id}{suffix}"
        kind = {"_split": "Split", "_items": "Executable", "_merge": "MergeOutputs"}[suffix]
        call.store.save_task_run(
            TaskRun(
                id=task_run_id(call.execution.id, sub_id, call.scope),
                execution_id=call.execution.id,
                task_id=sub_id,
                task_type=f"{SUB_TASK_TYPE}{kind}",
                parent_task_run_id=parent.id,
                value=parent.value,
                iteration=parent.iteration,
                scope_values=parent.scope_values,
                scope_path=parent.scope_path,
                state=state if suffix == "_items" else State.SUCCESS,
                outputs=values,
                start_date=parent.start_date,
                end_date=datetime.now(UTC),
            )
        )
