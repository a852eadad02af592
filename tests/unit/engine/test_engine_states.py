from datetime import timedelta
from typing import Any

import pytest

from stratoflow.engine import PAYLOAD_LIMIT
from tests.unit.engine.engine_test_helpers import START, elapsed, lambda_task, run, single


def test_pass_result_goes_to_result_path_in_the_raw_input() -> None:
    result = run(
        single({"Type": "Pass", "InputPath": "$.ignored", "Result": {"r": 1}, "ResultPath": "$.out"}),
        {"a": 1},
    )
    assert result.output == {"a": 1, "out": {"r": 1}}


def test_pass_parameters_are_built_from_the_input_path_selection() -> None:
    state = {
        "Type": "Pass",
        "InputPath": "$.in",
        "Parameters": {"x.$": "$.v", "fixed": 1},
        "ResultPath": "$.p",
    }
    assert run(single(state), {"in": {"v": 7}}).output == {"in": {"v": 7}, "p": {"x": 7, "fixed": 1}}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"a": {"b": 1}}),
        ({"InputPath": "$.a"}, {"b": 1}),
        ({"InputPath": None}, {}),
        ({"OutputPath": None}, {}),
        ({"OutputPath": "$.a.b"}, 1),
        ({"ResultPath": None, "Result": "dropped"}, {"a": {"b": 1}}),
        ({"ResultPath": "$", "Result": "all"}, "all"),
        ({"ResultPath": "$.a.c", "Result": 2}, {"a": {"b": 1, "c": 2}}),
        ({"InputPath": "$.a", "ResultPath": "$.copy", "OutputPath": "$.copy"}, {"b": 1}),
    ],
)
def test_input_and_output_processing(fields: dict[str, Any], expected: Any) -> None:
    assert run(single({"Type": "Pass", **fields}), {"a": {"b": 1}}).output == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"InputPath": "$.nope"}, "Invalid path '$.nope' : No results for path: $['nope']"),
        ({"OutputPath": "$.nope"}, "Invalid path '$.nope'"),
        ({"Parameters": {"x.$": "$.nope"}}, "specified for the field 'x.$' could not be found"),
        ({"ResultPath": "$.a.b.c"}, "Unable to apply ReferencePath $.a.b.c"),
        ({"Parameters": {"x.$": "States.ArrayGetItem($.l, 9)"}}, "out of bounds"),
    ],
)
def test_a_path_that_does_not_resolve_fails_the_execution_with_states_runtime(
    fields: dict[str, Any], message: str
) -> None:
    result = run(single({"Type": "Pass", **fields}), {"a": {"b": 1}, "l": []})
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause is not None
    assert "An error occurred while executing the state 'Only' (entered at the event id #2)" in result.cause
    assert message in result.cause


def test_context_object_fields() -> None:
    # Given a Pass state reading every field of the context object
    parameters = {
        "id.$": "$$.Execution.Id",
        "name.$": "$$.Execution.Name",
        "start.$": "$$.Execution.StartTime",
        "input.$": "$$.Execution.Input",
        "state.$": "$$.State.Name",
        "entered.$": "$$.State.EnteredTime",
        "retries.$": "$$.State.RetryCount",
        "machine.$": "$$.StateMachine.Id",
    }
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Read"},
            "Read": {"Type": "Pass", "Parameters": parameters, "End": True},
        },
    }
    # When
    result = run(definition, {"k": 1}, state_machine_name="etl")
    # Then
    assert result.output == {
        "id": "arn:aws:states:local:000000000000:execution:etl:test",
        "name": "test",
        "start": "2024-01-01T00:00:00.000Z",
        "input": {"k": 1},
        "state": "Read",
        "entered": "2024-01-01T00:00:05.000Z",
        "retries": 0,
        "machine": "arn:aws:states:local:000000000000:stateMachine:etl",
    }


@pytest.mark.parametrize(
    ("wait", "input", "seconds"),
    [
        ({"Seconds": 30}, {}, 30),
        ({"Seconds": 0}, {}, 0),
        ({"SecondsPath": "$.s"}, {"s": 12}, 12),
        ({"Timestamp": "2024-01-01T01:00:00Z"}, {}, 3600),
        ({"Timestamp": "2023-01-01T00:00:00Z"}, {}, 0),
        ({"TimestampPath": "$.at"}, {"at": "2024-01-01T00:02:00+00:00"}, 120),
    ],
)
def test_wait_passes_virtual_time(wait: dict[str, Any], input: Any, seconds: float) -> None:
    result = run(single({"Type": "Wait", **wait}), input)
    assert result.status == "SUCCEEDED"
    assert result.output == input
    assert elapsed(result) == seconds
    assert result.stop_date == START + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("wait", "input"),
    [
        ({"SecondsPath": "$.s"}, {"s": -1}),
        ({"SecondsPath": "$.s"}, {"s": "10"}),
        ({"SecondsPath": "$.s"}, {}),
        ({"TimestampPath": "$.at"}, {"at": "tomorrow"}),
    ],
)
def test_wait_with_a_bad_path_value_is_a_runtime_error(wait: dict[str, Any], input: Any) -> None:
    assert run(single({"Type": "Wait", **wait}), input).error == "States.Runtime"


