from typing import Any

import pytest

from stratoflow.engine.paths import PathNotFound, PathSyntaxError, ReferencePath, compile_path
from stratoflow.engine.templates import TemplateError, TemplateSyntaxError, compile_template

DATA: dict[str, Any] = {
    "a": {"b": [10, 20, {"c": "deep"}]},
    "name with space": 1,
    "items": [{"v": 1, "k": "x"}, {"v": 2, "k": "y"}, {"v": 3}],
    "n": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b[0]", 10),
        ("$.a.b[-1].c", "deep"),
        ("$['a']['b'][1]", 20),
        ('$["name with space"]', 1),
        ("$.n", None),
    ],
)
def test_definite_paths_select_one_value(path: str, expected: Any) -> None:
    assert compile_path(path).find(DATA) == expected
    assert compile_path(path).definite


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.items[*].v", [1, 2, 3]),
        ("$.items.*.k", ["x", "y"]),
        ("$.items[0:2].v", [1, 2]),
        ("$.items[::2].v", [1, 3]),
        ("$.items[0,2].v", [1, 3]),
        ("$..c", ["deep"]),
        ("$..v", [1, 2, 3]),
        ("$.items[?(@.v > 1)].v", [2, 3]),
        ("$.items[?(@.k == 'y' || @.v == 3)].v", [2, 3]),
        ("$.items[?(@.k && @.v >= 2)].v", [2]),
        ("$.items[?(!(@.v < 3))].v", [3]),
        ("$.items[*].missing", []),
    ],
)
def test_indefinite_paths_select_a_list(path: str, expected: list[Any]) -> None:
    assert compile_path(path).find(DATA) == expected
    assert not compile_path(path).definite


@pytest.mark.parametrize("path", ["$.missing", "$.a.b[3]", "$.a.b.c", "$.a[0]", "$.a.b[0].x", "$.n.x"])
def test_a_definite_path_that_does_not_resolve_raises(path: str) -> None:
    with pytest.raises(PathNotFound, match="No results for path"):
        compile_path(path).find(DATA)


def test_a_string_is_not_indexed_like_an_array() -> None:
    with pytest.raises(PathNotFound):
        compile_path("$.s[0]").find({"s": "abc"})


def test_context_paths_read_the_context_object() -> None:
    # Given a context object built on demand
    built: list[int] = []

    def context() -> dict[str, Any]:
        built.append(1)
        return {"Execution": {"Name": "run-1"}}

    # When / Then
    assert compile_path("$$.Execution.Name").find({"x": 1}, context) == "run-1"
    assert compile_path("$.x").find({"x": 1}, context) == 1
    assert len(built) == 1


@pytest.mark.parametrize("path", ["a.b", "$.", "$[", "$.a[x]", "$[?(@.a > )]", "$.a[1:2:3:4]", "$ .a"])
def test_malformed_paths_are_rejected(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        compile_path(path)


def test_reference_path_creates_intermediate_objects_without_mutating() -> None:
    # Given
    data = {"keep": 1, "x": {"y": 2}}
    # When
    updated = ReferencePath("$.x.z.w").set(data, "new")
    # Then
    assert updated == {"keep": 1, "x": {"y": 2, "z": {"w": "new"}}}
    assert data == {"keep": 1, "x": {"y": 2}}


def test_reference_path_replaces_an_array_item() -> None:
    assert ReferencePath("$.l[1]").set({"l": [1, 2, 3]}, 9) == {"l": [1, 9, 3]}
    assert ReferencePath("$").set({"a": 1}, [1]) == [1]


@pytest.mark.parametrize(
    ("path", "data"), [("$.x.y", {"x": "text"}), ("$.l[5]", {"l": [1]}), ("$.a", [1, 2]), ("$[0]", {"a": 1})]
)
def test_reference_path_that_cannot_be_applied_raises(path: str, data: Any) -> None:
    with pytest.raises(PathNotFound):
        ReferencePath(path).set(data, 1)


@pytest.mark.parametrize("path", ["$.a[*]", "$..a", "$$.Execution", "$.a[0:1]"])
def test_reference_paths_allow_only_names_and_indices(path: str) -> None:
    with pytest.raises(PathSyntaxError):
        ReferencePath(path)


def test_payload_template_resolves_dollar_fields_at_any_depth() -> None:
    # Given
    render = compile_template(
        {
            "static": {"kept": [1, 2]},
            "from.$": "$.a.b[0]",
            "nested": {"list": [{"deep.$": "$.n"}, "plain"], "ctx.$": "$$.State.Name"},
            "call.$": "States.Format('{}-{}', $.a.b[1], $$.State.Name)",
        }
    )
    # When
    rendered = render(DATA, lambda: {"State": {"Name": "S"}})
    # Then
    assert rendered == {
        "static": {"kept": [1, 2]},
        "from": 10,
        "nested": {"list": [{"deep": None}, "plain"], "ctx": "S"},
        "call": "20-S",
    }


def test_a_template_without_dollar_fields_is_returned_as_is() -> None:
    template = {"a": [1, {"b": 2}]}
    assert compile_template(template)({}, None) is template


def test_template_path_that_does_not_resolve_names_the_field() -> None:
    with pytest.raises(
        TemplateError, match=r"The JSONPath '\$.nope' specified for the field 'x.\$' could not be found"
    ):
        compile_template({"x.$": "$.nope"})({"a": 1}, None)


@pytest.mark.parametrize("value", [3, "plain text", "States.Nope()", "$.a["])
def test_template_dollar_field_must_hold_a_path_or_intrinsic(value: Any) -> None:
    with pytest.raises(TemplateSyntaxError):
        compile_template({"x.$": value})
