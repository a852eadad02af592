from typing import Any

import pytest

from stratoflow.engine.choice import ChoiceRuntimeError, ChoiceSyntaxError, compile_rule, parse_timestamp

DATA: dict[str, Any] = {
    "s": "beta",
    "n": 5,
    "f": 2.5,
    "b": True,
    "t": "2024-03-01T10:00:00Z",
    "t2": "2024-03-01T12:00:00+02:00",
    "null": None,
    "other_s": "alpha",
    "other_n": 5.0,
    "file": "data/2024/report*.csv",
}


def check(rule: dict[str, Any]) -> bool:
    return compile_rule(rule)(DATA, None)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"Variable": "$.s", "StringEquals": "beta"}, True),
        ({"Variable": "$.s", "StringLessThan": "gamma"}, True),
        ({"Variable": "$.s", "StringGreaterThan": "gamma"}, False),
        ({"Variable": "$.s", "StringLessThanEquals": "beta"}, True),
        ({"Variable": "$.s", "StringGreaterThanEquals": "beta"}, True),
        ({"Variable": "$.s", "StringEqualsPath": "$.other_s"}, False),
        ({"Variable": "$.s", "StringGreaterThanPath": "$.other_s"}, True),
        ({"Variable": "$.s", "StringLessThanPath": "$.other_s"}, False),
        ({"Variable": "$.s", "StringLessThanEqualsPath": "$.s"}, True),
        ({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.s"}, True),
        ({"Variable": "$.n", "NumericEquals": 5}, True),
        ({"Variable": "$.n", "NumericEquals": 5.0}, True),
        ({"Variable": "$.n", "NumericLessThan": 5}, False),
        ({"Variable": "$.f", "NumericGreaterThan": 2}, True),
        ({"Variable": "$.n", "NumericLessThanEquals": 5}, True),
        ({"Variable": "$.n", "NumericGreaterThanEquals": 6}, False),
        ({"Variable": "$.n", "NumericEqualsPath": "$.other_n"}, True),
        ({"Variable": "$.f", "NumericLessThanPath": "$.n"}, True),
        ({"Variable": "$.f", "NumericGreaterThanPath": "$.n"}, False),
        ({"Variable": "$.n", "NumericLessThanEqualsPath": "$.other_n"}, True),
        ({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.f"}, True),
        ({"Variable": "$.b", "BooleanEquals": True}, True),
        ({"Variable": "$.b", "BooleanEqualsPath": "$.b"}, True),
        ({"Variable": "$.t", "TimestampEquals": "2024-03-01T10:00:00.000Z"}, True),
        ({"Variable": "$.t", "TimestampEqualsPath": "$.t2"}, True),
        ({"Variable": "$.t", "TimestampLessThan": "2024-03-01T10:00:01Z"}, True),
        ({"Variable": "$.t", "TimestampGreaterThan": "2024-03-01T10:00:01Z"}, False),
        ({"Variable": "$.t", "TimestampLessThanEquals": "2024-03-01T10:00:00Z"}, True),
        ({"Variable": "$.t", "TimestampGreaterThanEquals": "2024-03-01T09:00:00Z"}, True),
        ({"Variable": "$.t", "TimestampLessThanPath": "$.t2"}, False),
        ({"Variable": "$.t", "TimestampGreaterThanPath": "$.t2"}, False),
        ({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.t2"}, True),
        ({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.t2"}, True),
        ({"Variable": "$.null", "IsNull": True}, True),
        ({"Variable": "$.n", "IsNull": False}, True),
        ({"Variable": "$.n", "IsPresent": True}, True),
        ({"Variable": "$.missing", "IsPresent": False}, True),
        ({"Variable": "$.missing", "IsPresent": True}, False),
        ({"Variable": "$.n", "IsNumeric": True}, True),
        ({"Variable": "$.b", "IsNumeric": True}, False),
        ({"Variable": "$.s", "IsString": True}, True),
        ({"Variable": "$.b", "IsBoolean": True}, True),
        ({"Variable": "$.n", "IsBoolean": True}, False),
        ({"Variable": "$.t", "IsTimestamp": True}, True),
        ({"Variable": "$.s", "IsTimestamp": True}, False),
        ({"Variable": "$.s", "StringMatches": "b*a"}, True),
        ({"Variable": "$.s", "StringMatches": "*et*"}, True),
        ({"Variable": "$.s", "StringMatches": "b?ta"}, False),
        ({"Variable": "$.file", "StringMatches": "data/*/report\\*.csv"}, True),
        ({"Variable": "$.s", "StringMatches": "beta\\*"}, False),
        (
            {"And": [{"Variable": "$.n", "NumericEquals": 5}, {"Variable": "$.b", "BooleanEquals": True}]},
            True,
        ),
        (
            {"And": [{"Variable": "$.n", "NumericEquals": 5}, {"Variable": "$.b", "BooleanEquals": False}]},
            False,
        ),
        (
            {"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.s", "StringEquals": "beta"}]},
            True,
        ),
        ({"Not": {"Variable": "$.n", "NumericEquals": 1}}, True),
        ({"Not": {"Or": [{"Variable": "$.n", "NumericEquals": 5}]}}, False),
    ],
)
def test_choice_operators(rule: dict[str, Any], expected: bool) -> None:
    assert check(rule) is expected


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.n", "StringEquals": "5"},
        {"Variable": "$.s", "NumericEquals": 5},
        {"Variable": "$.b", "NumericEquals": 1},
        {"Variable": "$.n", "BooleanEquals": True},
        {"Variable": "$.s", "TimestampEquals": "2024-03-01T10:00:00Z"},
        {"Variable": "$.n", "StringMatches": "*"},
        {"Variable": "$.s", "NumericEqualsPath": "$.n"},
    ],
)
def test_a_value_of_the_wrong_type_is_false_not_an_error(rule: dict[str, Any]) -> None:
    assert check(rule) is False


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.missing", "StringEquals": "x"},
        {"Variable": "$.missing", "IsNull": True},
        {"Variable": "$.s", "StringEqualsPath": "$.missing"},
        {"Not": {"Variable": "$.missing", "IsString": True}},
    ],
)
def test_a_path_that_does_not_resolve_is_a_runtime_error(rule: dict[str, Any]) -> None:
    with pytest.raises(ChoiceRuntimeError, match="Invalid path"):
        check(rule)


