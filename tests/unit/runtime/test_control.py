"""kill, restart, replay and resume on the local platform, as an on-call engineer uses them."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stratoflow.domain import Execution
from stratoflow.engine import LocalExecution
from stratoflow.errors import InputError
from stratoflow.execution.control import (
    ControlError,
    prepare_replay,
    prepare_restart,
    request_kill,
    request_resume,
)
from stratoflow.local import LocalPlatform
from stratoflow.states import State


@pytest.fixture
def real_platform(tmp_path: Path) -> Iterator[LocalPlatform]:
    # Real clock: these tests wait on other threads, which a virtual clock would not.
    platform = LocalPlatform(tmp_path / "home")
    yield platform
    platform.close()


def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def deploy(platform: LocalPlatform, source: str) -> tuple[object, object]:
    return platform.deploy_source(textwrap.dedent(source), "flow.yaml")


CHILD = """
id: child
namespace: tests
tasks:
  - id: long
    type: Sleep
    duration: PT1H
"""


def test_kill_stops_the_execution_and_its_subflow(real_platform: LocalPlatform) -> None:
    deploy(real_platform, CHILD)
    flow, record = deploy(
        real_platform,
        """
        id: parent
        namespace: tests
        tasks:
          - id: call
            type: Subflow
            namespace: tests
            flowId: child
        """,
    )
    execution = real_platform.admit(flow, record, {})  # type: ignore[arg-type]
    running = real_platform.start(execution)
    store = real_platform.store

    def child_running() -> bool:
        runs = [r for r in store.list_task_runs(execution.id) if r.outputs.get("executionId")]
        child = store.get_execution(runs[0].outputs["executionId"]) if runs else None
        return child is not None and child.state == State.RUNNING

    wait_until(child_running)
    killed = request_kill(store, execution.id)
    outcome = real_platform.finish(execution, running)
    assert len(killed) == 2
    assert outcome.execution.state == State.KILLED
    # The child is stopped by the same watcher; its record may land a moment after the parent's.
    wait_until(lambda: store.get_execution(killed[1]).state == State.KILLED)  # type: ignore[union-attr]
    with pytest.raises(ControlError, match="only a created, queued, running or paused"):
        request_kill(store, execution.id)


def test_restart_reruns_only_failed_task_runs_in_the_same_execution(real_platform: LocalPlatform) -> None:
    flow, record = deploy(
        real_platform,
        """
        id: f
        namespace: tests
        tasks:
          - id: extract
            type: Return
            format: rows
          - id: load
            type: Fail
            condition: "{{ taskrun.attemptsCount < 2 }}"
            errorMessage: the warehouse is down
          - id: report
            type: Return
            format: "{{ outputs.extract.value }} loaded"
        """,
    )
    execution = real_platform.admit(flow, record, {})  # type: ignore[arg-type]
    first = real_platform.run(execution)
    assert first.execution.state == State.FAILED
    # When the on-call engineer restarts it
    restarted = real_platform.run(prepare_restart(real_platform.store, execution.id))
    # Then the successful task kept its single attempt and outputs; the failed one got a new attempt
    runs = {r.task_id: r for r in restarted.task_runs}
    assert restarted.execution.id == execution.id
    assert restarted.execution.state == State.SUCCESS
    assert not restarted.execution.error  # the first run's error is gone
    assert len(runs["extract"].attempts) == 1
    assert [a.state for a in runs["load"].attempts] == [State.FAILED, State.SUCCESS]
    assert runs["report"].outputs == {"value": "rows loaded"}
    with pytest.raises(ControlError, match="only a FAILED or KILLED"):
        prepare_restart(real_platform.store, execution.id)


def test_replay_starts_a_linked_execution_from_a_task_reusing_earlier_outputs(
    real_platform: LocalPlatform,
) -> None:
    flow, record = deploy(
        real_platform,
        """
        id: f
        namespace: tests
        tasks:
          - id: extract
            type: Return
            format: "{{ execution.id }}"
          - id: each
            type: ForEach
            values: [1, 2]
            tasks:
              - id: transform
                type: Return
                format: "{{ outputs.extract.value }}-{{ taskrun.value }}"
        """,
    )
    original = real_platform.run(real_platform.admit(flow, record, {}))  # type: ignore[arg-type]
    replay = prepare_replay(real_platform.store, flow, original.execution.id, "each")
    outcome = real_platform.run(replay)
    runs = {(r.task_id, r.value): r for r in outcome.task_runs}
    assert outcome.execution.original_execution_id == original.execution.id
    assert outcome.execution.state == State.SUCCESS
    # extract was reused (its output is still the original execution's id); the loop ran again
    assert runs[("extract", None)].outputs == {"value": original.execution.id}
    assert runs[("transform", "2")].outputs == {"value": f"{original.execution.id}-2"}
    with pytest.raises(ControlError, match="not in flow"):
        prepare_replay(real_platform.store, flow, original.execution.id, "nope")


@pytest.mark.parametrize(
    "finished",
    [
        "type: ForEach\n    values: [1, 2]\n    tasks: [{id: inner, type: Return, format: x}]",
        "type: If\n    condition: 'true'\n    then: [{id: inner, type: Return, format: x}]",
        "type: Switch\n    value: a\n    cases: {a: [{id: inner, type: Return, format: x}]}",
    ],
    ids=["ForEach", "If", "Switch"],
)
def test_replay_from_a_task_after_a_finished_flowable_skips_it(
    real_platform: LocalPlatform, finished: str
) -> None:
    # Given a successful execution whose flowable (its start answers with loop or branch fields) ran
    source = "id: g\nnamespace: tests\ntasks:\n  - id: block\n    " + finished
    source += "\n  - id: last\n    type: Return\n    format: done\n"
    flow, record = deploy(real_platform, source)
    original = real_platform.run(real_platform.admit(flow, record, {}))  # type: ignore[arg-type]
    assert original.execution.state == State.SUCCESS

    # When it is replayed from the task after the flowable (the flowable's run is copied, finished)
    outcome = real_platform.run(prepare_replay(real_platform.store, flow, original.execution.id, "last"))

    # Then the flowable is skipped as finished (not routed on fields a skip answer does not carry)
    assert outcome.execution.state == State.SUCCESS, outcome.execution.error
    runs = {r.task_id: r for r in outcome.task_runs}
    assert runs["block"].state == State.SUCCESS
    assert runs["last"].outputs == {"value": "done"}


def test_resume_a_paused_execution_with_typed_inputs(real_platform: LocalPlatform) -> None:
    flow, record = deploy(
        real_platform,
        """
        id: f
        namespace: tests
        tasks:
          - id: approve
            type: Pause
            onResume:
              - id: approved
                type: BOOLEAN
              - id: note
                type: STRING
                defaults: none
          - id: after
            type: Return
            format: "{{ outputs.approve.onResume.approved }} {{ outputs.approve.onResume.note }}"
        """,
    )
    execution = real_platform.admit(flow, record, {})  # type: ignore[arg-type]
    store = real_platform.store
    with pytest.raises(ControlError, match="nothing to resume"):
        request_resume(store, flow, execution.id, {})
    running = real_platform.start(execution)
    wait_until(lambda: store.get_execution(execution.id).state == State.PAUSED)  # type: ignore[union-attr]
    with pytest.raises(InputError, match="approved"):
        request_resume(store, flow, execution.id, {"approved": "maybe"})
    request_resume(store, flow, execution.id, {"approved": "true"})
    outcome = real_platform.finish(execution, running)
    assert outcome.execution.state == State.SUCCESS
    assert {r.task_id: r for r in outcome.task_runs}["after"].outputs == {"value": "true none"}


# --- restarts and the flow's concurrency limit --------------------------------------------------

LIMITED = """
id: limited
namespace: tests
concurrency: {{limit: 1, behavior: {behavior}}}
inputs:
  - {{id: hold, type: BOOLEAN, defaults: false}}
