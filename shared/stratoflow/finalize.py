"""The end of an execution: its Stratoflow state from the engine's verdict and its task runs.

Step Functions says SUCCEEDED, FAILED, TIMED_OUT or ABORTED; Stratoflow's states are richer. An Exit
task's requested state wins; a success with a WARNING task run is a WARNING; an abort is KILLED. Task
runs left unfinished (a state timed out by Step Functions, an abort) are closed so that no record stays
RUNNING.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stratoflow.domain import Execution, TaskRun
from stratoflow.states import State

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


def finalize_execution(store: Any, execution_id: str, status: str, error: str | None = None) -> Execution:
    """Record the final state of an execution and close its unfinished task runs."""
    execution: Execution = store.get_execution(execution_id)
    if execution.state.is_terminal:
        return execution
    now = datetime.now(UTC)
    runs = store.list_task_runs(execution_id)
    closing = State.KILLED if status == "ABORTED" else State.FAILED
    for run in runs:
        if not run.state.is_terminal:
            reason = "the execution was killed" if closing == State.KILLED else f"the execution ended ({status})"
            attempts = list(run.attempts)
            if attempts and not attempts[-1].state.is_terminal:
                attempts[-1] = attempts[-1].model_copy(update={"state": closing, "end_date": now})
            store.save_task_run(
                run.model_copy(
                    update={"state": closing, "end_date": now, "attempts": attempts, "error": run.error or reason}
                )
            )
    state = final_state(execution, status, [r.state for r in runs])
    message = execution.error
    if state.is_failure and message is None:
        failed = [r for r in runs if r.state == State.FAILED and r.error and not _tolerated(r, runs)]
        message = f"{failed[0].task_id}: {failed[0].error}" if failed else error
    if execution.state in (State.CREATED, State.QUEUED):
        store.update_execution(execution_id, state=State.RUNNING)
    return store.update_execution(execution_id, state=state, end_date=now, error=message)  # type: ignore[no-any-return]


def _tolerated(run: TaskRun, runs: list[TaskRun]) -> bool:
    """A failure under a WARNING ancestor (AllowFailure, allowFailure) did not fail the execution."""
    by_id = {r.id: r for r in runs}
    parent = by_id.get(run.parent_task_run_id or "")
    while parent is not None:
        if parent.state == State.WARNING:
            return True
        parent = by_id.get(parent.parent_task_run_id or "")
    return False
