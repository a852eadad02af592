"""Attempt counts of retried tasks and flowables, checked against Kestra's own retry test flows
(RetryCaseTest: retry-failed, retry-success, retry-flowable, retry-flowable-nested-child), with
`Fail` standing in for their failing Bash commands."""

from __future__ import annotations

from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

RETRY = "    retry: {type: constant, interval: PT1S, maxAttempt: 5, maxDuration: PT1M}\n"


def test_retry_failed_makes_max_attempts_attempts_then_runs_errors(run_flow: RunFlow) -> None:
    outcome = run_flow(
        "id: retry-failed\nnamespace: io.kestra.tests\ntasks:\n"
        "  - id: failed\n    type: io.kestra.plugin.core.execution.Fail\n"
        + RETRY
        + "errors:\n  - {id: t2, type: io.kestra.core.tasks.debugs.Echo, format: 'second {{ task.id }}'}\n"
    )

    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert len(outcome.task_runs) == 2
    assert len(runs["failed"][0].attempts) == 5


def test_retry_success_stops_at_the_attempt_that_succeeds(run_flow: RunFlow) -> None:
    # Kestra's flow succeeds when taskrun.attemptsCount is 4: the 4th attempt
    outcome = run_flow(
        "id: retry-success\nnamespace: io.kestra.tests\ntasks:\n"
        "  - id: failed\n    type: io.kestra.plugin.core.execution.Fail\n"
        '    condition: "{{ taskrun.attemptsCount != 4 }}"\n'
        + RETRY
        + "errors:\n  - {id: never-happen, type: io.kestra.core.tasks.debugs.Echo, format: never}\n"
    )

    [run] = outcome.task_runs
    assert run.state == State.SUCCESS
    assert len(run.attempts) == 4


def test_retry_on_a_flowable_gives_its_failed_child_the_attempts(run_flow: RunFlow) -> None:
    # Given Kestra's retry-flowable: the retry is on the Sequential, the child always fails
    outcome = run_flow(
        """
id: retry-flowable
namespace: io.kestra.tests
tasks:
  - id: flowable
    type: io.kestra.plugin.core.flow.Sequential
    retry:
      type: constant
      interval: PT1S
      maxAttempts: 3
    tasks:
      - id: child
        type: io.kestra.plugin.core.execution.Fail
"""
    )

    # Then, as Kestra's RETRY_FAILED_TASK: the child has 3 attempts, the flowable's run one
    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert len(runs["child"][0].attempts) == 3
    assert len(runs["flowable"][0].attempts) == 1


def test_a_nested_child_with_its_own_retry_keeps_it(run_flow: RunFlow) -> None:
    outcome = run_flow(
        """
id: retry-flowable-nested-child
namespace: io.kestra.tests
tasks:
  - id: flowable
    type: io.kestra.plugin.core.flow.Sequential
    retry: {type: constant, interval: PT1S, maxAttempts: 5}
    tasks:
      - id: flowable2
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: child
            type: io.kestra.plugin.core.execution.Fail
            retry: {type: constant, interval: PT2S, maxAttempt: 3}
"""
    )

    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert len(runs["child"][0].attempts) == 3