tasks:
  - id: wait
    type: Pause
    runIf: "{{{{ inputs.hold }}}}"
  - id: load
    type: Fail
    condition: "{{{{ kv('broken', errorOnMissing=false) }}}}"
"""


def _failed_and_holder(platform: LocalPlatform, behavior: str) -> tuple[str, Execution, LocalExecution]:
    """A FAILED execution of a flow limited to 1, and another one holding the slot (paused)."""
    flow, record = platform.deploy_source(textwrap.dedent(LIMITED.format(behavior=behavior)), "limited.yaml")
    platform.store.kv_set("tests", "broken", True)
    failed = platform.run(platform.admit(flow, record, {}))
    assert failed.execution.state == State.FAILED
    platform.store.kv_set("tests", "broken", False)
    holder = platform.admit(flow, record, {"hold": True})
    running = platform.start(holder)
    wait_until(lambda: any(r.state == State.PAUSED for r in platform.store.list_task_runs(holder.id)))
    return failed.execution.id, holder, running


def test_a_restart_waits_in_the_queue_for_a_slot(real_platform: LocalPlatform) -> None:
    failed_id, holder, running = _failed_and_holder(real_platform, "QUEUE")
    store = real_platform.store

    # When the failed execution is restarted while the only slot is taken
    restarted = prepare_restart(store, failed_id)

    # Then it waits QUEUED (restart counted, error cleared), and runs when the holder ends
    assert (restarted.state, restarted.restarts, restarted.error) == (State.QUEUED, 1, "")
    assert store.queued_executions("tests", "limited") == [failed_id]
    running.stop(error="Killed", cause="the test")
    real_platform.finish(holder, running)
    real_platform.join()
    final = store.get_execution(failed_id)
    assert final is not None and (final.state, final.restarts) == (State.SUCCESS, 1)
    assert store.slot_holders("tests", "limited") == []


def test_a_restart_of_a_flow_that_refuses_extra_executions_is_refused_when_full(
    real_platform: LocalPlatform,
) -> None:
    failed_id, holder, running = _failed_and_holder(real_platform, "FAIL")
    store = real_platform.store
    try:
        with pytest.raises(ControlError, match=r"cannot restart now: 1 of 1 allowed execution\(s\)"):
            prepare_restart(store, failed_id)
        # Nothing changed: still FAILED, not restarted, holding no slot
        current = store.get_execution(failed_id)
        assert current is not None and (current.state, current.restarts) == (State.FAILED, 0)
        assert store.slot_holders("tests", "limited") == [holder.id]
    finally:
        running.stop(error="Killed", cause="the test")
        real_platform.finish(holder, running)

    # Once the slot is free, the restart takes it and gives it back at its end
    restarted = prepare_restart(store, failed_id)
    assert store.slot_holders("tests", "limited") == [failed_id]
    assert real_platform.run(restarted).execution.state == State.SUCCESS
    assert store.slot_holders("tests", "limited") == []
