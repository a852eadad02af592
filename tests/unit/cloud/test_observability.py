"""Observability's pure parts: execution metrics, the failure alert, the "did not run" window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stratoflow.cloud.deploy.alarms import LONGEST_LOOKBACK, did_not_run_window, scheduled_gap
from stratoflow.cloud.runtime.alerts import MAX_SUBJECT, console_url, execution_failed_alert
from stratoflow.cloud.runtime.metrics import execution_end_metrics
from stratoflow.domain import Attempt, Execution, TaskRun
from stratoflow.flow import load_flow
from stratoflow.states import State

ARN = "arn:aws:states:eu-west-1:123456789012:execution:Stratoflow-team_data-etl:3xYk"
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def execution(state: State, **fields: object) -> Execution:
    return Execution(
        id="3xYk", namespace="team.data", flow_id="etl", revision=4, state=state, start_date=START, **fields
    )


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        (State.SUCCESS, "ExecutionsSucceeded"),
        (State.WARNING, "ExecutionsSucceeded"),
        (State.FAILED, "ExecutionsFailed"),
        (State.RETRIED, "ExecutionsFailed"),
        (State.KILLED, "ExecutionsKilled"),
        (State.CANCELLED, "ExecutionsKilled"),
    ],
)
def test_an_ended_execution_counts_once_by_outcome(state: State, outcome: str) -> None:
    metrics = execution_end_metrics(execution(state, end_date=START + timedelta(seconds=3)))

    assert [(m.name, m.unit, m.value) for m in metrics] == [
        (outcome, "Count", 1),
        ("ExecutionDuration", "Milliseconds", 3000.0),
    ]


def test_the_duration_is_the_state_machine_run_when_the_event_has_its_dates() -> None:
    # Given an execution admitted at noon, queued a minute, run for 2 s
    ended = execution(State.SUCCESS, end_date=START + timedelta(seconds=62))

    # When the status event carries Step Functions' own start and stop dates
    metrics = execution_end_metrics(ended, START + timedelta(seconds=60), START + timedelta(seconds=62))

    # Then the duration is the run, without the queue
    assert metrics[1].value == 2000.0


def failed_run(**fields: object) -> TaskRun:
    return TaskRun(
        id="run-1",
        execution_id="3xYk",
        task_id="load",
        task_type="aws.s3.Upload",
        state=State.FAILED,
        error="AccessDenied: s3://warehouse/raw is not writable",
        attempts=[Attempt(state=State.RETRYING), Attempt(state=State.FAILED)],
        **fields,
    )


def test_the_failure_alert_names_the_flow_execution_and_failed_task_with_its_error() -> None:
    # Given a FAILED execution whose first failed task is `load`, failed on its second attempt
    ended = execution(State.FAILED, end_date=START + timedelta(minutes=5), error="load: AccessDenied")

    # When its alert is written
    subject, message = execution_failed_alert(ended, failed_run(), ARN)

    # Then the subject names the flow and the state; the body the execution, task, error and commands
    assert subject == "Stratoflow: team.data.etl FAILED"
    assert "Execution:  3xYk" in message and "revision 4" in message
    assert "First failed task: load (aws.s3.Upload) after 2 attempt(s)" in message
    assert "Error:             AccessDenied: s3://warehouse/raw is not writable" in message
    assert "strato executions show 3xYk --remote\n" in message
    assert "strato logs 3xYk --remote\n" in message
    assert (
        f"https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/{ARN}"
        in (message)
    )


def test_the_failure_alert_of_another_stack_says_which_and_falls_back_to_the_execution_error() -> None:
    # Given an execution that timed out (no task run failed) on the stack StratoDev
    ended = execution(State.FAILED, error="States.Timeout: the execution timed out")

    # When its alert is written, with a very long flow id and an error without a task
    subject, message = execution_failed_alert(
        ended.model_copy(update={"flow_id": "x" * 120}), None, ARN, stack_name="StratoDev"
    )

    # Then the subject fits SNS, the error is the execution's, and the commands name the stack
    assert len(subject) <= MAX_SUBJECT and subject.endswith("...") and subject.isascii()
    assert "Error: States.Timeout: the execution timed out" in message
    assert "strato logs 3xYk --remote --stack StratoDev" in message


def test_a_loop_iteration_and_a_huge_error_are_shown_in_short() -> None:
    run = failed_run(value="2026-01-05").model_copy(update={"error": "x" * 10_000})

    _, message = execution_failed_alert(execution(State.FAILED), run, ARN)

    assert "Loop value:        2026-01-05" in message
    assert len(message) < 5_000 and "...(cut)" in message


def test_console_links_exist_only_for_known_partitions() -> None:
    assert console_url(ARN.replace("arn:aws:", "arn:aws-cn:")).startswith(
        "https://eu-west-1.console.amazonaws.cn/"
    )
    assert console_url(ARN.replace("arn:aws:", "arn:aws-iso:")) is None
    assert console_url("not an arn") is None


@pytest.mark.parametrize(
    ("gap", "period", "periods"),
    [
        (timedelta(minutes=1), 120, 8),  # every minute: 16 minutes in eight periods of 2 minutes
        (timedelta(hours=1), 480, 10),  # hourly: 1h 15m in ten periods of 8 minutes
        (timedelta(days=1), 9540, 10),  # daily: 26h 24m in ten periods of 2h 39m
        (timedelta(days=3), 28560, 10),  # weekdays: 3d 7h 12m
    ],
)
def test_the_window_is_the_gap_plus_a_grace_in_whole_minute_periods(
    gap: timedelta, period: int, periods: int
) -> None:
    window = did_not_run_window(gap)

    assert window is not None
    assert (window.period, window.evaluation_periods) == (period, periods)
    assert (
        window.period % 60 == 0 and window.period * window.evaluation_periods >= window.window.total_seconds()
    )
    assert window.window >= gap + timedelta(minutes=15) and not window.cut
    # CloudWatch's look-back: 1 day with periods under an hour, 7 days above
    limit = timedelta(days=1) if window.period < 3600 else LONGEST_LOOKBACK
    assert window.period * window.evaluation_periods <= limit.total_seconds()


def test_a_window_beyond_seven_days_is_cut_or_refused() -> None:
    # Given a gap of 6.5 days (its 10% grace would pass 7 days) and one of exactly a week
    cut = did_not_run_window(timedelta(days=6, hours=12))
    weekly = did_not_run_window(timedelta(days=7))

    # Then the first watches 7 days at most, and says it is cut; the second cannot be watched
    assert cut is not None and cut.cut
    assert cut.period * cut.evaluation_periods <= LONGEST_LOOKBACK.total_seconds()
    assert cut.window <= LONGEST_LOOKBACK
    assert weekly is None


def test_only_enabled_schedules_of_an_enabled_flow_have_a_gap() -> None:
    source = """
id: nightly
namespace: team.data
tasks:
  - id: hello
    type: Log
    message: hi
triggers:
  - id: nightly
    type: Schedule
    cron: "0 2 * * *"
  - id: off
    type: Schedule
    cron: "0 * * * *"
    disabled: true
  - id: hook
    type: Webhook
    key: abcdefghijklmnop
"""
    flow = load_flow(source)

    assert scheduled_gap(flow, START) == timedelta(days=1)
    assert scheduled_gap(flow.model_copy(update={"disabled": True}), START) is None
    assert scheduled_gap(flow.model_copy(update={"triggers": flow.triggers[2:]}), START) is None
