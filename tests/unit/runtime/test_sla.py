"""Flow SLAs on the local platform: one test per type x behavior, on the virtual clock (`--skip-waits`)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from stratoflow.engine import RealClock
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

# Kestra's documentation example, with a 1-second budget and a 5-second sleep.
MAX_DURATION = """
id: sla_example
namespace: company.team
sla:
  - id: maxDuration
    type: MAX_DURATION
    duration: PT1S
    behavior: {behavior}
    labels:
      sla: miss
      reason: durationExceeded
tasks:
  - id: punctual
    type: Log
    message: Workflow started, monitoring SLA compliance
  - id: sleepyhead
    type: Sleep
    duration: PT5S
  - id: after_sleep
    type: Log
    message: runs only when the SLA lets the execution go on
"""

ASSERTION = """
id: sla_assert
namespace: company.team
sla:
  - id: rowsLoaded
    type: EXECUTION_ASSERTION
    assert: "{{{{ outputs.rows.value | number > 10 }}}}"
    behavior: {behavior}
    labels:
      sla: missed
tasks:
  - id: rows
    type: Return
    format: "3"
"""


def _violations(platform: LocalPlatform, execution_id: str) -> list[str]:
    return [e.message for e in platform.store.list_logs(execution_id) if e.message.startswith("SLA ")]


@pytest.mark.parametrize(
    ("behavior", "state"), [("FAIL", State.FAILED), ("CANCEL", State.KILLED), ("NONE", State.SUCCESS)]
)
def test_max_duration_behaviors(
    run_flow: RunFlow, platform: LocalPlatform, behavior: str, state: State
) -> None:
    # Given a flow whose execution outlives its MAX_DURATION SLA (5 s of sleep, 1 s allowed)
    # When it runs on the virtual clock
    outcome = run_flow(MAX_DURATION.format(behavior=behavior))
    # Then the behavior decides the end, the labels are added and the miss is in the history by id
    execution = outcome.execution
    assert execution.state == state
    assert execution.labels["sla"] == "miss"
    assert execution.labels["reason"] == "durationExceeded"
    [violation] = _violations(platform, execution.id)
    assert "SLA 'maxDuration' (MAX_DURATION, behavior " + behavior + ") missed" in violation
    ran_on = "after_sleep" in by_task(outcome)
    assert ran_on is (behavior == "NONE")  # FAIL and CANCEL stop it at the deadline
    if behavior != "NONE":
        assert execution.error is not None and "maxDuration" in execution.error


def test_max_duration_met_records_nothing(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given the same flow with a budget longer than its sleep
    source = MAX_DURATION.format(behavior="FAIL").replace("PT1S", "PT1M")
    # When it runs
    outcome = run_flow(source)
    # Then it succeeds unlabeled
    assert outcome.execution.state == State.SUCCESS
    assert "sla" not in outcome.execution.labels
    assert _violations(platform, outcome.execution.id) == []


@pytest.mark.parametrize(
    ("behavior", "state"), [("FAIL", State.FAILED), ("CANCEL", State.KILLED), ("NONE", State.SUCCESS)]
)
def test_execution_assertion_behaviors(
    run_flow: RunFlow, platform: LocalPlatform, behavior: str, state: State
) -> None:
    # Given a flow whose assertion is false when it ends (3 rows, more than 10 asserted)
    # When it runs
    outcome = run_flow(ASSERTION.format(behavior=behavior))
    # Then the behavior decides the end; the labels and the history name the SLA
    assert outcome.execution.state == state
    assert outcome.execution.labels["sla"] == "missed"
    [violation] = _violations(platform, outcome.execution.id)
    assert "SLA 'rowsLoaded' (EXECUTION_ASSERTION" in violation


def test_execution_assertion_met(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given an assertion that holds
    outcome = run_flow(ASSERTION.format(behavior="FAIL").replace('format: "3"', 'format: "30"'))
    # Then nothing is recorded
    assert outcome.execution.state == State.SUCCESS
    assert _violations(platform, outcome.execution.id) == []


def test_an_assertion_that_cannot_render_is_a_miss(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given an assertion reading an output its task never produced
    source = ASSERTION.format(behavior="FAIL").replace("outputs.rows.value", "outputs.rows.missing")
    # When the execution ends
    outcome = run_flow(source)
    # Then the SLA counts as missed, saying why
    assert outcome.execution.state == State.FAILED
    [violation] = _violations(platform, outcome.execution.id)
    assert "could not be evaluated" in violation


def test_a_timed_out_execution_runs_no_finally(run_flow: RunFlow) -> None:
    # Given a FAIL duration and a finally task (the deadline is the state machine's timeout)
    source = MAX_DURATION.format(behavior="FAIL") + "finally:\n  - {id: cleanup, type: Log, message: bye}\n"
    # When it outlives the SLA
    outcome = run_flow(source)
    # Then it stopped at the deadline: nothing after it ran
    assert outcome.execution.state == State.FAILED
    assert "cleanup" not in by_task(outcome)


def test_a_rendered_system_label_is_refused_at_run_time(run_flow: RunFlow) -> None:
    # Given a Labels task whose key only becomes system.* once rendered
    outcome = run_flow(
        """
        id: forged
        namespace: company.team
        tasks:
          - id: label
            type: Labels
            labels:
              "{{ 'system' }}.correlationId": forged
        """
    )
    # Then the task fails, naming the label, and the label is not set
    assert outcome.execution.state == State.FAILED
    assert "system.correlationId" in str(by_task(outcome)["label"][0].error)
    assert outcome.execution.labels["system.correlationId"] == outcome.execution.id


def test_a_timed_out_parent_stops_its_running_child(tmp_path: Path) -> None:
    # Given a parent whose FAIL duration (1 s, on the real clock: the child holds the parent's task
    # thread, which only a real clock's watchdog interrupts) ends while its child sleeps for a minute
    platform = LocalPlatform(tmp_path / "home", clock=RealClock())
    platform.deploy_source(
        "id: slow_child\nnamespace: company.team\ntasks:\n  - {id: nap, type: Sleep, duration: PT1M}\n",
        "child.yaml",
    )
    flow, record = platform.deploy_source(
        "id: parent\nnamespace: company.team\n"
        "sla:\n  - {id: quick, type: MAX_DURATION, duration: PT1S, behavior: FAIL}\n"
        "tasks:\n  - {id: call, type: Subflow, namespace: company.team, flowId: slow_child}\n",
        "parent.yaml",
    )
    # When the parent runs past its deadline
    outcome = platform.run(platform.admit(flow, record, {}))
    platform.join()
    # Then it failed for its SLA, and its child was stopped with it
    assert outcome.execution.state == State.FAILED
    child_id = by_task(outcome)["call"][0].outputs["executionId"]
    child = platform.store.get_execution(child_id)
    for _ in range(200):  # the child's end is recorded by the parent's abandoned task thread
        if child is not None and child.state.is_terminal:
            break
        threading.Event().wait(0.05)
        child = platform.store.get_execution(child_id)
    assert child is not None and child.state == State.KILLED
    platform.close()


def test_a_restarted_execution_is_judged_again(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given an execution its CANCEL duration killed
    from stratoflow.execution.control import prepare_restart

    outcome = run_flow(MAX_DURATION.format(behavior="CANCEL"))
    assert outcome.execution.state == State.KILLED
    # When it is restarted and outlives its SLA again
    again = platform.run(prepare_restart(platform.store, outcome.execution.id))
    # Then the SLA applies again: KILLED, a second miss in its history
    assert again.execution.state == State.KILLED
    assert len(_violations(platform, outcome.execution.id)) == 2
