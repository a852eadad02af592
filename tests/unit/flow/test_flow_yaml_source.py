"""Reading YAML with positions: YAML 1.2 scalars, merge keys, duplicates, syntax errors, guards."""

from __future__ import annotations

import math

import pytest

from stratoflow.flow.yaml_source import MAX_DEPTH, format_path, parse_yaml_value, read_yaml


def test_positions_of_keys_and_list_items_are_one_based() -> None:
    # Given
    text = "id: x\ntasks:\n  - id: a\n    type: Log\n  - {id: b, type: Log}\n"

    # When
    document = read_yaml(text, "f.yaml")

    # Then
    assert document.problems == []
    keys = document.source_map.keys
    assert keys[("id",)] == (1, 1)
    assert keys[("tasks", 0)] == (3, 5)
    assert keys[("tasks", 0, "type")] == (4, 5)
    assert keys[("tasks", 1, "type")] == (5, 13)


def test_locate_falls_back_to_the_nearest_existing_ancestor() -> None:
    document = read_yaml("tasks:\n  - id: a\n", "f.yaml")

    assert document.source_map.locate(("tasks", 0, "message")) == (2, 5)
    assert document.source_map.locate(("nothing", "here")) == (1, 1)


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        ("yes", "yes"),
        ("on", "on"),
        ("no", "no"),
        ("2024-01-31", "2024-01-31"),
        ("12:30", "12:30"),
        ("010", 10),
        ("0o17", 15),
        ("0x1f", 31),
        ("-7", -7),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("", None),
    ],
)
def test_scalars_follow_the_yaml_1_2_core_schema(scalar: str, expected: object) -> None:
    document = read_yaml(f"value: {scalar}\n", "f.yaml")

    assert document.data == {"value": expected}
    assert type(document.data["value"]) is type(expected)


def test_infinity_and_nan_are_floats() -> None:
    data = read_yaml("a: .inf\nb: -.inf\nc: .nan\n", "f.yaml").data

    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


def test_keys_keep_the_text_as_written() -> None:
    data = read_yaml("cases:\n  1: a\n  true: b\n  on: c\n", "f.yaml").data

    assert data == {"cases": {"1": "a", "true": "b", "on": "c"}}


def test_merge_keys_apply_and_own_keys_override_them() -> None:
    text = "base: &base\n  level: INFO\n  message: hi\ntask:\n  <<: *base\n  level: WARN\n"

    document = read_yaml(text, "f.yaml")

    assert document.problems == []
    assert document.data["task"] == {"level": "WARN", "message": "hi"}


def test_duplicate_keys_are_reported_at_the_second_one() -> None:
    document = read_yaml("id: a\nnamespace: b\nid: c\n", "f.yaml")

    assert [(d.line, d.column, d.path, d.message) for d in document.problems] == [
        (3, 1, "id", "duplicate key 'id' (first at line 1)")
    ]
    assert document.data == {"id": "a", "namespace": "b"}


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("a: [1, 2\n", 2, 1, "YAML syntax error"),
        ("a: 1\n b: 2\n", 2, 3, "YAML syntax error"),
        ("a:\n\t- b\n", 2, 1, "cannot start any token"),
        ("a: 'open\n", 1, 4, "never closed"),
        ("a: !!python/object:os.system x\n", 1, 4, "tag '!!python/object:os.system' is not supported"),
        ("a: 1\n---\nb: 2\n", 2, 1, "one YAML document"),
    ],
)
def test_yaml_errors_are_located(text: str, line: int, column: int, fragment: str) -> None:
    # When
    document = read_yaml(text, "f.yaml")

    # Then
    assert document.data is None
    [problem] = document.problems
    assert (problem.file, problem.line, problem.column) == ("f.yaml", line, column)
    assert fragment in problem.message


def test_an_empty_file_is_a_problem() -> None:
    [problem] = read_yaml("# only a comment\n", "f.yaml").problems

    assert problem.message == "the file is empty"


def test_recursive_aliases_are_refused() -> None:
    [problem] = read_yaml("a: &a [*a]\n", "f.yaml").problems

    assert "refers to itself" in problem.message


def test_alias_bombs_are_refused() -> None:
    # Given: nine levels of ten aliases each would expand to a billion items
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")

    # When
    document = read_yaml("\n".join(lines) + "\n", "f.yaml")

    # Then
    [problem] = document.problems
    assert "too large" in problem.message


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"

    [problem] = read_yaml(text, "f.yaml").problems

    assert "nested more than" in problem.message


def test_block_scalars_record_their_style() -> None:
    document = read_yaml("message: |\n  one\n  two\nother: plain\n", "f.yaml")

    assert document.source_map.value_start(("message",)) == (1, 10, "|")
    assert document.source_map.value_start(("other",)) == (4, 8, None)


@pytest.mark.parametrize(
    ("parts", "text"),
    [
        (("tasks", 2, "type"), "tasks[2].type"),
        (("cases", "a.b", 0), "cases['a.b'][0]"),
        ((), ""),
        (("labels", "team-name"), "labels.team-name"),
    ],
)
def test_format_path(parts: tuple[str | int, ...], text: str) -> None:
    assert format_path(parts) == text


def test_parse_yaml_value_uses_the_same_scalar_rules() -> None:
    assert parse_yaml_value("a: yes\nb: [1, 2]") == {"a": "yes", "b": [1, 2]}
    with pytest.raises(ValueError, match="not valid YAML"):
        parse_yaml_value("a: [1")


@pytest.mark.parametrize(
    "text",
    [
        "tasks:\n  - id: a\n    message: !!python/object/apply:os.system [echo hi]\n",
        "tasks:\n  - id: a\n    message: !!python/object/apply:os.system {a: 1}\n",
        "tasks:\n  - id: a\n    message: !!timestamp 2024-01-31\n",
        "tasks:\n  - id: a\n    message: !custom x\n",
    ],
)
def test_tags_outside_the_core_schema_are_refused_where_they_are_written(text: str) -> None:
    # Given a Kestra-shaped task whose value carries a tag PyYAML would read as something else

    # When
    document = read_yaml(text, "f.yaml")

    # Then
    assert document.data is None
    [problem] = document.problems
    assert (problem.line, problem.column) == (3, 14)
    assert "is not supported" in problem.message


def test_core_tags_are_read() -> None:
    data = read_yaml("a: !!str 10\nb: !!int '7'\nc: !!seq [1]\nd: !!map {x: 1}\n", "f.yaml").data

    assert data == {"a": "10", "b": 7, "c": [1], "d": {"x": 1}}


def test_a_huge_integer_is_reported_at_its_own_line_without_pythons_hint() -> None:
    # Given
    text = "id: t\nnamespace: n\ntasks:\n  - id: a\n    type: Return\n    format: " + "9" * 5000 + "\n"

    # When
    [problem] = read_yaml(text, "f.yaml").problems

    # Then
    assert (problem.line, problem.column) == (6, 13)
    assert "5000 digits" in problem.message
    assert "set_int_max_str_digits" not in problem.message


def test_an_unterminated_quoted_string_is_reported_where_it_opens() -> None:
    # Given a quote opened on line 6 and never closed, with more tasks after it
    text = (
        'id: t\nnamespace: n\ntasks:\n  - id: a\n    type: Log\n    message: "hello\n'
        "  - id: b\n    type: Log\n    message: x\n"
    )

    # When
    [problem] = read_yaml(text, "f.yaml").problems

    # Then
    assert (problem.line, problem.column) == (6, 14)
    assert "never closed" in problem.message
