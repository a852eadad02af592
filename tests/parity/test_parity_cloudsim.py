"""The moto helpers themselves: the Lambda hook and running executions to their end."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stratoflow.cloudsim import MotoTimeout, moto_history, moto_stepfunctions, run_on_moto


class Refused(Exception):
    pass


def test_invoke_is_answered_by_the_in_process_handler() -> None:
    # Given
    def handler(event: Any, context: Any) -> Any:
        return {"got": event, "name": context.function_name}

    with moto_stepfunctions({"echo": handler}) as sfn:
        client = boto3.client("lambda")
        # When
        response = client.invoke(FunctionName="echo", Payload=json.dumps({"a": 1}))
        # Then
        assert response["StatusCode"] == 200
        assert json.loads(response["Payload"].read()) == {"got": {"a": 1}, "name": "echo"}
        assert sfn.lambdas is not None and sfn.lambdas.invocations == [("echo", {"a": 1})]


def test_a_raising_handler_answers_with_a_lambda_function_error() -> None:
    def handler(event: Any, context: Any) -> Any:
        raise Refused("no")

    with moto_stepfunctions({"refuse": handler}):
        arn = "arn:aws:lambda:us-east-1:123456789012:function:refuse"
        response = boto3.client("lambda").invoke(FunctionName=arn, Payload=b"{}")
        assert response["FunctionError"] == "Unhandled"
        document = json.loads(response["Payload"].read())
        assert (document["errorType"], document["errorMessage"]) == ("Refused", "no")
        assert document["stackTrace"]


def test_async_invoke_runs_the_handler_and_answers_202() -> None:
    calls: list[Any] = []
    with moto_stepfunctions({"later": lambda event, _context: calls.append(event)}):
        response = boto3.client("lambda").invoke(FunctionName="later", InvocationType="Event", Payload=b"{}")
        assert (response["StatusCode"], calls) == (202, [{}])


def test_unknown_functions_go_on_to_moto() -> None:
    with moto_stepfunctions({}), pytest.raises(ClientError, match="ResourceNotFoundException"):
        boto3.client("lambda").invoke(FunctionName="nobody", Payload=b"{}")


def test_run_on_moto_returns_status_output_error_and_cause() -> None:
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "add", "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    result = run_on_moto(definition, {"a": 1, "b": 2}, {"add": lambda e, _c: e["a"] + e["b"]}, name="adds")
    assert result == ("SUCCEEDED", 3, None, None)
    failed = run_on_moto({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}, {})
    assert failed == ("FAILED", None, "E", "C")


def test_moto_history_lists_the_events() -> None:
    result, events = moto_history({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {"x": 1})
    assert result.output == {"x": 1}
    assert [event["type"] for event in events] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]


def test_waiting_too_long_raises_a_clear_timeout() -> None:
    # Given a function blocked until the test releases it
    release = threading.Event()
    definition = {
        "StartAt": "Block",
        "States": {
            "Block": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "block"},
                "End": True,
            }
        },
    }
    with moto_stepfunctions({"block": lambda _e, _c: release.wait(10)}) as sfn:
        execution = sfn.start(sfn.create(definition), {}, "blocked")
        try:
            # When / Then
            with pytest.raises(MotoTimeout, match="still RUNNING"):
                sfn.wait(execution, timeout=0.2)
        finally:
            release.set()
        assert sfn.wait(execution).status == "SUCCEEDED"
