"""`timeout` on tasks that are not run by the task runner: Sleep honours it, flowables refuse it."""

from __future__ import annotations

import textwrap

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

SLEEPY = """
    id: sleepy
    namespace: team
    tasks:
      - id: nap
        type: Sleep
        duration: PT1H
        timeout: PT10S
        {extra}
      - id: after
        type: Return
        format: after
    errors:
      - id: handler
        type: Return
        format: handled
"""


def test_a_sleep_longer_than_its_timeout_fails_at_the_timeout_and_errors_run(run_flow: RunFlow) -> None:
    # Given a Sleep of an hour with a timeout of 10 s (the virtual clock lets both pass at once)
    # When it runs
    outcome = run_flow(SLEEPY.format(extra=""))

    # Then the sleep failed as a timed-out task, the flow's errors ran and the next task did not
    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert runs["nap"][0].state == State.FAILED
    assert "timed out after 0:00:10 (timeout 10s)" in (outcome.execution.error or "")
    assert runs["handler"][0].state == State.SUCCESS
    assert "after" not in runs


def test_a_timed_out_sleep_with_allow_failure_ends_warning_and_the_flow_goes_on(run_flow: RunFlow) -> None:
    outcome = run_flow(SLEEPY.format(extra="allowFailure: true"))

    runs = by_task(outcome)
    assert runs["nap"][0].state == State.WARNING
    assert runs["after"][0].state == State.SUCCESS
    assert outcome.execution.state == State.WARNING


def test_a_sleep_within_its_timeout_sleeps_its_duration() -> None:
    # Given a Sleep whose timeout is longer than its duration
    flow = load_flow(textwrap.dedent(SLEEPY.format(extra="")).replace("PT1H", "PT5S"))

    # When it is compiled
    states = compile_flow(flow).definition["States"]

    # Then it waits its duration, and has no timeout path
    assert [s["Seconds"] for s in states.values() if s.get("Type") == "Wait"] == [5]
    assert not any(name.endswith(".timedOut") for name in states)


@pytest.mark.parametrize("flowable", ["Parallel", "Sequential", "ForEach", "Subflow"])
def test_a_timeout_on_a_flowable_is_refused_with_its_location(flowable: str) -> None:
    body = {
        "Parallel": "tasks: [{id: a, type: Return, format: x}]",
        "Sequential": "tasks: [{id: a, type: Return, format: x}]",
        "ForEach": "values: [1, 2]\n        tasks: [{id: a, type: Return, format: x}]",
        "Subflow": "namespace: team\n        flowId: other",
    }[flowable]
    source = f"""
    id: bounded
    namespace: team
    tasks:
      - id: outer
        type: {flowable}
        timeout: PT1M
        {body}
    """

    with pytest.raises(FlowValidationError) as refused:
        load_flow(textwrap.dedent(source), "bounded.yaml")

    messages = [str(d) for d in refused.value.diagnostics]
    assert f"bounded.yaml:7:5: tasks[0].timeout: timeout is not supported on {flowable} yet" in messages[0]
