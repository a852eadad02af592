"""Lambda tasks, Retry and Catch on both interpreters, with in-process functions."""

from __future__ import annotations

from typing import Any

from tests.parity.conftest import Functions, RunBoth

INVOKE = "arn:aws:states:::lambda:invoke"


class InvalidOrder(Exception):
    pass


class Flaky:
    """Fails with `error` the first `failures` calls, then answers the event doubled."""

    def __init__(self, failures: int, error: type[Exception] = InvalidOrder):
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return {"doubled": event["n"] * 2, "calls": self.calls}


def invoke(function: str, **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode"},
        **fields,
    }


def test_lambda_invoke_and_plain_lambda_arn(run_both: RunBoth) -> None:
    definition = {
        "StartAt": "Optimized",
        "States": {
            "Optimized": invoke("double", ResultPath="$.optimized", Next="Plain"),
            "Plain": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:double",
                "InputPath": "$",
                "ResultPath": "$.plain",
                "End": True,
            },
        },
    }
    run_both(definition, {"n": 4}, lambda: {"double": Flaky(0)}).assert_same()


def test_retry_until_the_function_succeeds(run_both: RunBoth) -> None:
    functions: list[Flaky] = []

    def make() -> Functions:
        functions.append(Flaky(1))
        return {"flaky": functions[-1]}

    retry = [{"ErrorEquals": ["InvalidOrder"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}]
    definition = {
        "StartAt": "Call",
        "States": {"Call": invoke("flaky", Retry=retry, OutputPath="$.payload", End=True)},
    }
    pair = run_both(definition, {"n": 3}, make)
    pair.assert_same()
    assert [f.calls for f in functions] == [2, 2]


def test_retries_exhausted_then_caught(run_both: RunBoth) -> None:
    functions: list[Flaky] = []

    def make() -> Functions:
        functions.append(Flaky(10, ValueError))
        return {"broken": functions[-1]}

    definition = {
        "StartAt": "Call",
        "States": {
            "Call": invoke(
                "broken",
                Retry=[{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                Catch=[
                    {"ErrorEquals": ["KeyError"], "Next": "Wrong"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"},
                ],
                Next="Wrong",
            ),
            "Wrong": {"Type": "Fail", "Error": "Wrong.Route"},
            "Report": {"Type": "Pass", "Parameters": {"error.$": "$.error.Error", "n.$": "$.n"}, "End": True},
        },
    }
    pair = run_both(definition, {"n": 1}, make)
    pair.assert_same()
    assert pair.engine.output == {"error": "ValueError", "n": 1}
    assert [f.calls for f in functions] == [2, 2]


def test_catchers_route_by_error_name(run_both: RunBoth) -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": invoke(
                "broken",
                Catch=[
                    {"ErrorEquals": ["KeyError", "ValueError"], "Next": "Wrong"},
                    {"ErrorEquals": ["InvalidOrder"], "ResultPath": "$.caught", "Next": "Right"},
                ],
                Next="Wrong",
            ),
            "Wrong": {"Type": "Fail", "Error": "Wrong.Route"},
            "Right": {"Type": "Pass", "OutputPath": "$.caught.Error", "End": True},
        },
    }
    run_both(definition, {"n": 1}, lambda: {"broken": Flaky(10)}).assert_same()


def test_an_uncaught_lambda_error_fails_with_its_error_type(run_both: RunBoth) -> None:
    definition = {"StartAt": "Call", "States": {"Call": invoke("broken", End=True)}}
    pair = run_both(definition, {"n": 1}, lambda: {"broken": Flaky(10)})
    pair.assert_same()
    assert pair.engine.error == "InvalidOrder"


def test_a_map_of_lambda_tasks(run_both: RunBoth) -> None:
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.orders",
                "MaxConcurrency": 3,
                "ItemProcessor": {
                    "StartAt": "Call",
                    "States": {"Call": invoke("double", OutputPath="$.payload.doubled", End=True)},
                },
                "End": True,
            }
        },
    }
    run_both(definition, {"orders": [{"n": i} for i in range(6)]}, lambda: {"double": Flaky(0)}).assert_same()