def test_succeed_applies_input_and_output_paths() -> None:
    result = run(single({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}), {"a": {"b": [1]}})
    assert (result.status, result.output) == ("SUCCEEDED", [1])


def test_fail_state_sets_error_and_cause() -> None:
    result = run(single({"Type": "Fail", "Error": "Custom.Error", "Cause": "because"}))
    assert (result.status, result.error, result.cause, result.output) == (
        "FAILED",
        "Custom.Error",
        "because",
        None,
    )


def test_fail_state_reads_error_and_cause_from_paths_and_intrinsics() -> None:
    state = {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('bad {}', $.n)"}
    result = run(single(state), {"e": "Dyn.Error", "n": 3})
    assert (result.error, result.cause) == ("Dyn.Error", "bad 3")


def test_fail_state_without_error_or_cause() -> None:
    result = run(single({"Type": "Fail"}))
    assert (result.status, result.error, result.cause) == ("FAILED", None, None)


def test_fail_state_error_path_must_select_a_string() -> None:
    assert run(single({"Type": "Fail", "ErrorPath": "$.n"}), {"n": 1}).error == "States.Runtime"


def choice_machine(default: bool = True) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "Type": "Choice",
        "InputPath": "$.in",
        "OutputPath": "$.kept",
        "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
            {
                "And": [{"Variable": "$.n", "IsPresent": True}, {"Variable": "$.n", "NumericLessThan": 0}],
                "Next": "Negative",
            },
        ],
    }
    states: dict[str, Any] = {
        "Route": choice,
        "Big": {"Type": "Pass", "Result": "big", "End": True},
        "Negative": {"Type": "Pass", "Result": "negative", "End": True},
    }
    if default:
        choice["Default"] = "Other"
        states["Other"] = {"Type": "Pass", "ResultPath": "$.seen", "End": True}
    return {"StartAt": "Route", "States": states}


@pytest.mark.parametrize(
    ("n", "expected"), [(11, "big"), (-1, "negative"), (5, {"kept": 1, "seen": {"kept": 1}})]
)
def test_choice_routes_to_the_first_matching_rule_or_default(n: int, expected: Any) -> None:
    result = run(choice_machine(), {"in": {"n": n, "kept": {"kept": 1}}})
    assert result.output == expected


def test_choice_without_match_or_default_fails_with_no_choice_matched() -> None:
    result = run(choice_machine(default=False), {"in": {"n": 5, "kept": 1}})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


def test_choice_on_a_missing_variable_fails_with_states_runtime() -> None:
    result = run(choice_machine(), {"in": {"kept": 1}})
    assert result.error == "States.Runtime"
    assert result.cause is not None and "Invalid path '$.n'" in result.cause


def test_execution_input_over_the_payload_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="over the"):
        run(single({"Type": "Pass"}), {"big": "x" * PAYLOAD_LIMIT})


def test_execution_input_must_be_json() -> None:
    with pytest.raises(ValueError, match="must be JSON"):
        run(single({"Type": "Pass"}), {"when": object()})


def test_a_state_output_over_the_payload_limit_fails_with_data_limit_exceeded() -> None:
    # Given a Pass state that doubles a 150 KiB input
    state = {"Type": "Pass", "Parameters": {"a.$": "$.big", "b.$": "$.big"}}
    # When
    result = run(single(state), {"big": "x" * 150_000})
    # Then
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")


def test_a_task_result_over_the_limit_is_caught_only_when_named() -> None:
    # Given a task returning 300 KB, caught by name and by States.ALL in turn
    def big(event: Any, context: Any) -> str:
        return "y" * 300_000

    def machine(names: list[str]) -> dict[str, Any]:
        task = lambda_task("big", Catch=[{"ErrorEquals": names, "Next": "Caught"}], Next="Done")
        return {
            "StartAt": "Big",
            "States": {
                "Big": task,
                "Caught": {"Type": "Pass", "Result": "caught", "End": True},
                "Done": {"Type": "Succeed"},
            },
        }

    # When / Then
    assert run(machine(["States.DataLimitExceeded"]), functions={"big": big}).output == "caught"
    assert run(machine(["States.ALL"]), functions={"big": big}).error == "States.DataLimitExceeded"


def test_payload_limit_counts_utf8_bytes() -> None:
    # 100k two-byte characters are 200 KB of UTF-8 (under the limit) but 600 KB as ASCII escapes
    assert run(single({"Type": "Pass"}), {"text": "é" * 100_000}).status == "SUCCEEDED"
    assert (
        run(single({"Type": "Pass", "Parameters": {"a.$": "$.t", "b.$": "$.t"}}), {"t": "é" * 70_000}).status
        == "FAILED"
    )
