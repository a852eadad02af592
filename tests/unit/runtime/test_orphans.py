"""Executions whose process died: the next local process fails them, frees their slots and says so."""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from stratoflow.domain import TaskRun
from stratoflow.engine import VirtualClock
from stratoflow.execution.control import prepare_restart, request_resume
from stratoflow.local import LocalPlatform
from stratoflow.states import State

# `hold: true` sleeps for an hour on a real clock: the execution keeps its only slot meanwhile.
FLOW = textwrap.dedent(
    """
    id: limited
    namespace: team
    concurrency: {limit: 1, behavior: QUEUE}
    inputs:
      - {id: hold, type: BOOLEAN, defaults: false}
    tasks:
      - id: first
        type: Return
        format: "one"
      - id: wait
        type: Sleep
        duration: PT1H
        runIf: "{{ inputs.hold }}"
      - id: done
        type: Return
        format: "done"
    """
)
PAUSING = FLOW.replace("type: Sleep", "type: Pause").replace("duration: PT1H", "description: held")
assert "Pause" in PAUSING


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The home of conftest's `platform`, which other processes of a test share."""
    return tmp_path / "home"


def test_an_execution_admitted_by_a_dead_process_is_failed_and_its_queue_moves(
    home: Path, platform: LocalPlatform
) -> None:
    # Given a process that admitted an execution (it holds the only slot) and died before running it,
    # and an execution queued behind it
    dead = LocalPlatform(home, clock=VirtualClock())
    flow, record = dead.deploy_source(FLOW, "limited.yaml")
    orphan = dead.admit(flow, record, {})
    queued = platform.admit(flow, record, {})
    assert (orphan.state, queued.state) == (State.CREATED, State.QUEUED)
    dead.lease.release()  # what the operating system does when the process ends

    # When another process recovers orphans
    recovered = platform.recover_orphans()

    # Then the orphan ended FAILED, saying why and how to run it again
    assert [e.id for e in recovered] == [orphan.id]
    failed = platform.store.get_execution(orphan.id)
    assert failed is not None and failed.state == State.FAILED
    assert f"pid {os.getpid()}" in (failed.error or "")
    assert f"strato restart {orphan.id}" in (failed.error or "")
    # and the queued one got its slot and ran here
    platform.join()
    ran = platform.store.get_execution(queued.id)
    assert ran is not None and ran.state == State.SUCCESS
    assert platform.store.execution_owners() == {}
    # and a second sweep finds nothing
    assert platform.recover_orphans() == []


def test_the_error_says_the_process_ended_even_after_a_task_failed(
    home: Path, platform: LocalPlatform
) -> None:
    # Given an orphan one of whose task runs had failed (its retry was pending when the process died)
    dead = LocalPlatform(home, clock=VirtualClock())
    flow, record = dead.deploy_source(FLOW, "limited.yaml")
    orphan = dead.admit(flow, record, {})
    dead.store.update_execution(orphan.id, state=State.RUNNING)
    dead.store.save_task_run(
        TaskRun(id="first-run", execution_id=orphan.id, task_id="first", state=State.FAILED, error="boom")
    )
    dead.lease.release()

    [failed] = platform.recover_orphans()

    assert failed.state == State.FAILED
    assert (failed.error or "").startswith("the process running it (pid ")


def test_executions_of_a_live_process_are_left_alone(home: Path, platform: LocalPlatform) -> None:
    flow, record = platform.deploy_source(FLOW, "limited.yaml")
    mine = platform.admit(flow, record, {})
    other = LocalPlatform(home, clock=VirtualClock())  # another live process on the same home
    try:
        assert other.recover_orphans() == []
        assert platform.recover_orphans() == []
        current = platform.store.get_execution(mine.id)
        assert current is not None and current.state == State.CREATED
    finally:
        platform.run(mine)
        other.close()
    assert platform.store.execution_owners() == {}


