"""Task runs still going when their execution ends are closed: KILLED when another task's failure (or a
kill) ended it, FAILED when nothing else failed (one of them is then the cause)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratoflow.domain import Attempt, TaskRun
from stratoflow.execution.finalize import finish_execution
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore
from tests.unit.runtime.test_finish_slots import admitted


def _run(store: SqliteExecutionStore, execution_id: str, task_id: str, state: State) -> None:
    store.save_task_run(
        TaskRun(
            id=f"{execution_id}_{task_id}",
            execution_id=execution_id,
            task_id=task_id,
            task_type="Log",
            state=state,
            attempts=[Attempt(state=state)],
        )
    )


@pytest.mark.parametrize(
    ("status", "failed_before", "closed_as"),
    [
        ("FAILED", True, State.KILLED),  # a Parallel's other branch, stopped by the failure
        ("FAILED", False, State.FAILED),  # nothing else failed: the unfinished run is the cause
        ("ABORTED", False, State.KILLED),
        ("TIMED_OUT", True, State.FAILED),
    ],
)
def test_a_task_run_left_running_is_closed_by_what_ended_its_execution(
    tmp_path: Path, status: str, failed_before: bool, closed_as: State
) -> None:
    # Given an execution with a task run still RUNNING, and maybe another one that FAILED
    store = SqliteExecutionStore(tmp_path / "s.db")
    execution = admitted(store)
    if failed_before:
        _run(store, execution.id, "boom", State.FAILED)
    _run(store, execution.id, "other", State.RUNNING)

    # When the execution ends
    finish_execution(store, execution.id, status)

    # Then the run left going is closed, with its last attempt
    closed = store.get_task_run(execution.id, f"{execution.id}_other")
    assert closed is not None
    assert closed.state == closed_as
    assert closed.attempts[-1].state == closed_as
    assert closed.end_date is not None
    store.close()
