"""The same definitions on the local engine and on moto: same status, output and error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.parity.conftest import RunBoth


def chain(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A machine running `states` in order."""
    names = [name for name, _ in states]
    built: dict[str, Any] = {}
    for index, (name, state) in enumerate(states):
        if state["Type"] in ("Succeed", "Fail", "Choice") or "Next" in state or "End" in state:
            built[name] = state
        elif index == len(states) - 1:
            built[name] = {**state, "End": True}
        else:
            built[name] = {**state, "Next": names[index + 1]}
    return {"StartAt": names[0], "States": built}


def test_pass_states_and_path_processing(run_both: RunBoth) -> None:
    definition = chain(
        ("Literal", {"Type": "Pass", "Result": {"r": [1, 2]}, "ResultPath": "$.literal"}),
        (
            "Shape",
            {
                "Type": "Pass",
                "InputPath": "$.order",
                "Parameters": {"id.$": "$.id", "first.$": "$.lines[0]", "fixed": True},
                "ResultPath": "$.shaped",
            },
        ),
        ("Deep", {"Type": "Pass", "Result": "x", "ResultPath": "$.a.b.c"}),
        ("Keep", {"Type": "Pass", "Result": "dropped", "ResultPath": None}),
        ("Pick", {"Type": "Pass", "OutputPath": "$.shaped"}),
    )
    run_both(definition, {"order": {"id": "o-1", "lines": [{"sku": "A"}, {"sku": "B"}]}}).assert_same()


def test_context_object(run_both: RunBoth) -> None:
    definition = chain(
        (
            "Read",
            {
                "Type": "Pass",
                "Parameters": {
                    "name.$": "$$.Execution.Name",
                    "state.$": "$$.State.Name",
                    "input.$": "$$.Execution.Input.k",
                    "machine.$": "$$.StateMachine.Name",
                },
            },
        ),
        (
            "Check",
            {
                "Type": "Pass",
                "Parameters": {
                    "same.$": "States.ArrayContains(States.Array($.name), $$.Execution.Name)",
                    "state.$": "$.state",
                    "input.$": "$.input",
                    "machine_is_text.$": "States.Format('{}', $.machine)",
                },
            },
        ),
    )
    pair = run_both(definition, {"k": "v"})
    pair.assert_same()


CHOICE = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.n", "IsPresent": True},
                        {"Variable": "$.n", "IsNumeric": True},
                        {"Variable": "$.n", "NumericGreaterThanEquals": 100},
                    ],
                    "Next": "Big",
                },
                {
                    "And": [
                        {"Variable": "$.s", "IsPresent": True},
                        {"Variable": "$.s", "StringMatches": "report-*.csv"},
                    ],
                    "Next": "Report",
                },
                {
                    "And": [
                        {"Variable": "$.flag", "IsPresent": True},
                        {"Not": {"Variable": "$.flag", "BooleanEquals": False}},
                    ],
                    "Next": "Flagged",
                },
                {
                    "And": [
                        {"Variable": "$.at", "IsPresent": True},
                        {"Variable": "$.at", "TimestampLessThan": "2024-01-01T00:00:00Z"},
                    ],
                    "Next": "Old",
                },
                {
                    "And": [
                        {"Variable": "$.a", "IsPresent": True},
                        {"Variable": "$.b", "IsPresent": True},
                        {"Variable": "$.a", "NumericLessThanPath": "$.b"},
                    ],
                    "Next": "Ordered",
                },
                {
                    "Or": [{"Variable": "$.x", "IsNull": True}, {"Variable": "$.x", "IsString": True}],
                    "Next": "NullOrText",
                },
            ],
            "Default": "Other",
        },
        "Big": {"Type": "Pass", "Result": "big", "End": True},
        "Report": {"Type": "Pass", "Result": "report", "End": True},
        "Flagged": {"Type": "Pass", "Result": "flagged", "End": True},
        "Old": {"Type": "Pass", "Result": "old", "End": True},
        "Ordered": {"Type": "Pass", "Result": "ordered", "End": True},
        "NullOrText": {"Type": "Pass", "Result": "null-or-text", "End": True},
        "Other": {"Type": "Pass", "Result": "other", "End": True},
    },
}


@pytest.mark.parametrize(
    "value",
    [
        {"n": 150},
        {"n": 5, "x": 1},
        {"s": "report-2024.csv"},
        {"s": "summary.csv", "x": None},
        {"flag": True},
        {"at": "2023-06-01T10:00:00Z"},
        {"a": 1, "b": 2},
        {"a": 2, "b": 1, "x": "text"},
    ],
)
def test_choice_rules(run_both: RunBoth, value: dict[str, Any]) -> None:
    run_both(CHOICE, value).assert_same()


