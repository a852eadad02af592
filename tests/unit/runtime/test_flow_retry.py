"""A flow's `retry` on the local platform: a new execution (CREATE_NEW_EXECUTION) or a restart."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from stratoflow.domain import Execution
from stratoflow.execution.control import request_kill
from stratoflow.execution.flow_retry import ATTEMPT, RETRY_OF, plan_retry, retry_delay, retry_execution_id
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State


def deploy(platform: LocalPlatform, source: str) -> tuple[object, object]:
    return platform.deploy_source(textwrap.dedent(source), "flow.yaml")


def chain(platform: LocalPlatform, namespace: str, flow_id: str) -> list[Execution]:
    """The flow's executions, oldest first (each retry is created after the one it retries)."""
    return list(reversed(platform.store.list_executions(namespace=namespace, flow_id=flow_id, limit=50)))


ALWAYS_FAILS = """
id: always
namespace: tests.retry
retry:
  type: constant
  interval: PT10M
  maxAttempts: 3
  behavior: CREATE_NEW_EXECUTION
labels:
  team: data
tasks:
  - id: extract
    type: Return
    format: "{{ inputs.day }}"
  - id: load
    type: Fail
    errorMessage: the warehouse is down
inputs:
  - id: day
    type: STRING
"""


def test_create_new_execution_retries_in_linked_executions_up_to_max_attempts(
    platform: LocalPlatform,
) -> None:
    # Given a flow that always fails, retried in new executions up to 3 attempts
    flow, record = deploy(platform, ALWAYS_FAILS)
    first = platform.admit(flow, record, {"day": "2024-01-31"}, labels={"env": "prod"})  # type: ignore[arg-type]

    # When its first execution ends (the retries wait their interval on the virtual clock)
    outcome = platform.run(first)
    platform.join()

    # Then the first two end RETRIED, each retried by a linked execution with the same inputs and labels
    executions = chain(platform, "tests.retry", "always")
    assert outcome.execution.state == State.RETRIED
    assert [e.state for e in executions] == [State.RETRIED, State.RETRIED, State.FAILED]
    assert executions[0].id == first.id
    assert [e.labels.get(ATTEMPT) for e in executions] == [None, "2", "3"]
    assert [e.labels.get(RETRY_OF) for e in executions] == [None, executions[0].id, executions[1].id]
    assert {e.original_execution_id for e in executions[1:]} == {first.id}
    assert all(e.inputs == {"day": "2024-01-31"} for e in executions)
    assert all(e.labels["env"] == "prod" and e.labels["team"] == "data" for e in executions)
    # ... all in the first one's chain (lineage)
    assert {e.labels["system.correlationId"] for e in executions} == {first.id}
    assert executions[1].id == retry_execution_id(first.id)
    # ... and each ran the flow again: its own task runs, the last error kept
    assert [r.task_id for r in platform.store.list_task_runs(executions[2].id)] == ["extract", "load"]
    assert "the warehouse is down" in str(executions[2].error)


def test_retry_failed_task_restarts_the_same_execution_keeping_what_succeeded(
    platform: LocalPlatform,
) -> None:
    # Given a flow whose load fails once, with Kestra's default flow retry (RETRY_FAILED_TASK)
    flow, record = deploy(
        platform,
        """
        id: flaky
        namespace: tests.retry
        retry:
          type: constant
          interval: PT1M
          maxAttempts: 2
        tasks:
          - id: extract
            type: Return
            format: rows
          - id: load
            type: Fail
            condition: "{{ taskrun.attemptsCount < 2 }}"
        """,
    )
    execution = platform.admit(flow, record, {})  # type: ignore[arg-type]

    # When it runs and fails
    first = platform.run(execution)
    platform.join()

    # Then the same execution was restarted once and succeeded; extract ran once, load got a new attempt
    assert first.execution.state == State.FAILED
    final = platform.store.get_execution(execution.id)
    assert final is not None and final.state == State.SUCCESS and final.restarts == 1
    runs = {r.task_id: r for r in platform.store.list_task_runs(execution.id)}
    assert len(runs["extract"].attempts) == 1
    assert [a.state for a in runs["load"].attempts] == [State.FAILED, State.SUCCESS]
    assert [e.id for e in chain(platform, "tests.retry", "flaky")] == [execution.id]


