"""A task run killed while it runs stays KILLED: the runner's late end is discarded, and a running
script reads the kill from the record (`runner.kill_flag`), as the cloud's Lambdas must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stratoflow.domain import Execution, TaskRun
from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.execution.runner.kill_flag import kill_flag
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore
from stratoflow.tasks.core import Return
from tests.unit.runtime.conftest import RunFlow, by_task

LATE = """
    id: late
    namespace: team
    tasks:
      - id: slow
        type: Return
        format: finished
"""


def test_an_end_after_the_run_was_killed_is_discarded(
    run_flow: RunFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task whose run is recorded KILLED while it runs (what the end call of a timed-out
    # flowable does in the cloud, while the task's Lambda runs on)
    original = Return.run

    def killed_meanwhile(self: Return, ctx: TaskRunContext) -> dict[str, Any]:
        run = ctx.store.get_task_run(ctx.execution.id, ctx.task_run.id)
        assert run is not None
        ctx.store.save_task_run(run.model_copy(update={"state": State.KILLED, "error": "killed: timed out"}))
        return original(self, ctx)

    monkeypatch.setattr(Return, "run", killed_meanwhile)

    # When it ends with a result
    outcome = run_flow(LATE)

    # Then its late SUCCESS did not overwrite the record: the run stays KILLED, without outputs
    run = by_task(outcome)["slow"][0]
    assert run.state == State.KILLED
    assert run.error == "killed: timed out"
    assert run.outputs == {}


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with SqliteExecutionStore(tmp_path / "db.sqlite") as store:
        store.create_execution(
            Execution(id="e1", namespace="team", flow_id="etl", revision=1, state=State.RUNNING)
        )
        store.save_task_run(TaskRun(id="tr", execution_id="e1", task_id="slow", state=State.RUNNING))
        yield store


def test_the_kill_flag_reads_the_record_at_most_once_per_interval(store: SqliteExecutionStore) -> None:
    # Given a running task run and its kill flag, read every 2 s
    ticks = Ticks()
    check = kill_flag(store, "e1", "tr", clock=ticks, every=2.0)
    run = store.get_task_run("e1", "tr")
    assert run is not None

    # When the run is recorded KILLED
    store.save_task_run(
        run.model_copy(update={"state": State.KILLED, "error": "killed: task 'body' timed out"})
    )

    # Then the flag sees it at its next read, not before
    ticks.now = 1.0
    assert check() is None
    ticks.now = 2.5
    assert check() == "killed: task 'body' timed out"


def test_the_kill_flag_sees_a_killed_execution(store: SqliteExecutionStore) -> None:
    # Given a running task run, then `strato executions kill` on its execution
    ticks = Ticks()
    check = kill_flag(store, "e1", "tr", clock=ticks, every=2.0)
    ticks.now = 3.0
    assert check() is None
    store.update_execution("e1", state=State.KILLING)

    # When the flag is read again / Then it names the kill
    ticks.now = 6.0
    assert check() == "its execution is KILLING"
