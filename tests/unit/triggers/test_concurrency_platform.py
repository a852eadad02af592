"""The local platform honours concurrency limits: it starts what finalize promotes, on the real engine."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from stratoflow.domain import Execution
from stratoflow.engine import VirtualClock
from stratoflow.errors import ConflictError
from stratoflow.local import LocalPlatform
from stratoflow.states import State

# `hold: true` pauses until resumed (or killed): the execution keeps its slot meanwhile.
FLOW = textwrap.dedent(
    """
    id: limited
    namespace: team
    concurrency: {limit: 1, behavior: QUEUE}
    inputs:
      - {id: hold, type: BOOLEAN, defaults: false}
    tasks:
      - id: wait
        type: Pause
        runIf: "{{ inputs.hold }}"
      - id: done
        type: Return
        format: "done"
    """
)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LocalPlatform]:
    platform = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    yield platform
    platform.close()


def test_a_queued_execution_runs_when_the_running_one_is_killed(platform: LocalPlatform) -> None:
    # Given a running execution that holds the only slot, and one queued behind it
    flow, record = platform.deploy_source(FLOW, "limited.yaml")
    first = platform.admit(flow, record, {"hold": True})
    second = platform.admit(flow, record, {})
    assert (first.state, second.state) == (State.CREATED, State.QUEUED)
    running = platform.start(first)

    # When the first is killed
    running.stop(error="Killed", cause="killed by a test")
    outcome = platform.finish(first, running)

    # Then it ends KILLED and the platform runs the queued one in its slot, to the end
    assert outcome.execution.state == State.KILLED
    platform.join()  # waits for the executions it launched
    final = platform.store.get_execution(second.id)
    assert final is not None and final.state == State.SUCCESS
    assert platform.store.slot_holders("team", "limited") == []


def test_a_queued_execution_cannot_be_started_around_the_queue(platform: LocalPlatform) -> None:
    flow, record = platform.deploy_source(FLOW, "limited.yaml")
    platform.admit(flow, record, {"hold": True})
    queued = platform.admit(flow, record, {})

    with pytest.raises(ConflictError, match="QUEUED"):
        platform.start(queued)


def test_every_queued_execution_runs_one_after_the_other(platform: LocalPlatform) -> None:
    # Given five executions admitted while the first one is held
    flow, record = platform.deploy_source(FLOW, "limited.yaml")
    first = platform.admit(flow, record, {"hold": True})
    others = [platform.admit(flow, record, {}) for _ in range(4)]
    ended: list[Execution] = []
    platform.finished_hooks.append(ended.append)
    running = platform.start(first)

    # When the first ends (killed), each end starts the next one
    running.stop(error="Killed")
    platform.finish(first, running)
    platform.join()

    # Then all ran, in their queue order, each one after the end of the one before
    assert [e.id for e in ended] == [first.id, *(o.id for o in others)]
    assert [e.state for e in ended] == [State.KILLED, *[State.SUCCESS] * 4]
    for earlier, later in itertools.pairwise(ended):
        assert earlier.end_date is not None and earlier.end_date <= running_since(later)


def running_since(execution: Execution) -> datetime:
    return next(change.date for change in execution.state_history if change.state == State.RUNNING)


def test_stopping_the_platform_leaves_the_queue_for_the_next_start(tmp_path: Path) -> None:
    # Given a running execution (an hour's sleep on a real clock) holding the slot, one queued behind it
    platform = LocalPlatform(tmp_path / "real")
    try:
        sleeping = FLOW.replace("type: Pause", "type: Sleep\n    duration: PT1H")
        flow, record = platform.deploy_source(sleeping, "limited.yaml")
        first = platform.admit(flow, record, {"hold": True})
        queued = platform.admit(flow, record, {})
        running = platform.start(first)

        # When the platform stops everything
        assert platform.stop_all("shutting down") == [first.id]
        platform.finish(first, running)

        # Then the running one ended KILLED and the queued one still waits
        assert platform.store.get_execution(first.id).state == State.KILLED  # type: ignore[union-attr]
        assert platform.store.get_execution(queued.id).state == State.QUEUED  # type: ignore[union-attr]
        assert platform.store.queued_executions("team", "limited") == [queued.id]
    finally:
        platform.close()


def test_stopping_the_platform_leaves_a_paused_execution_paused(platform: LocalPlatform) -> None:
    # Given a paused execution holding the slot
    flow, record = platform.deploy_source(FLOW, "limited.yaml")
    first = platform.admit(flow, record, {"hold": True})
    running = platform.start(first)
    _wait_until(lambda: platform.store.get_execution(first.id).state == State.PAUSED)  # type: ignore[union-attr]

    # When the platform stops everything
    assert platform.stop_all("shutting down") == []
    outcome = platform.finish(first, running)

    # Then it is still PAUSED (for `strato resume`, in any process), holding its slot, owned by none
    assert outcome.execution.state == State.PAUSED
    assert platform.store.get_execution(first.id).state == State.PAUSED  # type: ignore[union-attr]
    assert platform.store.slot_holders("team", "limited") == [first.id]
    assert platform.store.execution_owners() == {}


def _wait_until(condition: Any, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.01)