def test_a_killed_execution_is_not_retried(platform: LocalPlatform) -> None:
    # Given an execution of a retried flow, waiting in a Pause
    flow, record = deploy(
        platform,
        """
        id: waiting
        namespace: tests.retry
        retry:
          type: constant
          interval: PT0S
          maxAttempts: 5
          behavior: CREATE_NEW_EXECUTION
        tasks:
          - id: approve
            type: Pause
        """,
    )
    execution = platform.admit(flow, record, {})  # type: ignore[arg-type]
    running = platform.start(execution)

    # When it is killed
    request_kill(platform.store, execution.id)
    platform.watcher.check(execution.id, running)
    outcome = platform.finish(execution, running)
    platform.join()

    # Then it ends KILLED and no retry exists
    assert outcome.execution.state == State.KILLED
    assert platform.store.get_execution(retry_execution_id(execution.id)) is None


def test_max_duration_bounds_the_retries_from_the_first_start(platform: LocalPlatform) -> None:
    # Given a flow whose retries may last 5 minutes, 10 minutes apart
    flow, record = deploy(
        platform,
        """
        id: bounded
        namespace: tests.retry
        retry:
          type: constant
          interval: PT10M
          maxDuration: PT5M
          behavior: CREATE_NEW_EXECUTION
        tasks:
          - id: load
            type: Fail
        """,
    )
    # When it fails
    outcome = platform.run(platform.admit(flow, record, {}))  # type: ignore[arg-type]
    platform.join()

    # Then the next attempt would start past the bound: no retry, the execution stays FAILED
    assert outcome.execution.state == State.FAILED
    assert [e.state for e in chain(platform, "tests.retry", "bounded")] == [State.FAILED]


def test_a_repeated_end_plans_the_same_retry_once(platform: LocalPlatform) -> None:
    # Given a failed execution of a flow retried in new executions, whose retry was planned
    flow, record = deploy(platform, ALWAYS_FAILS.replace("maxAttempts: 3", "maxAttempts: 2"))
    execution = platform.admit(flow, record, {"day": "d"})  # type: ignore[arg-type]
    platform.store.update_execution(execution.id, state=State.RUNNING)
    failed = platform.store.update_execution(execution.id, state=State.FAILED)
    planned = plan_retry(platform.store, failed)

    # When the same end is seen again (a repeated status event)
    again = plan_retry(platform.store, platform.store.get_execution(execution.id))  # type: ignore[arg-type]

    # Then it names the same new execution, and only one was recorded
    assert planned is not None and again is not None
    assert planned.execution.id == again.execution.id
    assert len(chain(platform, "tests.retry", "always")) == 2


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        ("type: constant\ninterval: PT30S", [30, 30, 30]),
        ("type: exponential\ninterval: PT1M\nmaxInterval: PT3M", [60, 120, 180]),
        ("type: exponential\ninterval: PT1S\ndelayFactor: 3", [1, 3, 9]),
    ],
)
def test_retry_delays_follow_the_policy(policy: str, delays: list[int]) -> None:
    text = (
        "id: f\nnamespace: t\nretry:\n"
        + textwrap.indent(policy, "  ")
        + "\ntasks:\n  - id: a\n    type: Fail\n"
    )
    retry = load_flow(text).retry
    assert [retry_delay(retry, attempt) for attempt in (1, 2, 3)] == [timedelta(seconds=d) for d in delays]


def test_a_random_delay_stays_within_its_bounds() -> None:
    text = "id: f\nnamespace: t\nretry:\n  type: random\n  minInterval: PT1S\n  maxInterval: PT2S\ntasks:\n  - id: a\n    type: Fail\n"
    retry = load_flow(text).retry
    assert all(timedelta(seconds=1) <= retry_delay(retry, 1) <= timedelta(seconds=2) for _ in range(20))
