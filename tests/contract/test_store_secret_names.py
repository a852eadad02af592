"""The names of the secrets an execution read: added by each task run, never lost to a concurrent one."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from stratoflow.domain import Execution
from stratoflow.store import ExecutionStore

NewExecution = Callable[..., Execution]


def test_secret_names_are_added_and_kept(store: ExecutionStore, new_execution: NewExecution) -> None:
    # Given
    execution = new_execution("e1")

    # When
    store.update_execution(execution.id, secret_names=["DB_PASSWORD"])
    store.update_execution(execution.id, secret_names=["API_KEY", "DB_PASSWORD"])
    store.update_execution(execution.id, labels={"team": "a"})

    # Then
    stored = store.get_execution(execution.id)
    assert stored is not None and stored.secret_names == ["API_KEY", "DB_PASSWORD"]


def test_concurrent_task_runs_each_keep_their_secret_names(
    store: ExecutionStore, new_execution: NewExecution
) -> None:
    execution = new_execution("e1")
    names = [f"S{i}" for i in range(8)]

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda name: store.update_execution(execution.id, secret_names=[name]), names))

    stored = store.get_execution(execution.id)
    assert stored is not None and stored.secret_names == sorted(names)
