"""What the task runner's calls did to task runs, for whoever hosts the runner (the task-runner Lambda
turns it into metrics and log keys; the library itself stays free of any metrics SDK).

    with recording_task_runs() as activity:
        runner.handle(event)
    activity.ended      # task runs that reached a terminal state in these calls
    activity.attempt    # the attempt number of the last task run saved

Recording is per context (a `ContextVar`), so calls on other threads record nothing here unless they
run in a copy of this context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from stratoflow.domain import TaskRun
from stratoflow.states import State

_ACTIVITY: ContextVar[TaskRunActivity | None] = ContextVar("stratoflow_task_run_activity", default=None)


class TaskRunActivity:
    """The task runs saved while recording: the latest version of each, and those that ended."""

    def __init__(self, on_save: Callable[[TaskRun], None] | None = None):
        self.saved: dict[str, TaskRun] = {}
        self.ended: list[TaskRun] = []
        self._last: TaskRun | None = None
        self._on_save = on_save

    def record(self, before: State, after: TaskRun) -> None:
        """A task run was saved; it ended when it moved from a running state to a terminal one."""
        self.saved[after.id] = after
        self._last = after
        if after.state.is_terminal and not before.is_terminal:
            self.ended.append(after)
        if self._on_save is not None:
            self._on_save(after)

    @property
    def attempt(self) -> int | None:
        """The attempt (1, 2, ...) of the last task run saved; None before any attempt was recorded."""
        if self._last is None or not self._last.attempts:
            return None
        return len(self._last.attempts)


@contextmanager
def recording_task_runs(on_save: Callable[[TaskRun], None] | None = None) -> Iterator[TaskRunActivity]:
    """Record the task runs the runner saves inside the block; `on_save` sees each save as it happens."""
    activity = TaskRunActivity(on_save)
    token = _ACTIVITY.set(activity)
    try:
        yield activity
    finally:
        _ACTIVITY.reset(token)


def record_saved(before: State, after: TaskRun) -> None:
    """Called by the runner after each task-run save; records nothing outside `recording_task_runs`."""
    activity = _ACTIVITY.get()
    if activity is not None:
        activity.record(before, after)
