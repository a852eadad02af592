"""What a flowable's timeout leaves behind: the task runs still running inside it are KILLED, as
Kestra kills them; those that ended before keep what they recorded.

The state machine has already stopped the body (the race's timer failed its Parallel, which stops the
body's branch before the fail call runs). A task whose Lambda still runs (it cannot be stopped from
outside) reads its run KILLED and stops its script; its late end is discarded (runner.kill_flag).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stratoflow.errors import ConflictError
from stratoflow.execution.runner.activity import record_saved
from stratoflow.states import State

if TYPE_CHECKING:
    from stratoflow.execution.runner.call import Call
    from stratoflow.runner_call import CaughtError

UNFINISHED = frozenset(state for state in State if not state.is_terminal)

TIMED_OUT = "Stratoflow.TimedOut"
"""A flowable's race timer (compiler.timeouts)."""
TASK_TIMED_OUT = "States.Timeout"
"""A Subflow's wait for its child (the Task state's TimeoutSeconds)."""


def is_own_timeout(call: Call, error: CaughtError) -> bool:
    """True when `error` is this flowable's own timeout (its race's timer, or the TimeoutSeconds of a
    Subflow's wait), not a child's."""
    if call.task.timeout is None:
        return False
    if type(call.task).type_name == "Subflow":
        return error.error == TASK_TIMED_OUT
    return error.error == TIMED_OUT and f"task '{call.task.id}' timed out" in (error.cause or "")


def timeout_message(call: Call) -> str:
    """The words of every timeout of a task (runner.run_with_timeout, the race's timer)."""
    timeout = call.task.timeout
    assert timeout is not None
    return f"task '{call.task.id}' timed out after {timeout} (timeout {max(1, math.ceil(timeout.total_seconds()))}s)"


def kill_running_inside(call: Call) -> None:
    """Close every unfinished task run enclosed (at any depth) by this flowable's run KILLED."""
    runs = call.store.list_task_runs(call.execution.id)
    children: dict[str | None, list[Any]] = {}
    for run in runs:
        children.setdefault(run.parent_task_run_id, []).append(run)
    now = datetime.now(UTC)
    reason = f"killed: task '{call.task.id}' timed out"
    pending = list(children.get(call.id, []))
    while pending:
        run = pending.pop()
        pending.extend(children.get(run.id, []))
        if run.state.is_terminal:
            continue
        attempts = list(run.attempts)
        if attempts and not attempts[-1].state.is_terminal:
            attempts[-1] = attempts[-1].model_copy(update={"state": State.KILLED, "end_date": now})
        update = {"state": State.KILLED, "end_date": now, "attempts": attempts, "error": run.error or reason}
        try:  # only while it still runs: an end its Lambda recorded meanwhile is kept
            saved = call.store.save_task_run(run.model_copy(update=update), UNFINISHED)
        except ConflictError:
            continue
        record_saved(run.state, saved)
