from typing import Any

import pytest

from stratoflow.engine import Resources, TaskCall, TaskError
from stratoflow.engine.errors import error_matches
from tests.unit.engine.engine_test_helpers import Flaky, elapsed, lambda_task, run, single


def with_catch(task: dict[str, Any], catch: list[dict[str, Any]]) -> dict[str, Any]:
    states = {
        "Work": {**{k: v for k, v in task.items() if k != "End"}, "Catch": catch, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    }
    for catcher in catch:
        states.setdefault(catcher["Next"], {"Type": "Pass", "Result": catcher["Next"], "End": True})
    return {"StartAt": "Work", "States": states}


@pytest.mark.parametrize(
    ("retrier", "failures", "attempts", "seconds", "status"),
    [
        ({"ErrorEquals": ["RuntimeError"]}, 2, 3, 1 + 2, "SUCCEEDED"),  # defaults: 1 s, x2, 3 attempts
        ({"ErrorEquals": ["RuntimeError"]}, 5, 4, 1 + 2 + 4, "FAILED"),
        (
            {"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 3, "BackoffRate": 1.5, "MaxAttempts": 4},
            4,
            5,
            3 + 4.5 + 6.75 + 10.125,
            "SUCCEEDED",
        ),
        (
            {"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 10, "MaxDelaySeconds": 15, "MaxAttempts": 3},
            3,
            4,
            10 + 15 + 15,
            "SUCCEEDED",
        ),
        ({"ErrorEquals": ["RuntimeError"], "MaxAttempts": 0}, 1, 1, 0, "FAILED"),
        ({"ErrorEquals": ["OtherError"]}, 1, 1, 0, "FAILED"),
        ({"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 1.0}, 2, 3, 4, "SUCCEEDED"),
        ({"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1}, 1, 2, 1, "SUCCEEDED"),
    ],
)
def test_retry_timing_and_attempts(
    retrier: dict[str, Any], failures: int, attempts: int, seconds: float, status: str
) -> None:
    # Given a function failing `failures` times
    flaky = Flaky(failures)
    # When
    result = run(single(lambda_task("f", Retry=[retrier])), {}, {"f": flaky})
    # Then the virtual time is the sum of the intervals, and each attempt ran once
    assert result.status == status
    assert flaky.calls == attempts
    assert elapsed(result) == pytest.approx(seconds)
    assert result.transitions == attempts  # the state, plus one per retry


def test_full_jitter_waits_between_zero_and_the_interval() -> None:
    waits = []
    for _ in range(20):
        retrier = {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 8,
            "MaxAttempts": 1,
            "JitterStrategy": "FULL",
        }
        waits.append(elapsed(run(single(lambda_task("f", Retry=[retrier])), {}, {"f": Flaky(1)})))
    assert all(0 <= wait <= 8 for wait in waits)
    assert len(set(waits)) > 1


def test_each_retrier_counts_its_own_attempts() -> None:
    # Given errors alternating between two kinds
    kinds = iter([KeyError, ValueError, KeyError, ValueError])

    def handler(event: Any, context: Any) -> str:
        error = next(kinds, None)
        if error is not None:
            raise error("x")
        return "ok"

    retry = [
        {"ErrorEquals": ["KeyError"], "MaxAttempts": 2, "IntervalSeconds": 1},
        {"ErrorEquals": ["ValueError"], "MaxAttempts": 2, "IntervalSeconds": 10},
    ]
    # When
    result = run(single(lambda_task("f", Retry=retry)), {}, {"f": handler})
    # Then: KeyError retries at 1 s and 2 s, ValueError at 10 s and 20 s
    assert result.status == "SUCCEEDED"
    assert elapsed(result) == 1 + 10 + 2 + 20


def test_retry_count_is_in_the_context_object_and_the_task_call() -> None:
    seen: list[tuple[int, int]] = []

    class Handler:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            seen.append((parameters["count"], call.retry_count))
            if len(seen) < 3:
                raise TaskError("Again")
            return "ok"

    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::x",
        "Parameters": {"count.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["Again"]}],
    }
    assert run(single(state), resources=Resources({"arn:": Handler()})).status == "SUCCEEDED"
    assert seen == [(0, 0), (1, 1), (2, 2)]


def test_catch_places_the_error_at_its_result_path_in_the_raw_input() -> None:
    # Given
    task = lambda_task("f", InputPath="$.ignored", ResultPath="$.not_used")
    definition = with_catch(
        task, [{"ErrorEquals": ["RuntimeError"], "ResultPath": "$.error", "Next": "Handle"}]
    )
    definition["States"]["Handle"] = {"Type": "Pass", "End": True}
    # When
    result = run(definition, {"ignored": {}, "keep": 1}, {"f": Flaky(1)})
    # Then
    assert result.output["keep"] == 1
    assert result.output["error"]["Error"] == "RuntimeError"
    assert '"errorMessage": "failure 1"' in result.output["error"]["Cause"]


def test_catch_default_result_path_replaces_the_input() -> None:
    definition = with_catch(lambda_task("f"), [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}])
    definition["States"]["Handle"] = {"Type": "Pass", "End": True}
    result = run(definition, {"keep": 1}, {"f": Flaky(1)})
    assert set(result.output) == {"Error", "Cause"}


def test_catch_result_path_null_keeps_the_input() -> None:
    definition = with_catch(
        lambda_task("f"), [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Handle"}]
    )
    definition["States"]["Handle"] = {"Type": "Pass", "End": True}
    assert run(definition, {"keep": 1}, {"f": Flaky(1)}).output == {"keep": 1}


def test_the_first_matching_catcher_wins() -> None:
    catch = [
        {"ErrorEquals": ["Nope"], "Next": "First"},
        {"ErrorEquals": ["RuntimeError", "Other"], "Next": "Second"},
        {"ErrorEquals": ["States.ALL"], "Next": "Third"},
    ]
    assert run(with_catch(lambda_task("f"), catch), {}, {"f": Flaky(1)}).output == "Second"


def test_retries_run_before_catch() -> None:
    flaky = Flaky(10)
    task = lambda_task("f", Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}])
    result = run(with_catch(task, [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]), {}, {"f": flaky})
    assert (result.output, flaky.calls) == ("Caught", 3)


def test_a_caught_task_timeout_is_not_a_task_failed() -> None:
    # Given a task that times out, with a TaskFailed catcher before a Timeout one
    class Slow:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            call.clock.sleep(10, call.cancelled)
            return "late"

    catch = [
        {"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"},
        {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"},
    ]
    task = {"Type": "Task", "Resource": "arn:aws:states:::x", "TimeoutSeconds": 5}
    # When
    result = run(with_catch(task, catch), resources=Slow())
    # Then
    assert result.output == "TimedOut"


def test_states_runtime_is_never_caught_or_retried() -> None:
    task = lambda_task(
        "f",
        Parameters={"FunctionName": "f", "Payload.$": "$.missing"},
        Retry=[{"ErrorEquals": ["States.ALL"]}],
    )
    catch = [{"ErrorEquals": ["States.Runtime"], "Next": "A"}, {"ErrorEquals": ["States.ALL"], "Next": "B"}]
    flaky = Flaky(0)
    result = run(with_catch(task, catch), {}, {"f": flaky})
    assert (result.status, result.error, flaky.calls) == ("FAILED", "States.Runtime", 0)


@pytest.mark.parametrize(
    ("error_equals", "error", "matches"),
    [
        (["States.ALL"], "Custom", True),
        (["States.ALL"], "States.Timeout", True),
        (["States.ALL"], "States.HeartbeatTimeout", True),
        (["States.ALL"], "States.Runtime", False),
        (["States.ALL"], "States.DataLimitExceeded", False),
        (["States.DataLimitExceeded"], "States.DataLimitExceeded", True),
        (["States.Runtime"], "States.Runtime", False),
        (["States.TaskFailed"], "Custom", True),
        (["States.TaskFailed"], "States.HeartbeatTimeout", True),
        (["States.TaskFailed"], "States.Timeout", False),
        (["States.TaskFailed"], "States.DataLimitExceeded", False),
        (["States.Timeout"], "States.Timeout", True),
        (["A", "B"], "B", True),
        (["A"], "AB", False),
    ],
)
def test_error_matching(error_equals: list[str], error: str, matches: bool) -> None:
    assert error_matches(error_equals, error) is matches
