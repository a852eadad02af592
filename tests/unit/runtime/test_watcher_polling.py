"""The control watcher reads an execution's task runs only while one of its tasks waits on a token."""

from __future__ import annotations

from typing import Any

from stratoflow.local.watcher import ControlWatcher
from stratoflow.states import State


class CountingStore:
    """Just enough of the execution store for `ControlWatcher.check`, counting task-run listings."""

    def __init__(self) -> None:
        self.listings = 0

    def get_execution(self, execution_id: str) -> Any:
        return type("Record", (), {"state": State.RUNNING})()

    def list_task_runs(self, execution_id: str) -> list[Any]:
        self.listings += 1
        return []


class Running:
    def __init__(self, waiting: bool):
        self.waiting = waiting

    def waits_for_token(self) -> bool:
        return self.waiting


def test_task_runs_are_read_only_while_a_task_waits_on_a_token() -> None:
    # Given a watcher over a store that counts how often it lists task runs
    store = CountingStore()
    watcher = ControlWatcher(store, callbacks=None)

    # When it checks an execution with no waiting task, then one with a paused task
    watcher.check("busy", Running(waiting=False))
    watcher.check("paused", Running(waiting=True))

    # Then only the second check read the task runs (1,000 of them in a big loop)
    assert store.listings == 1
