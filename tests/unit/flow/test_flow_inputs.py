"""Input types: coercion of CLI text and native values, the rule named when one is refused, and
`resolve_inputs` for a whole flow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from stratoflow.errors import InputError
from stratoflow.flow import Input, input_types, load_flow, resolve_inputs
from stratoflow.flow.fields import StrictModel
from stratoflow.flow.inputs import InputItem
from tests.unit.flow.flow_test_helpers import flow_text


class _Holder(StrictModel):
    item: InputItem


def make(**spec: Any) -> Input:
    """One input model from its YAML properties."""
    return _Holder.model_validate({"item": {"id": "x", **spec}}).item


VALID = [
    ({"type": "STRING"}, "hello", "hello"),
    ({"type": "STRING"}, 42, "42"),
    ({"type": "STRING", "validator": "^[a-z]+$"}, "abc", "abc"),
    ({"type": "INT"}, "42", 42),
    ({"type": "INT"}, " -7 ", -7),
    ({"type": "INT"}, 3.0, 3),
    ({"type": "INT", "min": 1, "max": 10}, 10, 10),
    ({"type": "FLOAT"}, "2.5", 2.5),
    ({"type": "FLOAT"}, 2, 2.0),
    ({"type": "FLOAT", "min": 0.5}, 0.5, 0.5),
    ({"type": "BOOLEAN"}, "true", True),
    ({"type": "BOOLEAN"}, "FALSE", False),
    ({"type": "BOOL"}, False, False),
    ({"type": "DATETIME"}, "2024-01-31T09:00:00Z", "2024-01-31T09:00:00Z"),
    ({"type": "DATETIME"}, "2024-01-31T10:00:00+01:00", "2024-01-31T09:00:00Z"),
    ({"type": "DATETIME"}, "2024-01-31T09:00:00", "2024-01-31T09:00:00Z"),
    ({"type": "DATETIME"}, datetime(2024, 1, 31, 9, tzinfo=UTC), "2024-01-31T09:00:00Z"),
    ({"type": "DATETIME", "after": "2024-01-01T00:00:00Z"}, "2024-06-01T00:00:00Z", "2024-06-01T00:00:00Z"),
    ({"type": "DATE"}, "2024-01-31", "2024-01-31"),
    ({"type": "DATE"}, date(2024, 1, 31), "2024-01-31"),
    ({"type": "DATE", "before": "2025-01-01"}, "2024-12-31", "2024-12-31"),
    ({"type": "TIME"}, "09:30", "09:30:00"),
    ({"type": "TIME"}, time(9, 30, 15), "09:30:15"),
    ({"type": "DURATION"}, "PT90M", "PT1H30M"),
    ({"type": "DURATION"}, timedelta(days=2), "PT48H"),
    ({"type": "DURATION", "max": "PT1H"}, "PT59M", "PT59M"),
    ({"type": "JSON"}, '{"a": [1, 2]}', {"a": [1, 2]}),
    ({"type": "JSON"}, {"a": 1}, {"a": 1}),
    ({"type": "YAML"}, "a: yes\nb: [1]", {"a": "yes", "b": [1]}),
    ({"type": "YAML"}, [1, 2], [1, 2]),
    ({"type": "URI"}, "https://example.com/a.csv", "https://example.com/a.csv"),
    ({"type": "URI"}, "s3://bucket/key", "s3://bucket/key"),
    ({"type": "EMAIL"}, "ops@example.com", "ops@example.com"),
    ({"type": "SELECT", "values": ["dev", "prod"]}, "prod", "prod"),
    ({"type": "ENUM", "values": ["dev", "prod"]}, "dev", "dev"),
    ({"type": "SELECT", "values": ["dev"], "allowCustomValue": True}, "qa", "qa"),
    ({"type": "MULTISELECT", "values": ["a", "b", "c"]}, ["a", "c"], ["a", "c"]),
    ({"type": "MULTISELECT", "values": ["a", "b", "c"]}, '["b"]', ["b"]),
    ({"type": "MULTISELECT", "options": ["a", "b"]}, "a, b", ["a", "b"]),
    ({"type": "ARRAY", "itemType": "INT"}, "[1, 2, 3]", [1, 2, 3]),
    ({"type": "ARRAY", "itemType": "INT"}, "1,2,3", [1, 2, 3]),
    ({"type": "ARRAY", "itemType": "STRING"}, ["a", "b"], ["a", "b"]),
    ({"type": "ARRAY", "itemType": "DATE"}, ["2024-01-01"], ["2024-01-01"]),
    ({"type": "FILE"}, "s3://bucket/file.csv", "s3://bucket/file.csv"),
    ({"type": "FILE"}, "strato:///ns/flow/file.csv", "strato:///ns/flow/file.csv"),
    ({"type": "SECRET"}, "hunter2", "hunter2"),
]


@pytest.mark.parametrize(("spec", "raw", "expected"), VALID)
def test_valid_values_are_coerced(spec: dict[str, Any], raw: Any, expected: Any) -> None:
    assert make(**spec).coerce(raw) == expected


INVALID = [
    ({"type": "STRING"}, {"a": 1}, "expected text, got a mapping"),
    ({"type": "STRING", "validator": "^[a-z]+$"}, "ABC", "does not match the validator '^[a-z]+$'"),
    ({"type": "INT"}, "4.5", "expected an integer, got the text '4.5'"),
    ({"type": "INT"}, True, "expected an integer, got a boolean"),
    ({"type": "INT", "min": 1}, 0, "0 is less than the minimum 1"),
    ({"type": "INT", "max": 10}, "11", "11 is greater than the maximum 10"),
    ({"type": "FLOAT"}, "nan", "expected a finite number"),
    ({"type": "FLOAT"}, "abc", "expected a finite number"),
    ({"type": "FLOAT", "max": 1.5}, 2, "greater than the maximum 1.5"),
    ({"type": "BOOLEAN"}, "yes", "expected true or false, got the text 'yes'"),
    ({"type": "DATETIME"}, "yesterday", "expected an ISO-8601 date-time"),
    (
        {"type": "DATETIME", "before": "2024-01-01T00:00:00Z"},
        "2024-06-01T00:00:00Z",
        "greater than the maximum",
    ),
    ({"type": "DATE"}, "31/01/2024", "expected an ISO-8601 date"),
    ({"type": "DATE", "after": "2024-01-01"}, "2023-12-31", "less than the minimum 2024-01-01"),
    ({"type": "TIME"}, "25:00", "expected a time"),
    ({"type": "DURATION"}, "90 minutes", "is not an ISO-8601 duration"),
    ({"type": "DURATION", "min": "PT1M"}, "PT30S", "PT30S is less than the minimum PT1M"),
    ({"type": "JSON"}, "{a: 1}", "not valid JSON"),
    ({"type": "JSON"}, {1, 2}, "expected a JSON value"),
    ({"type": "YAML"}, "a: [1", "not valid YAML"),
    ({"type": "URI"}, "not a uri", "expected a URI"),
    ({"type": "EMAIL"}, "ops.example.com", "expected an e-mail address"),
    (
        {"type": "SELECT", "values": ["dev", "prod"]},
        "prd",
        "'prd' is not one of: dev, prod (did you mean prod?)",
    ),
    ({"type": "MULTISELECT", "values": ["a", "b"]}, ["a", "z"], "'z' is not one of: a, b"),
    ({"type": "ARRAY", "itemType": "INT"}, ["1", "x"], "item 1: expected an integer"),
    ({"type": "ARRAY", "itemType": "INT"}, 5, "expected a list"),
    ({"type": "FILE"}, "/definitely/not/here.csv", "expected a storage URI"),
    ({"type": "SECRET", "validator": "^.{8,}$"}, "short", "the value does not match the validator"),
]


@pytest.mark.parametrize(("spec", "raw", "fragment"), INVALID)
def test_invalid_values_name_the_input_and_the_rule(spec: dict[str, Any], raw: Any, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        make(**spec).coerce(raw)

    assert caught.value.input_id == "x"
    assert str(caught.value).startswith("input 'x': ")
    assert fragment in str(caught.value)


def test_a_secret_is_never_shown_in_its_error() -> None:
    with pytest.raises(InputError) as caught:
        make(type="SECRET", validator="^[0-9]+$").coerce("my-password")

    assert "my-password" not in str(caught.value)


@pytest.mark.parametrize("local", ["{path}", "file://{path}", "/proc/self/environ", "file:///etc/passwd"])
def test_a_file_input_never_names_a_file_of_the_machine_that_admits_it(tmp_path: Path, local: str) -> None:
    # Given an existing local file, named by path or file:// URI (a webhook body, the console, a program)
    data = tmp_path / "data.csv"
    data.write_text("a,b\n")
    # When it is coerced as a FILE input, then it is refused: only the CLI uploads its user's files
    with pytest.raises(
        InputError, match=r"expected a storage URI .*only `strato run`/`strato trigger` upload"
    ):
        make(type="FILE").coerce(local.format(path=data))


def test_none_is_refused_for_a_required_input_and_kept_for_an_optional_one() -> None:
    with pytest.raises(InputError, match="a value is required"):
        make(type="STRING").coerce(None)
    assert make(type="STRING", required=False).coerce(None) is None


def test_every_input_type_name_is_known() -> None:
    assert {
        "STRING", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME", "DATE", "TIME", "DURATION", "JSON", "YAML",
        "URI", "SELECT", "ENUM", "MULTISELECT", "ARRAY", "FILE", "SECRET", "EMAIL",
    } == set(input_types())  # fmt: skip


def test_legacy_name_is_accepted_for_the_id() -> None:
    assert _Holder.model_validate({"item": {"name": "legacy", "type": "STRING"}}).item.id == "legacy"


FLOW = flow_text(
    """
    inputs:
      - {id: name, type: STRING, defaults: World}
      - {id: count, type: INT, defaults: 3}
      - {id: day, type: DATE}
      - {id: note, type: STRING, required: false}
      - {id: when, type: DATETIME, defaults: "{{ now() }}"}
    tasks:
      - {id: t, type: Log, message: m}
    """
)


def test_resolve_inputs_applies_defaults_and_coerces() -> None:
    flow = load_flow(FLOW)

    values = resolve_inputs(flow, {"day": "2024-01-31", "count": "5"})

    assert values == {"name": "World", "count": 5, "day": "2024-01-31", "note": None, "when": "{{ now() }}"}


def test_resolve_inputs_collects_every_problem() -> None:
    # Given
    flow = load_flow(FLOW)

    # When
    with pytest.raises(InputError) as caught:
        resolve_inputs(flow, {"count": "many", "nmae": "x"})

    # Then
    assert caught.value.input_id == "count"
    assert str(caught.value) == (
        "input 'count': expected an integer, got the text 'many'; "
        "input 'day': is required and has no default; "
        "input 'nmae': unknown input (did you mean name?)"
    )


def test_resolve_inputs_for_a_flow_without_inputs() -> None:
    flow = load_flow(flow_text("tasks: [{id: t, type: Log, message: m}]\n"))

    assert resolve_inputs(flow, {}) == {}
    with pytest.raises(InputError, match="unknown input"):
        resolve_inputs(flow, {"x": 1})


def test_flow_outputs_are_coerced_to_their_type() -> None:
    flow = load_flow(
        flow_text(
            """
            tasks: [{id: t, type: Log, message: m}]
            outputs:
              - {id: count, type: INT, value: x}
              - {id: when, type: DATETIME, value: x}
              - {id: maybe, type: STRING, value: x, required: false}
              - {id: choice, type: SELECT, value: x}
            """
        )
    )
    count, when, maybe, choice = flow.outputs

    assert count.coerce("3") == 3
    assert when.coerce("2024-01-31T10:00:00+01:00") == "2024-01-31T09:00:00Z"
    assert maybe.coerce(None) is None
    assert choice.coerce("anything") == "anything"
    with pytest.raises(InputError, match="input 'count': expected an integer"):
        count.coerce("three")
    with pytest.raises(InputError, match="a value is required"):
        count.coerce(None)


PREFILL_AND_DEPENDS_ON = flow_text(
    """
    inputs:
      - id: region
        type: STRING
        prefill: eu-west-1
        required: false
      - id: cloud
        type: SELECT
        values: [AWS, GCP]
        defaults: AWS
      - id: services
        type: MULTISELECT
        values: [S3, EC2]
        dependsOn:
          inputs: [cloud]
          condition: "{{ inputs.cloud == 'AWS' }}"
    tasks:
      - {id: t, type: Log, message: hi}
    """
)


def test_prefill_is_the_value_when_none_is_given_and_can_be_cleared(real_expressions: object) -> None:
    # Given a Kestra 1.1 input with a prefill
    flow = load_flow(PREFILL_AND_DEPENDS_ON)

    # When / Then
    assert resolve_inputs(flow, {"services": ["S3"]})["region"] == "eu-west-1"
    assert resolve_inputs(flow, {"region": "", "services": ["S3"]})["region"] is None
    assert resolve_inputs(flow, {"region": "us-east-1", "services": ["S3"]})["region"] == "us-east-1"


def test_prefill_and_defaults_together_are_refused() -> None:
    with pytest.raises(ValueError, match="'prefill' and 'defaults' cannot both be set"):
        make(type="STRING", prefill="a", defaults="b", required=False)


def test_an_input_whose_depends_on_condition_is_false_is_null_and_not_required(
    real_expressions: object,
) -> None:
    # Given
    flow = load_flow(PREFILL_AND_DEPENDS_ON)

    # When
    hidden = resolve_inputs(flow, {"cloud": "GCP"})

    # Then the condition is false: no value is needed; when it is true, the input is required
    assert hidden["services"] is None
    with pytest.raises(InputError, match="services"):
        resolve_inputs(flow, {"cloud": "AWS"})


def test_depends_on_must_name_an_earlier_input() -> None:
    from stratoflow.flow import validate_text

    text = PREFILL_AND_DEPENDS_ON.replace("inputs: [cloud]", "inputs: [clod]")

    [problem] = validate_text(text, "f.yaml")

    assert problem.path == "inputs[2].dependsOn.inputs[0]"
    assert "'clod' is not an input declared before this one (did you mean cloud?)" in problem.message
