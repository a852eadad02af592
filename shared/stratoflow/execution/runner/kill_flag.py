"""A running task stops when the record says it no longer matters, and its late end is discarded.

Who stops a task run: the end call of a flowable that timed out records the task runs still running
inside it KILLED (`timeouts.kill_running_inside`), and `strato executions kill` records the execution
KILLING. Locally the engine also stops the attempt at once (the platform's `stopped_when`); in the
cloud a Lambda cannot be stopped from outside, so its runner polls the record (`kill_flag`, a read
every POLL_SECONDS while a command runs) and kills the command's process group; a command in the
flow's script sandbox, which may not read the table, is told through a stop object the runner writes
and the sandbox polls (`cloud.runtime.script_sandbox`).

Either way the runner's end is a conditional save (`ENDING_FROM`): a task run that was KILLED while
it ran keeps KILLED, whatever the task's late result.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from stratoflow.states import State
from stratoflow.store.base import ExecutionStore

POLL_SECONDS = 2.0
"""How often a running script reads its task run and execution (two reads each time)."""

ENDING_FROM: frozenset[State] = frozenset(State) - {State.KILLED}
"""The states a task run may be in for its runner to record the end of an attempt: any but KILLED
(the runner itself moves it on within an attempt: a failed `runIf` records FAILED, then the failure)."""

KILLED_EXECUTION: frozenset[State] = frozenset({State.KILLING, State.KILLED})


def kill_flag(
    store: ExecutionStore,
    execution_id: str,
    task_run_id: str,
    clock: Callable[[], float] = time.monotonic,
    every: float = POLL_SECONDS,
) -> Callable[[], str | None]:
    """A stop check (`process.stopped_when`) that reads the record at most once per `every` seconds."""
    last = clock()

    def check() -> str | None:
        nonlocal last
        if clock() - last < every:
            return None
        last = clock()
        run = store.get_task_run(execution_id, task_run_id)
        if run is not None and run.state == State.KILLED:
            return run.error or "its task run was killed"
        execution = store.get_execution(execution_id)
        if execution is not None and execution.state in KILLED_EXECUTION:
            return f"its execution is {execution.state}"
        return None

    return check