def test_context_object_paths_in_rules() -> None:
    rule = compile_rule({"Variable": "$$.Execution.Name", "StringEquals": "run"})
    assert rule({}, lambda: {"Execution": {"Name": "run"}}) is True


@pytest.mark.parametrize(
    "rule",
    [
        {"Variable": "$.s"},
        {"StringEquals": "x"},
        {"Variable": "$.s", "StringEquals": "x", "StringMatches": "x"},
        {"Variable": "$.s", "StringEquals": 3},
        {"Variable": "$.n", "NumericEquals": "3"},
        {"Variable": "$.n", "NumericEquals": True},
        {"Variable": "$.b", "BooleanEquals": "true"},
        {"Variable": "$.t", "TimestampEquals": "yesterday"},
        {"Variable": "$.n", "IsNull": "yes"},
        {"Variable": "$.s", "StringEqualsPath": "not a path"},
        {"Variable": "nope", "IsPresent": True},
        {"And": []},
        {"And": {"Variable": "$.s", "IsPresent": True}},
        {"And": [{"Variable": "$.s", "IsPresent": True}], "Or": [{"Variable": "$.s", "IsPresent": True}]},
        {"Not": {"Variable": "$.s", "IsPresent": True}, "Variable": "$.s"},
        "not a rule",
    ],
)
def test_malformed_rules_are_rejected(rule: Any) -> None:
    with pytest.raises(ChoiceSyntaxError):
        compile_rule(rule)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2024-01-31T12:00:00Z", True),
        ("2024-01-31T12:00:00.123456789Z", True),
        ("2024-01-31T12:00:00-05:30", True),
        ("2024-01-31t12:00:00Z", False),
        ("2024-01-31T12:00:00", False),
        ("2024-01-31 12:00:00Z", False),
        ("2024-13-31T12:00:00Z", False),
        (20240131, False),
    ],
)
def test_timestamps_follow_rfc3339_as_aws(text: Any, valid: bool) -> None:
    assert (parse_timestamp(text) is not None) is valid
