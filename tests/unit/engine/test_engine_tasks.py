import json
from typing import Any

import pytest

from stratoflow.engine import Resources, TaskCall, TaskError
from tests.unit.engine.engine_test_helpers import INVOKE, lambda_task, run, single


class ValidationFailed(Exception):
    """A handler's own exception: its class name becomes the ASL error name."""


def test_lambda_invoke_result_has_the_shape_step_functions_returns() -> None:
    # Given
    seen: list[Any] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append((event, context.function_name, context.aws_request_id))
        return {"doubled": event["n"] * 2}

    state = {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": {"FunctionName": "double", "Payload": {"n.$": "$.n"}},
    }
    # When
    result = run(single(state), {"n": 21}, {"double": handler})
    # Then
    output = result.output
    assert output["Payload"] == {"doubled": 42}
    assert output["StatusCode"] == 200
    assert output["ExecutedVersion"] == "$LATEST"
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert output["SdkResponseMetadata"]["RequestId"] == seen[0][2]
    assert seen[0][:2] == ({"n": 21}, "double")


def test_a_plain_lambda_arn_resource_gets_the_input_and_returns_the_value() -> None:
    state = {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:echo:live"}
    result = run(single(state), {"a": 1}, {"echo": lambda event, _context: {"echo": event}})
    assert result.output == {"echo": {"a": 1}}


@pytest.mark.parametrize(
    "function_name",
    [
        "echo",
        "arn:aws:lambda:us-east-1:123456789012:function:echo",
        "echo:prod",
        "123456789012:function:echo",
    ],
)
def test_functions_are_found_by_name_inside_arns_and_qualifiers(function_name: str) -> None:
    state = {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": {"FunctionName": function_name},
        "OutputPath": "$.Payload",
    }
    assert run(single(state), functions={"echo": lambda _e, _c: "found"}).output == "found"


def test_placeholders_are_looked_up_verbatim() -> None:
    state = lambda_task("${TaskRunnerFunctionArn}")
    assert run(single(state), {"x": 1}, {"${TaskRunnerFunctionArn}": lambda e, _c: e}).output == {"x": 1}


def test_handler_exception_becomes_a_lambda_error() -> None:
    # Given
    def handler(event: Any, context: Any) -> Any:
        raise ValidationFailed("the input is wrong")

    # When
    result = run(single(lambda_task("check")), {}, {"check": handler})
    # Then
    assert (result.status, result.error) == ("FAILED", "ValidationFailed")
    cause = json.loads(result.cause or "")
    assert cause["errorMessage"] == "the input is wrong"
    assert cause["errorType"] == "ValidationFailed"
    assert any("in handler" in line for line in cause["stackTrace"])
    assert set(cause) == {"errorMessage", "errorType", "requestId", "stackTrace"}


def test_unknown_function_fails_with_resource_not_found() -> None:
    result = run(single(lambda_task("missing")), {}, {"other": lambda _e, _c: None})
    assert result.error == "Lambda.ResourceNotFoundException"
    assert "missing" in (result.cause or "")


def test_a_result_that_is_not_json_is_a_marshal_error() -> None:
    result = run(single(lambda_task("bad")), {}, {"bad": lambda _e, _c: {"when": object()}})
    assert result.error == "Runtime.MarshalError"


def test_the_event_is_a_copy_the_handler_may_change() -> None:
    def mutate(event: Any, context: Any) -> str:
        event["list"].append(99)
        return "done"

    state = lambda_task("mutate", ResultPath="$.r", OutputPath="$")
    result = run(single(state), {"list": [1]}, {"mutate": mutate})
    assert result.output == {"list": [1], "r": {"value": "done"}}


class Recorder:
    """A ResourceHandler that records each call and answers with `answer`."""

    def __init__(self, answer: Any = None, error: Exception | None = None):
        self.answer = answer
        self.error = error
        self.calls: list[tuple[str, Any, TaskCall]] = []

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        self.calls.append((resource, parameters, call))
        if self.error is not None:
            raise self.error
        return self.answer


def test_resources_route_by_the_longest_prefix() -> None:
    # Given
    generic, specific = Recorder("generic"), Recorder("specific")
    resources = Resources({"arn:aws:states:::": generic, "arn:aws:states:::sqs:sendMessage": specific})
    definition = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "ResultPath": "$.a",
                "Next": "B",
            },
            "B": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "ResultPath": "$.b",
                "End": True,
            },
        },
    }
    # When
    result = run(definition, {}, resources=resources)
    # Then
    assert result.output == {"a": "specific", "b": "generic"}
    call = specific.calls[0][2]
    assert (call.execution_name, call.state_name, call.retry_count, call.task_token) == ("test", "A", 0, None)
    assert call.execution_id.endswith(":execution:StateMachine:test")


def test_an_unknown_resource_is_a_runtime_error() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::glue:startJobRun",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}],
        "Next": "C",
    }
    definition = {"StartAt": "T", "States": {"T": state, "C": {"Type": "Succeed"}}}
    result = run(definition, resources=Resources({"arn:aws:lambda:": Recorder()}))
    assert result.error == "States.Runtime"
    assert "no handler for the resource 'arn:aws:states:::glue:startJobRun'" in (result.cause or "")


def test_task_error_sets_error_and_cause() -> None:
    recorder = Recorder(error=TaskError("Glue.JobFailed", "out of memory"))
    result = run(
        single({"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync"}), resources=recorder
    )
    assert (result.error, result.cause) == ("Glue.JobFailed", "out of memory")


def test_other_handler_exceptions_are_named_by_their_class() -> None:
    recorder = Recorder(error=KeyError("k"))
    result = run(single({"Type": "Task", "Resource": "arn:aws:states:::x"}), resources=recorder)
    assert result.error == "KeyError"


def test_task_io_processing_order() -> None:
    # Given InputPath -> Parameters -> ResultSelector -> ResultPath -> OutputPath
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::x",
        "InputPath": "$.in",
        "Parameters": {"p.$": "$.v"},
        "ResultSelector": {"picked.$": "$.answer", "from.$": "$$.State.Name"},
        "ResultPath": "$.in.result",
        "OutputPath": "$.in",
    }
    recorder = Recorder({"answer": 42, "noise": True})
    # When
    result = run(single(state, name="Work"), {"in": {"v": 1}, "other": 2}, resources=recorder)
    # Then
    assert recorder.calls[0][1] == {"p": 1}
    assert result.output == {"v": 1, "result": {"picked": 42, "from": "Work"}}


def test_result_path_null_keeps_the_input() -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::x", "ResultPath": None}
    assert run(single(state), {"keep": True}, resources=Recorder("dropped")).output == {"keep": True}
