"""`timeout` on tasks that are not run by the task runner: Sleep, Subflow and every flowable honour it
(WaitFor included)."""

from __future__ import annotations

import textwrap

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.compiler.budget import iteration_events
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


RACING = """
    id: racing
    namespace: team
    tasks:
      - id: outer
        type: {flowable}
        timeout: {timeout}
        {body}
        {extra}
      - id: after
        type: Return
        format: after
    errors:
      - id: handler
        type: Return
        format: handled
"""
SLEEPERS = {
    "Sequential": "tasks:\n          - {id: quick, type: Return, format: done}\n"
    "          - {id: nap, type: Sleep, duration: PT1M}",
    "AllowFailure": "tasks:\n          - {id: quick, type: Return, format: done}\n"
    "          - {id: nap, type: Sleep, duration: PT1M}",
    "If": "condition: 'true'\n        then:\n          - {id: quick, type: Return, format: done}\n"
    "          - {id: nap, type: Sleep, duration: PT1M}",
    "Switch": "value: a\n        cases:\n          a:\n            - {id: quick, type: Return, format: done}\n"
    "            - {id: nap, type: Sleep, duration: PT1M}",
    "Parallel": "tasks:\n          - {id: nap, type: Sleep, duration: PT1M}\n"
    "          - {id: quick, type: Return, format: done}",
    "Dag": "tasks:\n          - task: {id: nap, type: Sleep, duration: PT1M}\n"
    "          - task: {id: quick, type: Return, format: done}",
    "ForEach": "values: [1, 2]\n        concurrencyLimit: 0\n"
    "        tasks:\n          - {id: nap, type: Sleep, duration: PT1M}",
    # Kestra's WaitFor: its whole loop (body, check, interval) races the timeout.
    "WaitFor": "condition: 'true'\n        checkFrequency: {maxIterations: 5, interval: PT1S}\n"
    "        tasks:\n          - {id: nap, type: Sleep, duration: PT1M}",
}


@pytest.mark.parametrize("flowable", sorted(set(SLEEPERS) - {"AllowFailure"}))
def test_a_flowable_whose_body_outlasts_its_timeout_fails_and_errors_run(
    run_flow: RunFlow, flowable: str
) -> None:
    # Given a flowable with a timeout of 10 s whose body sleeps a minute (the virtual clock)
    # When it runs
    outcome = run_flow(RACING.format(flowable=flowable, timeout="PT10S", body=SLEEPERS[flowable], extra=""))

    # Then the flowable failed as a timed-out task, the flow's errors ran and the next task did not
    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert runs["outer"][0].state == State.FAILED
    assert "task 'outer' timed out after 0:00:10 (timeout 10s)" in (outcome.execution.error or "")
    assert runs["handler"][0].state == State.SUCCESS
    assert "after" not in runs
    # and the sleep still running inside was stopped at the timeout, on the virtual clock too
    assert [run.state for run in runs["nap"]] == [State.KILLED] * len(runs["nap"])


@pytest.mark.parametrize("flowable", sorted(SLEEPERS))
def test_a_flowable_within_its_timeout_succeeds_even_when_waits_are_skipped(
    run_flow: RunFlow, flowable: str
) -> None:
    # Given a flowable whose body sleeps a minute, with a timeout of an hour, on the virtual clock
    # (a timer Wait skipped at once must not win the race)
    # When it runs
    outcome = run_flow(RACING.format(flowable=flowable, timeout="PT1H", body=SLEEPERS[flowable], extra=""))

    # Then the body ran to its end and the flow went on
    runs = by_task(outcome)
    assert outcome.execution.state == State.SUCCESS
    assert runs["outer"][0].state == State.SUCCESS
    assert all(run.state == State.SUCCESS for run in runs["nap"])
    assert runs["after"][0].state == State.SUCCESS


def test_a_timed_out_parallel_with_allow_failure_ends_warning_and_the_flow_goes_on(run_flow: RunFlow) -> None:
    # Given a Parallel that outlasts its timeout, with allowFailure
    source = RACING.format(
        flowable="Parallel", timeout="PT10S", body=SLEEPERS["Parallel"], extra="allowFailure: true"
    )

    # When it runs
    outcome = run_flow(source)

    # Then it ended WARNING, what its quick child recorded stays, and the flow went on
    runs = by_task(outcome)
    assert runs["outer"][0].state == State.WARNING
    assert runs["quick"][0].state == State.SUCCESS
    assert runs["after"][0].state == State.SUCCESS


