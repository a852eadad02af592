"""The runner stops waiting for a runnable task when the stop check around its attempt fires (a
flowable's timeout around it, a kill): the attempt is abandoned, the task's cancel hook is called, and
its thread can write nothing afterwards (`runner.abandon`, `run_within_timeout`)."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stratoflow.domain import Execution, TaskRun
from stratoflow.execution.runner.abandon import needs_watching
from stratoflow.execution.runner.attempts import run_within_timeout
from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.flow import load_flow
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore
from stratoflow.store.local import LocalBlobStore
from stratoflow.tasks.errors import TaskStopped, TaskTimeout
from stratoflow.tasks.scripts.process import stopped_when


class Blocking(RunnableTask):
    """Blocks until its cancel hook is called, then tries to write, as a late HTTP task would."""

    type_name: ClassVar[str] = "test.Blocking"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        cancelled = threading.Event()
        ctx.on_stop(cancelled.set)
        RECORD["started"].set()
        if not cancelled.wait(30):
            return {"late": "never cancelled"}
        writes = {
            "kv": lambda: ctx.kv_set("late", "written after it was abandoned"),
            "file": lambda: ctx.put_file("late.txt", b"late"),
            "labels": lambda: ctx.add_labels({"late": "yes"}),
        }
        for name, write in writes.items():
            try:
                write()
            except TaskStopped as refused:
                RECORD.setdefault("refused", {})[name] = str(refused)
        RECORD["ended"].set()
        return {"late": "result"}


class Quick(RunnableTask):
    type_name: ClassVar[str] = "test.Quick"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        return {"thread": threading.current_thread().name}


RECORD: dict[str, Any] = {}


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[TaskRunContext]:
    RECORD.clear()
    RECORD.update(started=threading.Event(), ended=threading.Event())
    with SqliteExecutionStore(tmp_path / "db.sqlite") as store:
        execution = Execution(id="e1", namespace="team", flow_id="etl", revision=1, state=State.RUNNING)
        store.create_execution(execution)
        run = TaskRun(id="tr", execution_id="e1", task_id="slow", state=State.RUNNING)
        yield TaskRunContext(store, LocalBlobStore(tmp_path / "blobs"), execution, run, {}, attempt=1)


def test_a_watched_attempt_is_abandoned_when_the_stop_check_fires(ctx: TaskRunContext) -> None:
    # Given a task that blocks, run watched under a stop check that fires once it has started
    task = Blocking(id="slow", type="test.Blocking")

    def stop() -> str | None:
        return "killed: task 'outer' timed out" if RECORD["started"].is_set() else None

    # When the runner runs it
    with stopped_when(stop), pytest.raises(TaskStopped) as stopped:
        run_within_timeout(task, ctx, watched=True)

    # Then the attempt was abandoned with the check's reason, and the task's cancel hook ended its work
    assert "task 'slow' was stopped: killed: task 'outer' timed out" in str(stopped.value)
    assert RECORD["ended"].wait(10)
    # ... and what its thread tried to write afterwards was refused
    assert sorted(RECORD["refused"]) == ["file", "kv", "labels"]
    assert all("the attempt was abandoned" in message for message in RECORD["refused"].values())
    assert ctx.store.kv_get("team", "late") == (False, None)
    execution = ctx.store.get_execution("e1")
    assert execution is not None and "late" not in execution.labels


def test_a_task_outliving_its_own_timeout_is_abandoned_the_same_way(ctx: TaskRunContext) -> None:
    # Given a task that blocks, with a timeout of its own
    task = Blocking(id="slow", type="test.Blocking", timeout="PT0.3S")

    # When the runner runs it / Then it times out, and its cancel hook ended its work
    with pytest.raises(TaskTimeout, match="task 'slow' timed out after"):
        run_within_timeout(task, ctx, watched=True)
    assert RECORD["ended"].wait(10)
    assert sorted(RECORD["refused"]) == ["file", "kv", "labels"]


def test_a_hook_registered_after_the_attempt_was_abandoned_is_called_at_once(ctx: TaskRunContext) -> None:
    # Given an abandoned attempt
    ctx.stop("killed")
    called = threading.Event()

    # When its task registers a cancel hook / Then it is called at once
    ctx.on_stop(called.set)
    assert called.is_set()


def test_an_unwatched_attempt_runs_on_the_runners_own_thread(ctx: TaskRunContext) -> None:
    # Given a task without a timeout and no flowable timeout around it (no thread to pay for)
    task = Quick(id="quick", type="test.Quick")

    # When the runner runs it, a stop check installed (as the platforms always do)
    with stopped_when(lambda: None):
        outputs = run_within_timeout(task, ctx, watched=False)

    # Then it ran on this thread
    assert outputs == {"thread": threading.current_thread().name}


FLOW = """
    id: watched
    namespace: team
    tasks:
      - id: outer
        type: Parallel
        timeout: PT1S
        tasks:
          - {id: inside, type: Return, format: x}
          - {id: script, type: io.kestra.plugin.scripts.shell.Commands, commands: [sleep 5]}
      - id: plain
        type: Sequential
        tasks:
          - {id: free, type: Return, format: x}
          - {id: own, type: Return, format: x, timeout: PT5S}
"""


def test_only_tasks_under_a_timeout_that_do_not_stop_themselves_are_watched() -> None:
    # Given a flow with a timed Parallel (a Return and a script inside) and an untimed Sequential
    flow = load_flow(textwrap.dedent(FLOW))

    def watched(task_id: str) -> bool:
        task = flow.find_task(task_id)
        assert isinstance(task, RunnableTask)
        return needs_watching(flow, task)

    # Then the Return inside the timeout and the one with its own are watched; the script stops
    # itself, and the free task runs as before
    assert [watched(t) for t in ("inside", "script", "free", "own")] == [True, False, False, True]
