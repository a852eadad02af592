"""Starting, waiting for, stopping and observing executions."""

import threading
from typing import Any

import pytest

from stratoflow.engine import (
    EngineEvent,
    InvalidDefinition,
    LambdaIntegration,
    LocalEngine,
    RealClock,
    TaskCall,
    VirtualClock,
)
from tests.unit.engine.engine_test_helpers import START, lambda_task, run, single


def test_run_returns_the_result_of_a_finished_execution() -> None:
    # Given
    definition = {
        "StartAt": "Add",
        "States": {"Add": lambda_task("add", Next="Done"), "Done": {"Type": "Succeed"}},
    }
    # When
    result = run(definition, {"a": 1, "b": 2}, {"add": lambda e, _c: e["a"] + e["b"]})
    # Then
    assert result.status == "SUCCEEDED" and result.succeeded
    assert result.output == 3
    assert (result.error, result.cause) == (None, None)
    assert result.name == "test"
    assert result.start_date == START
    assert result.transitions == 2
    assert result.history == []


def test_start_runs_in_the_background_and_wait_returns_the_result() -> None:
    engine = LocalEngine(single({"Type": "Pass", "Result": 1}), LambdaIntegration({}), VirtualClock(START))
    execution = engine.start({}, name="bg")
    result = execution.wait(10)
    assert (execution.name, execution.status, result.output) == ("bg", "SUCCEEDED", 1)
    assert execution.execution_arn.endswith(":execution:StateMachine:bg")


def test_execution_names_default_to_a_uuid_and_are_limited_to_80_characters() -> None:
    engine = LocalEngine(single({"Type": "Pass"}), LambdaIntegration({}), VirtualClock(START))
    assert len(engine.run({}).name) == 36
    with pytest.raises(ValueError, match="1 to 80"):
        engine.run({}, name="x" * 81)


def test_an_invalid_definition_is_refused_with_every_problem() -> None:
    with pytest.raises(InvalidDefinition) as raised:
        LocalEngine(
            {"StartAt": "Nope", "States": {"A": {"Type": "Pass", "Next": "B"}}}, LambdaIntegration({})
        )
    assert raised.value.problems == [
        "StartAt: no state named 'Nope'",
        "States.A.Next: no state named 'B' here",
    ]


def test_definition_may_be_json_text() -> None:
    engine = LocalEngine(
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}', LambdaIntegration({})
    )
    assert engine.run({"x": 1}).output == {"x": 1}


def test_stop_aborts_a_running_execution_and_cancels_its_task() -> None:
    # Given a task that waits for its cancellation
    started, saw_cancel = threading.Event(), threading.Event()

    class Blocking:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            started.set()
            if call.cancelled.wait(10):
                saw_cancel.set()
            return None

    engine = LocalEngine(single({"Type": "Task", "Resource": "arn:aws:states:::x"}), Blocking(), RealClock())
    execution = engine.start({})
    assert started.wait(10)
    # When
    execution.stop(error="User.Abort", cause="changed my mind")
    # Then
    result = execution.wait(10)
    assert (execution.status, result.status, result.error, result.cause) == (
        "ABORTED",
        "ABORTED",
        "User.Abort",
        "changed my mind",
    )
    assert saw_cancel.wait(10)


def test_stop_interrupts_a_wait_on_the_real_clock() -> None:
    # Given an execution waiting for a day on the wall clock
    entered = threading.Event()

    def listen(event: EngineEvent) -> None:
        if event.type == "WaitStateEntered":
            entered.set()

    engine = LocalEngine(
        single({"Type": "Wait", "Seconds": 86_400}),
        LambdaIntegration({}),
        RealClock(),
        listen,
        record_history=True,
    )
    execution = engine.start({})
    assert entered.wait(10)
    # When
    execution.stop()
    # Then
    result = execution.wait(10)
    assert result.status == "ABORTED"
    assert result.history[-1].type == "ExecutionAborted"


def test_stop_after_the_end_changes_nothing() -> None:
    engine = LocalEngine(single({"Type": "Pass"}), LambdaIntegration({}), VirtualClock(START))
    execution = engine.start({})
    execution.wait(10)
    execution.stop()
    assert execution.status == "SUCCEEDED"


def test_wait_with_a_timeout_raises_while_still_running() -> None:
    release = threading.Event()

    class Blocking:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            release.wait(10)
            return None

    execution = LocalEngine(
        single({"Type": "Task", "Resource": "arn:aws:states:::x"}), Blocking(), RealClock()
    ).start({})
    with pytest.raises(TimeoutError):
        execution.wait(0)
    release.set()
    assert execution.wait(10).status == "SUCCEEDED"


def test_history_records_events_like_step_functions() -> None:
    # Given
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": lambda_task("f", Retry=[{"ErrorEquals": ["States.ALL"]}], Next="Each"),
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    calls = iter([RuntimeError("once"), None])

    def handler(event: Any, context: Any) -> Any:
        error = next(calls)
        if error:
            raise error
        return {"items": [1]}

    # When
    result = run(definition, {}, {"f": handler}, record_history=True)
    # Then
    assert [event.type for event in result.history] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [event.id for event in result.history] == list(range(1, 21))
    assert result.history[1].state == "Work"
    assert result.history[4].details["error"] == "RuntimeError"
    assert result.history[-1].details["output"] == [1]


def test_the_listener_sees_every_event_and_its_failures_are_ignored() -> None:
    seen: list[str] = []

    def listen(event: EngineEvent) -> None:
        seen.append(event.type)
        raise RuntimeError("a broken listener")

    engine = LocalEngine(single({"Type": "Pass"}), LambdaIntegration({}), VirtualClock(START), listen)
    result = engine.run({})
    assert result.status == "SUCCEEDED"
    assert seen == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert result.history == []


def test_transitions_count_states_inside_maps_and_parallel_branches() -> None:
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "A1",
                        "States": {"A1": {"Type": "Pass", "Next": "A2"}, "A2": {"Type": "Pass", "End": True}},
                    },
                    {
                        "StartAt": "Loop",
                        "States": {
                            "Loop": {
                                "Type": "Map",
                                "ItemProcessor": {
                                    "StartAt": "B",
                                    "States": {"B": {"Type": "Pass", "End": True}},
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "End": True,
            }
        },
    }
    # Fan + A1 + A2 + Loop + 3 x B
    assert run(definition, [1, 2, 3]).transitions == 7


def test_an_engine_bug_fails_the_execution_instead_of_losing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a state implementation that crashes
    from stratoflow.engine.states import PassState

    def crash(*_args: Any) -> Any:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(PassState, "execute", crash)
    engine = LocalEngine(single({"Type": "Pass"}), LambdaIntegration({}), VirtualClock(START))
    # When
    result = engine.start({}).wait(10)
    # Then
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert "ZeroDivisionError('bug')" in (result.cause or "")
