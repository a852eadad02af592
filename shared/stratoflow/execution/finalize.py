"""The end of an execution: its Stratoflow state from the engine's verdict and its task runs.

Step Functions says SUCCEEDED, FAILED, TIMED_OUT or ABORTED; Stratoflow's states are richer. An Exit
task's requested state wins; a success with a WARNING task run is a WARNING; an abort is KILLED. Task
runs left unfinished (a state timed out by Step Functions, an abort) are closed so that no record stays
RUNNING; a host recording task-run activity (`runner.recording_task_runs`) sees them end.

Whatever the end (success, failure, kill, timeout, abort), the execution's concurrency slot is freed
and the trigger that started it is disabled when the end is one of its `stopAfter` states.
`finish_execution` also moves the oldest queued executions of the flow into the free slots and
returns them, and applies the flow's `retry` to a FAILED execution (`stratoflow.execution.flow_retry`): its
caller (the local platform, the cloud's execution-events handler) starts the promoted executions and
carries out the retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.execution.flow_retry import FlowRetry, plan_retry
from stratoflow.execution.flows import execution_flow
from stratoflow.execution.runner.activity import record_saved
from stratoflow.execution.runner.context import render_context
from stratoflow.execution.runner.outputs import ExecutionOutputs
from stratoflow.execution.sla import ending_state, misses_at_end, record_misses
from stratoflow.execution.slots import release_and_promote
from stratoflow.states import State
from stratoflow.store.base import BlobStore, ExecutionStore, TriggerState

_STATE_WRITE_ATTEMPTS = 5

ENGINE_STATES = {
    "SUCCEEDED": State.SUCCESS,
    "FAILED": State.FAILED,
    "TIMED_OUT": State.FAILED,
    "ABORTED": State.KILLED,
}


def final_state(execution: Execution, status: str, task_states: list[State]) -> State:
    if execution.exit_state is not None:
        return execution.exit_state
    state = ENGINE_STATES.get(status, State.FAILED)
    if state == State.SUCCESS and State.WARNING in task_states:
        return State.WARNING
    return state


@dataclass(frozen=True)
class Finished:
    """An execution that ended, the queued executions its slot let in (RUNNING: start them) and the
    retry its flow's `retry` asks for (carry it out after `retry.delay`)."""

    execution: Execution
    promoted: list[Execution] = field(default_factory=list)
    retry: FlowRetry | None = None
    sla_missed: list[str] = field(default_factory=list)  # ids of the SLAs its end found missed


def finish_execution(
    store: ExecutionStore,
    execution_id: str,
    status: str,
    error: str | None = None,
    *,
    promote: bool = True,
    ran: timedelta | None = None,
    blobs: BlobStore | None = None,
) -> Finished:
    """Record the end of an execution, free its slot and promote the queued executions that fit now.

    `promote=False` (a platform shutting down) leaves the queue as it is, for the next start. `ran` is
    the engine's run time (MAX_DURATION SLAs with behavior NONE), `blobs` where large task outputs
    live (for an EXECUTION_ASSERTION that reads them).
    """
    missed: list[str] = []
    execution = _record_end(store, execution_id, status, error, ran, blobs, missed)
    retry = plan_retry(store, execution)
    if retry is not None and not retry.restart:
        execution = store.get_execution(execution_id) or execution  # RETRIED now
    apply_stop_after(store, execution)
    if not may_hold_slot(execution):
        return Finished(execution, retry=retry, sla_missed=missed)
    if not promote:
        store.release_slot(execution.namespace, execution.flow_id, execution.id)
        return Finished(execution, retry=retry, sla_missed=missed)
    return Finished(execution, release_and_promote(store, execution), retry, missed)


def finalize_execution(
    store: ExecutionStore, execution_id: str, status: str, error: str | None = None
) -> Execution:
    """Record the final state of an execution, close its unfinished task runs and free its slot.

    Queued executions of the flow are not promoted: a caller of a flow with a concurrency limit uses
    `finish_execution`, which returns them to start.
    """
    execution = _record_end(store, execution_id, status, error, None, None, [])
    apply_stop_after(store, execution)
    if may_hold_slot(execution):
        store.release_slot(execution.namespace, execution.flow_id, execution.id)
    return execution


def may_hold_slot(execution: Execution) -> bool:
    """False for an execution admitted without a concurrency limit: its end spares the slot write."""
    return execution.concurrency_limited is not False