def test_a_parallel_timeout_compiles_to_a_race_whose_states_the_event_budget_counts() -> None:
    # Given a ForEach with a timeout, and the same flow without one
    timed = load_flow(
        textwrap.dedent(
            RACING.format(flowable="ForEach", timeout="PT10S", body=SLEEPERS["ForEach"], extra="")
        )
    )
    plain = load_flow(
        textwrap.dedent(
            RACING.format(flowable="ForEach", timeout="PT10S", body=SLEEPERS["ForEach"], extra="").replace(
                "        timeout: PT10S\n", ""
            )
        )
    )

    # When both are compiled
    states = compile_flow(timed).definition["States"]
    untimed = compile_flow(plain).definition["States"]

    # Then both loop forms (inline and child executions) race a 10 s timer; without a timeout, no race
    races = [s for s in states.values() if s["Type"] == "Parallel"]
    assert len(races) == 2
    for race_state in races:
        timer = race_state["Branches"][1]["States"]
        assert [s["Type"] for s in timer.values()] == ["Wait", "Fail"]
        assert next(iter(timer.values()))["Seconds"] == 10
        assert race_state["Catch"][0]["ErrorEquals"] == ["Stratoflow.BodyEnded"]
    assert not any(s["Type"] == "Parallel" for s in untimed.values())
    # the race's Parallel, the body's end and the timer's Wait and Fail: 4 + 1 + 2 + 1 events each
    timed_events = iteration_events(compile_flow(timed).definition)
    assert timed_events == iteration_events(compile_flow(plain).definition) + 2 * 8


def test_a_timed_out_allow_failure_block_ends_warning_like_any_failure_inside_it(run_flow: RunFlow) -> None:
    # Given an AllowFailure block that outlasts its timeout
    source = RACING.format(flowable="AllowFailure", timeout="PT10S", body=SLEEPERS["AllowFailure"], extra="")

    # When it runs
    outcome = run_flow(source)

    # Then the timeout is allowed like a failure of its tasks: WARNING, and the flow goes on
    runs = by_task(outcome)
    assert runs["outer"][0].state == State.WARNING
    assert runs["quick"][0].state == State.SUCCESS
    assert runs["after"][0].state == State.SUCCESS


def test_a_subflow_timeout_bounds_the_wait_for_its_child_and_fails_the_task(run_flow: RunFlow) -> None:
    # Given a Subflow with a timeout of 10 s whose child sleeps a minute (the virtual clock)
    parent = """
    id: parent
    namespace: team
    tasks:
      - id: call
        type: Subflow
        namespace: team
        flowId: child
        transmitFailed: false
        timeout: PT10S
    """
    child = "id: child\nnamespace: team\ntasks:\n  - {id: nap, type: Sleep, duration: PT1M}\n"

    # When it runs
    outcome = run_flow(parent, others=(child,))
    states = compile_flow(load_flow(textwrap.dedent(parent))).definition["States"]

    # Then the wait for the child is bounded, and its timeout fails the task although failures of the
    # child itself would not be transmitted
    assert states["call.execution"]["TimeoutSeconds"] == 10
    assert outcome.execution.state == State.FAILED
    assert "task 'call' timed out after 0:00:10 (timeout 10s)" in (outcome.execution.error or "")


def test_a_wait_for_whose_condition_stays_false_past_its_timeout_fails_timed_out(run_flow: RunFlow) -> None:
    # Given Kestra's WaitFor checking every 5 s for up to 100 iterations, with a timeout of 12 s
    source = """
    id: polling
    namespace: team
    tasks:
      - id: poll
        type: io.kestra.plugin.core.flow.WaitFor
        condition: "{{ outputs.check.value == 'ready' }}"
        timeout: PT12S
        checkFrequency: {maxIterations: 100, interval: PT5S}
        tasks:
          - {id: check, type: Return, format: pending}
    """

    # When it runs (the virtual clock lets the intervals pass)
    outcome = run_flow(source)

    # Then it failed as timed out after three checks, the iterations before kept their success
    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert runs["poll"][0].state == State.FAILED
    assert "task 'poll' timed out after 0:00:12 (timeout 12s)" in (runs["poll"][0].error or "")
    assert [run.state for run in runs["check"]] == [State.SUCCESS] * 3
