"""Execution control: kill, restart, replay and resume, as requests on the execution store.

The store is the meeting point: a kill marks the execution KILLING and a resume records the inputs;
whoever runs the execution (the local platform's watcher, or Step Functions through the cloud CLI,
stratoflow.cloud.runtime.control) acts on it. A restart counts itself on the execution (`restarts`): in the
cloud each restart is a new Step Functions execution (stratoflow.cloud.runtime.runs). Each action refuses
what makes no sense with a message that says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import ConflictError, InputError, NotFoundError, StratoflowError
from stratoflow.execution.flows import live_flow
from stratoflow.execution.ids import new_execution_id, task_run_id_at
from stratoflow.execution.lineage import subflow_executions
from stratoflow.execution.slots import enqueue
from stratoflow.flow import Flow
from stratoflow.states import DONE_STATES, State
from stratoflow.store.base import ExecutionStore, SlotOutcome

CONTROL_NAMESPACE = "__control__"
KILLABLE = (State.CREATED, State.QUEUED, State.RUNNING, State.PAUSED)
RESTARTABLE = (State.FAILED, State.KILLED)


class ControlError(StratoflowError):
    """An execution-control action that does not apply to the execution as it is."""


def _execution(store: ExecutionStore, execution_id: str) -> Execution:
    execution: Execution | None = store.get_execution(execution_id)
    if execution is None:
        raise NotFoundError(f"execution {execution_id} does not exist")
    return execution


def request_kill(store: ExecutionStore, execution_id: str) -> list[str]:
    """Kill an execution and, transitively, its subflows; returns every execution id it asked to stop."""
    execution = _execution(store, execution_id)
    if execution.state not in KILLABLE:
        raise ControlError(
            f"execution {execution_id} is {execution.state}: only a created, queued, running or paused "
            "execution can be killed"
        )
    killed: list[str] = []
    pending = [execution_id]
    while pending:
        current = _execution(store, pending.pop())
        if current.state in (State.CREATED, State.QUEUED):
            store.update_execution(current.id, state=State.KILLED, error="killed before it started")
            # It never ran, so no finalize frees its slot: free it here (queued ones then start in turn
            # when whoever runs the flow's executions sweeps its slots).
            store.release_slot(current.namespace, current.flow_id, current.id)
        elif current.state in (State.RUNNING, State.PAUSED):
            store.update_execution(current.id, state=State.KILLING)
        else:
            continue
        killed.append(current.id)
        pending.extend(subflow_executions(store, current.id))
    return killed


def prepare_restart(store: ExecutionStore, execution_id: str, *, concurrency: bool = True) -> Execution:
    """A FAILED or KILLED execution goes back to RUNNING; its successful task runs will be kept.

    Like a new execution, it needs one of its flow's concurrency slots (`concurrency=False`: a child
    restarted by its parent's Subflow task, which admitted it without one). When none is free it is
    QUEUED (`behavior: QUEUE`: the end of a running one starts it, as any queued execution) or the
    restart is refused (CANCEL, FAIL), and the execution stays as it was.
    """
    execution = _execution(store, execution_id)
    if execution.state not in RESTARTABLE:
        raise ControlError(
            f"execution {execution_id} is {execution.state}: only a FAILED or KILLED execution can be restarted"
        )
    slot, limit = _restart_slot(store, execution) if concurrency else (SlotOutcome.TAKEN, 0)
    # The error of the run being restarted no longer applies ("" clears it: None means "unchanged").
    # Conditional on the state read: of two restarts at once, one wins and the other is refused.
    try:
        restarted: Execution = store.update_execution(
            execution_id,
            state=State.RUNNING if slot == SlotOutcome.TAKEN else State.QUEUED,
            error="",
            restarts=execution.restarts + 1,
            expected_states={execution.state},
        )
    except ConflictError:
        current = store.get_execution(execution_id)
        if slot == SlotOutcome.TAKEN and (current is None or current.state in RESTARTABLE):
            store.release_slot(execution.namespace, execution.flow_id, execution_id)
        raise ControlError(f"execution {execution_id} is being restarted already") from None
    if restarted.state == State.QUEUED:
        return enqueue(store, restarted, limit)
    return restarted


def _restart_slot(store: ExecutionStore, execution: Execution) -> tuple[SlotOutcome, int]:
    """Take a slot for a restart: TAKEN (or no limit), FULL when it must queue, with the flow's limit;
    raises when the flow refuses it."""
    flow = live_flow(store, execution.namespace, execution.flow_id)
    if flow is None or flow.concurrency is None or execution.concurrency_limited is False:
        # No limit now, or admitted without one (its end would not give a slot back).
        return SlotOutcome.TAKEN, 0
    limit, behavior = flow.concurrency.limit, flow.concurrency.behavior
    if store.take_slot(execution, limit) == SlotOutcome.TAKEN:
        return SlotOutcome.TAKEN, limit
    if behavior == "QUEUE":
        return SlotOutcome.FULL, limit
    running = len(store.slot_holders(execution.namespace, execution.flow_id))
    raise ControlError(
        f"execution {execution.id} cannot restart now: {running} of {limit} allowed execution(s) of "
        f"{execution.namespace}.{execution.flow_id} are running (concurrency behavior {behavior}); "
        "restart it when one has ended"
    )


def prepare_replay(store: ExecutionStore, flow: Flow, execution_id: str, from_task_id: str) -> Execution:
    """A new execution of the same revision that starts at `from_task_id`, reusing earlier outputs."""
    original = _execution(store, execution_id)
    if not original.state.is_terminal:
        raise ControlError(
            f"execution {execution_id} is {original.state}: only a finished execution can be replayed"
        )
    order = [task.id for task in flow.all_tasks()]
    if from_task_id not in order:
        raise ControlError(f"task '{from_task_id}' is not in flow {flow.namespace}.{flow.id}")
    # Kept: tasks that come before the chosen one and are not among its ancestors (those must run again).
    ancestors = {task.id for task in flow.task_parents(from_task_id)}
    before = set(order[: order.index(from_task_id)]) - ancestors
    replay = Execution(
        id=new_execution_id(),
        namespace=original.namespace,
        flow_id=original.flow_id,
        revision=original.revision,
        inputs=original.inputs,
        secret_inputs=original.secret_inputs,
        secret_names=original.secret_names,
        # The replay keeps the original's labels, `system.correlationId` included: same chain.
        labels={**original.labels, "system.replayOf": original.id},
        trigger=original.trigger,
        variables=original.variables,
        original_execution_id=original.original_execution_id or original.id,
    )
    store.create_execution(replay)
    old_runs = store.list_task_runs(execution_id)
    new_ids = {run.id: task_run_id_at(replay.id, run.task_id, run.scope_path) for run in old_runs}
    for run in old_runs:
        if run.task_id in before and run.state in DONE_STATES:
            store.save_task_run(
                run.model_copy(
                    update={
                        "id": new_ids[run.id],
                        "execution_id": replay.id,
                        "parent_task_run_id": new_ids.get(run.parent_task_run_id or ""),
                        "task_token": None,
                    }
                )
            )
    return replay


def _paused_run(store: ExecutionStore, execution_id: str) -> TaskRun:
    execution = _execution(store, execution_id)
    paused: list[TaskRun] = [
        r for r in store.list_task_runs(execution_id) if r.state == State.PAUSED and r.task_token
    ]
    if execution.state not in (State.RUNNING, State.PAUSED) or not paused:
        raise ControlError(
            f"execution {execution_id} is {execution.state} and has no paused task: nothing to resume"
        )
    return paused[0]


def request_resume(
    store: ExecutionStore, flow: Flow, execution_id: str, inputs: Mapping[str, JsonValue]
) -> TaskRun:
    """Record a resume of the paused task with its `onResume` inputs (typed and validated here)."""
    paused, values = resume_inputs(store, flow, execution_id, inputs)
    store.kv_set(CONTROL_NAMESPACE, resume_key(execution_id, paused.id), values)
    return paused


def resume_inputs(
    store: ExecutionStore, flow: Flow, execution_id: str, inputs: Mapping[str, JsonValue]
) -> tuple[TaskRun, dict[str, JsonValue]]:
    """The paused task run and its `onResume` inputs, typed; InputError names a bad or missing one."""
    paused = _paused_run(store, execution_id)
    task = flow.find_task(paused.task_id)
    declared = {i.id: i for i in getattr(task, "on_resume", None) or []}
    unknown = sorted(set(inputs) - set(declared))
    if unknown:
        raise InputError(unknown[0], f"is not an onResume input of task '{paused.task_id}'")
    values: dict[str, Any] = {}
    for input_id, spec in declared.items():
        if input_id in inputs:
            values[input_id] = spec.coerce(inputs[input_id])
        elif spec.defaults is not None:
            values[input_id] = spec.coerce(spec.defaults)
        elif spec.required:
            raise InputError(input_id, "is required to resume")
    return paused, values


def resume_key(execution_id: str, task_run_id: str) -> str:
    return f"resume/{execution_id}/{task_run_id}"