def apply_stop_after(store: ExecutionStore, execution: Execution) -> bool:
    """Disable the trigger that started `execution` if it ended in one of the trigger's `stopAfter`
    states; True when it did."""
    trigger_id = (execution.trigger or {}).get("id")
    if not isinstance(trigger_id, str) or not execution.state.is_terminal:
        return False
    flow = execution_flow(store, execution)
    model = flow.trigger(trigger_id) if flow is not None else None
    if model is None or execution.state not in model.stop_after:
        return False
    reason = f"stopAfter: execution {execution.id} ended {execution.state}"
    key = (execution.namespace, execution.flow_id, trigger_id)
    for _ in range(_STATE_WRITE_ATTEMPTS):
        current = store.get_trigger_state(*key)
        state = current or TriggerState(namespace=key[0], flow_id=key[1], trigger_id=key[2])
        changed = state.model_copy(
            update={"disabled": True, "reason": reason, "last_execution_id": execution.id}
        )
        try:  # against the version read: a schedule may be recording its last date meanwhile
            store.put_trigger_state(changed, expected_version=state.version)
            return True
        except ConflictError:
            continue
    raise ConflictError(f"trigger {'.'.join(key)}: its state keeps changing; stopAfter not recorded")


def _record_end(
    store: ExecutionStore,
    execution_id: str,
    status: str,
    error: str | None,
    ran: timedelta | None,
    blobs: BlobStore | None,
    missed: list[str],
) -> Execution:
    """Record the end; the ids of the SLAs it found missed are added to `missed`."""
    execution = store.get_execution(execution_id)
    if execution is None:
        raise NotFoundError(f"execution {execution_id} does not exist")
    if execution.state.is_terminal:
        return execution
    now = datetime.now(UTC)
    runs = store.list_task_runs(execution_id)
    closing = State.KILLED if status == "ABORTED" else State.FAILED
    if status == "FAILED" and first_failure(runs) is not None:
        # Another task's failure ended it: what still ran was stopped by it (as Step Functions stops a
        # Parallel's other branches, and Kestra kills them), not failed. With no failed run to blame,
        # one of the unfinished ones is the cause (a runner fault, a timeout): those end FAILED.
        closing = State.KILLED
    for run in runs:
        if not run.state.is_terminal:
            reason = (
                "the execution was killed"
                if status == "ABORTED"
                else f"stopped: the execution ended ({status})"
                if closing == State.KILLED
                else f"the execution ended ({status})"
            )
            attempts = list(run.attempts)
            if attempts and not attempts[-1].state.is_terminal:
                attempts[-1] = attempts[-1].model_copy(update={"state": closing, "end_date": now})
            closed = store.save_task_run(
                run.model_copy(
                    update={
                        "state": closing,
                        "end_date": now,
                        "attempts": attempts,
                        "error": run.error or reason,
                    }
                )
            )
            record_saved(run.state, closed)  # its end counts in the task metrics, as the runner's do
    state = final_state(execution, status, [r.state for r in runs])
    message = execution.error
    verdict = _sla_verdict(store, execution, status, state, ran, blobs, missed)
    if verdict is not None:
        state, message = verdict
    if state.is_failure and not message:
        failed = first_failure(runs)
        message = f"{failed.task_id}: {failed.error}" if failed is not None and failed.error else error
    if execution.state in (State.CREATED, State.QUEUED):
        store.update_execution(execution_id, state=State.RUNNING)
    return store.update_execution(execution_id, state=state, end_date=now, error=message)


def _sla_verdict(
    store: ExecutionStore,
    execution: Execution,
    status: str,
    state: State,
    ran: timedelta | None,
    blobs: BlobStore | None,
    missed: list[str],
) -> tuple[State, str] | None:
    """Apply the SLAs the execution missed (stratoflow.execution.sla); the state and error they end it in."""
    if execution.has_sla is False or status == "ABORTED":  # a kill is not an SLA's to judge
        return None
    flow = execution_flow(store, execution)
    if flow is None or not flow.sla:
        return None

    def context() -> dict[str, Any]:
        # `execution.state` is the end the engine gave, before the SLAs judge it.
        current = (store.get_execution(execution.id) or execution).model_copy(update={"state": state})
        return render_context(flow, current, ExecutionOutputs(store, blobs, execution.id, flow))

    misses = record_misses(store, execution, misses_at_end(flow, execution, status, ran, context))
    missed.extend(miss.sla.id for miss in misses)
    return ending_state(misses)


def first_failure(runs: list[TaskRun]) -> TaskRun | None:
    """The first task run (in creation order) whose failure failed the execution."""
    return next((r for r in runs if r.state == State.FAILED and not _tolerated(r, runs)), None)


def _tolerated(run: TaskRun, runs: list[TaskRun]) -> bool:
    """A failure under a WARNING ancestor (AllowFailure, allowFailure) did not fail the execution."""
    by_id = {r.id: r for r in runs}
    parent = by_id.get(run.parent_task_run_id or "")
    while parent is not None:
        if parent.state == State.WARNING:
            return True
        parent = by_id.get(parent.parent_task_run_id or "")
    return False