def test_a_failed_orphan_restarts_from_the_task_that_was_running(home: Path, platform: LocalPlatform) -> None:
    # Given an execution whose process died while its first task had succeeded and the next ran
    dead = LocalPlatform(home)
    flow, record = dead.deploy_source(FLOW, "limited.yaml")
    orphan = dead.admit(flow, record, {"hold": True})
    running = dead.start(orphan)
    _wait_for(lambda: any(r.task_id == "wait" for r in dead.store.list_task_runs(orphan.id)))
    dead.lease.release()
    platform.recover_orphans()
    runs = {r.task_id: r.state for r in platform.store.list_task_runs(orphan.id)}
    assert runs == {"first": State.SUCCESS, "wait": State.FAILED}

    # When it is restarted (the dead process's engine is stopped first: it stands for a dead process)
    running.stop(error="Killed", cause="the test's stand-in for a dead process")
    running.wait()
    dead.watcher.close()
    dead.store.close()
    here = LocalPlatform(home)  # a real clock: the sleep lasts
    try:
        restarted = prepare_restart(here.store, orphan.id)
        running_again = here.start(restarted)
        _wait_for(lambda: _runs(here, orphan.id)["wait"].state == State.RUNNING)
        running_again.stop(error="Killed", cause="the sleep would last an hour")
        outcome = here.finish(restarted, running_again)
    finally:
        here.close()

    # Then the succeeded task was not run again, and the one that was running ran again (it slept
    # again above: a FAILED task run does not sleep)
    runs = {r.task_id: r for r in outcome.task_runs}
    assert (runs["first"].state, len(runs["first"].attempts)) == (State.SUCCESS, 1)
    assert runs["wait"].state == State.KILLED


def test_a_paused_orphan_stays_paused_and_resumes_in_another_process(
    home: Path, platform: LocalPlatform
) -> None:
    # Given an execution paused by a process that then died
    dead = LocalPlatform(home, clock=VirtualClock())
    flow, record = dead.deploy_source(PAUSING, "limited.yaml")
    orphan = dead.admit(flow, record, {"hold": True})
    running = dead.start(orphan)
    _wait_for(lambda: _execution_state(dead, orphan.id) == State.PAUSED)
    running.stop(error="Killed", cause="the test's stand-in for a dead process")
    running.wait()
    dead.watcher.close()
    dead.store.close()
    dead.lease.release()

    # When another process recovers orphans
    recovered = platform.recover_orphans()

    # Then the paused execution is not failed: it stays PAUSED, run by no process, holding its slot
    assert recovered == []
    assert _execution_state(platform, orphan.id) == State.PAUSED
    assert platform.store.execution_owners() == {}
    assert not platform.runs_elsewhere(orphan.id)

    # When it is resumed there (what `strato resume` does when the pausing process is gone)
    request_resume(platform.store, flow, orphan.id, {})
    outcome = platform.run(platform.resume_here(orphan.id))

    # Then it continued from its pause to its end, its first task not run again
    runs = {r.task_id: r for r in outcome.task_runs}
    assert outcome.execution.state == State.SUCCESS
    assert [len(runs[t].attempts) for t in ("first", "wait", "done")] == [1, 1, 1]
    assert runs["done"].state == State.SUCCESS


def _execution_state(platform: LocalPlatform, execution_id: str) -> State | None:
    execution = platform.store.get_execution(execution_id)
    return execution.state if execution else None


def _runs(platform: LocalPlatform, execution_id: str) -> dict[str, TaskRun]:
    return {run.task_id: run for run in platform.store.list_task_runs(execution_id)}


def _state_of_wait(home: Path) -> str | None:
    if not (home / "stratoflow.db").exists():
        return None
    try:
        with sqlite3.connect(home / "stratoflow.db") as db:
            row = db.execute("SELECT data FROM task_runs WHERE task_id = 'wait'").fetchone()
    except sqlite3.OperationalError:  # the schema is being created
        return None
    return str(json.loads(row[0])["state"]) if row else None


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("the condition was not met in time")