def test_intrinsic_functions(run_both: RunBoth) -> None:
    parameters = {
        "format.$": "States.Format('Hello {} n={} b={} z={} l={} o={}', $.name, $.n, $.b, $.z, $.list, $.obj)",
        "to_json.$": "States.StringToJson($.json)",
        "to_string.$": "States.JsonToString($.obj)",
        "array.$": "States.Array(1, 'two', $.n, States.Array(true))",
        "partition.$": "States.ArrayPartition($.list, 2)",
        "contains.$": "States.ArrayContains($.list, 3)",
        "range.$": "States.ArrayRange(1, 9, 2)",
        "item.$": "States.ArrayGetItem($.list, 1)",
        "length.$": "States.ArrayLength($.list)",
        "unique.$": "States.ArrayUnique($.dups)",
        "base64.$": "States.Base64Encode($.name)",
        "decoded.$": "States.Base64Decode('aGVsbG8=')",
        "hash.$": "States.Hash($.name, 'SHA-256')",
        "merged.$": "States.JsonMerge($.obj, $.other, false)",
        "sum.$": "States.MathAdd($.n, -3)",
        "split.$": "States.StringSplit($.csv, ',;')",
        "random.$": "States.MathRandom(5, 5)",
        "uuid_parts.$": "States.ArrayLength(States.StringSplit(States.UUID(), '-'))",
        "second.$": "$.list[1]",
        "all.$": "$.list[*]",
        "slice.$": "$.list[0:2]",
        "filtered.$": "$.items[?(@.v > 1)].v",
    }
    value = {
        "name": "Ann",
        "n": 5,
        "b": True,
        "z": None,
        "list": [1, 3, 5],
        "obj": {"a": 1, "b": [1, 2]},
        "other": {"b": 9, "c": 3},
        "json": '{"k": [1, 2]}',
        "dups": [1, 1, 2, "a", "a"],
        "csv": "a,b;;c",
        "items": [{"v": 1}, {"v": 2}, {"v": 3}],
    }
    run_both(chain(("Compute", {"Type": "Pass", "Parameters": parameters})), value).assert_same()


def test_waits_that_pass_at_once(run_both: RunBoth) -> None:
    definition = chain(
        ("Zero", {"Type": "Wait", "Seconds": 0}),
        ("FromPath", {"Type": "Wait", "SecondsPath": "$.s"}),
        ("Past", {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z"}),
        ("PastFromPath", {"Type": "Wait", "TimestampPath": "$.at"}),
        ("Done", {"Type": "Succeed", "OutputPath": "$.s"}),
    )
    run_both(definition, {"s": 0, "at": "2021-05-05T05:05:05Z"}).assert_same()


def test_fail_state(run_both: RunBoth) -> None:
    definition = chain(
        ("Check", {"Type": "Pass", "Next": "Stop"}),
        ("Stop", {"Type": "Fail", "Error": "Order.Invalid", "Cause": "no lines"}),
    )
    run_both(definition, {}).assert_same(compare_cause=True)


def test_map_with_item_selector_and_max_concurrency(run_both: RunBoth) -> None:
    definition = chain(
        (
            "Each",
            {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {
                    "value.$": "$$.Map.Item.Value",
                    "index.$": "$$.Map.Item.Index",
                    "batch.$": "$.batch",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Label",
                    "States": {
                        "Label": {
                            "Type": "Pass",
                            "Parameters": {"label.$": "States.Format('{}#{}:{}', $.batch, $.index, $.value)"},
                            "End": True,
                        }
                    },
                },
                "ResultSelector": {"labels.$": "$[*].label", "count.$": "States.ArrayLength($)"},
                "ResultPath": "$.result",
            },
        ),
    )
    run_both(definition, {"batch": "b1", "items": ["x", "y", "z"]}).assert_same()


def test_legacy_map_iterator_and_parameters(run_both: RunBoth) -> None:
    definition = chain(
        (
            "Each",
            {
                "Type": "Map",
                "Parameters": {"v.$": "$$.Map.Item.Value"},
                "Iterator": chain(("Echo", {"Type": "Pass"})),
            },
        ),
    )
    run_both(definition, [1, {"a": 2}]).assert_same()


def test_nested_map_and_parallel(run_both: RunBoth) -> None:
    inner_parallel = {
        "Type": "Parallel",
        "Branches": [chain(("Same", {"Type": "Pass"})), chain(("Tag", {"Type": "Pass", "Result": "tag"}))],
    }
    definition = chain(
        (
            "Outer",
            {
                "Type": "Map",
                "ItemProcessor": chain(
                    (
                        "Inner",
                        {
                            "Type": "Map",
                            "ItemsPath": "$.inner",
                            "ItemProcessor": chain(("Both", inner_parallel)),
                        },
                    )
                ),
            },
        )
    )
    run_both(definition, [{"inner": [1, 2]}, {"inner": [3]}]).assert_same()


def test_parallel_branches_with_parameters_and_result_selector(run_both: RunBoth) -> None:
    definition = chain(
        (
            "Fan",
            {
                "Type": "Parallel",
                "Parameters": {"v.$": "$.value"},
                "Branches": [
                    chain(("Double", {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.v, $.v)"}})),
                    chain(("Text", {"Type": "Pass", "Parameters": {"t.$": "States.Format('v={}', $.v)"}})),
                ],
                "ResultSelector": {"double.$": "$[0]", "text.$": "$[1]"},
                "ResultPath": "$.fan",
            },
        )
    )
    run_both(definition, {"value": 21}).assert_same()


def test_a_failed_parallel_branch_is_caught(run_both: RunBoth) -> None:
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    chain(("Fine", {"Type": "Pass"})),
                    chain(("Broken", {"Type": "Fail", "Error": "Branch.Broken", "Cause": "b"})),
                ],
                "Catch": [{"ErrorEquals": ["Branch.Broken"], "ResultPath": "$.error", "Next": "Recover"}],
                "End": True,
            },
            "Recover": {"Type": "Pass", "End": True},
        },
    }
    run_both(definition, {"in": 1}).assert_same()


def test_a_failed_map_iteration_fails_the_execution(run_both: RunBoth) -> None:
    processor = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}],
                "Default": "Good",
            },
            "Bad": {"Type": "Fail", "Error": "Item.Bad", "Cause": "two"},
            "Good": {"Type": "Succeed"},
        },
    }
    definition = chain(("Each", {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": processor}))
    run_both(definition, [1, 2, 3]).assert_same(compare_cause=True)
