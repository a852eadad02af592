"""What the task runner exposes about the task runs it ended: the task-runner Lambda's metrics and log keys."""

from __future__ import annotations

from stratoflow.cloud.runtime.metrics import task_run_end_metrics, task_type_dimension
from stratoflow.domain import TaskRun
from stratoflow.execution.runner import recording_task_runs
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow

FLOW = """
id: activity
namespace: tests
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    retry:
      type: constant
      interval: PT1S
      maxAttempts: 3
  - id: skipped
    type: Log
    message: never
    runIf: "{{ 1 > 2 }}"
  - id: group
    type: Sequential
    tasks:
      - id: broken
        type: Fail
        allowFailure: true
      - id: hello
        type: Log
        message: hi
"""


def test_each_task_run_is_reported_once_when_it_ends_with_its_attempts(run_flow: RunFlow) -> None:
    # Given a flow with a task that succeeds on its second attempt, a skipped task, an allowed failure
    # When it runs while the runner's activity is recorded
    saves: list[TaskRun] = []
    with recording_task_runs(on_save=saves.append) as activity:
        outcome = run_flow(FLOW)

    # Then every task run is reported once, when it ended, in its final state
    assert outcome.execution.state == State.WARNING
    ended = {run.task_id: run for run in activity.ended}
    assert len(activity.ended) == len(ended) == 5
    assert {task: run.state for task, run in ended.items()} == {
        "flaky": State.SUCCESS,
        "skipped": State.SKIPPED,
        "broken": State.WARNING,
        "hello": State.SUCCESS,
        "group": State.WARNING,
    }
    # ... the retried run ends once, after its two attempts, and saves along the way showed them
    assert len(ended["flaky"].attempts) == 2
    assert [len(run.attempts) for run in saves if run.task_id == "flaky"][:2] == [1, 1]
    assert activity.saved[ended["flaky"].id].state == State.SUCCESS


def test_nothing_is_recorded_outside_a_recording(run_flow: RunFlow) -> None:
    # Given a recording that has ended
    with recording_task_runs() as activity:
        pass

    # When a flow runs afterwards
    run_flow(FLOW)

    # Then the closed recording saw nothing
    assert activity.ended == [] and activity.attempt is None


def test_task_run_metrics_use_the_canonical_type_and_skip_durations_of_skipped_runs(
    run_flow: RunFlow,
) -> None:
    # Given the ended task runs of the flow
    with recording_task_runs() as activity:
        run_flow(FLOW)
    ended = {run.task_id: run for run in activity.ended}

    # When they are turned into metrics
    flaky = task_run_end_metrics(ended["flaky"])
    skipped = task_run_end_metrics(ended["skipped"])
    allowed = task_run_end_metrics(ended["broken"])

    # Then a Kestra alias counts as its canonical type, a WARNING as a success, a skip has no duration
    assert task_type_dimension(ended["flaky"]) == "Fail"
    assert [m.name for m in flaky] == ["TaskRunsSucceeded", "TaskDuration"]
    assert flaky[1].unit == "Milliseconds" and flaky[1].value >= 0
    assert [m.name for m in allowed] == ["TaskRunsSucceeded", "TaskDuration"]
    assert [(m.name, m.unit, m.value) for m in skipped] == [("TaskRunsSkipped", "Count", 1)]


def test_a_failed_task_run_counts_as_failed() -> None:
    # Given a task run that ended FAILED after one attempt, of a type no registry knows
    run = TaskRun(id="r", execution_id="e", task_id="t", task_type="acme.Custom", state=State.FAILED)
    run = run.model_copy(update={"end_date": run.start_date})

    # When it is turned into metrics
    metrics = task_run_end_metrics(run)

    # Then it is a failure of its own (unknown) type, with a zero duration
    assert [(m.name, m.value) for m in metrics] == [("TaskRunsFailed", 1), ("TaskDuration", 0.0)]
    assert task_type_dimension(run) == "acme.Custom"
