"""Rendering: native types, text rendering, recursion into dicts and lists, the fast path, the cache."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stratoflow.expressions import UndefinedError, render, render_string
from stratoflow.expressions.environment import compile_template

CONTEXT: dict[str, Any] = {
    "inputs": {"name": "World", "flag": True, "count": 3, "ratio": 0.5, "nothing": None, "tags": ["a", "b"]},
    "vars": {"map": {"k": "v", "n": 1}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ [1, 2] }}", [1, 2]),
        ("{{ 1 + 1 }}", 2),
        ("{{ inputs.flag }}", True),
        ("{{ inputs.ratio }}", 0.5),
        ("{{ inputs.nothing }}", None),
        ("{{ inputs.tags }}", ["a", "b"]),
        ("{{ vars.map }}", {"k": "v", "n": 1}),
        ("{{ {'a': (1, 2)} }}", {"a": [1, 2]}),
        ("{{ inputs.name }}", "World"),
        ("{{ '1' }}", "1"),
        ("  {{ inputs.count }}\n", 3),
    ],
)
def test_a_string_that_is_one_expression_keeps_its_native_type(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


def test_a_string_result_keeps_the_whitespace_around_the_expression() -> None:
    assert render_string("{{ inputs.name }}\n", CONTEXT) == "World\n"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("a {{ [1] }}", "a [1]"),
        ("map: {{ vars.map }}", 'map: {"k":"v","n":1}'),
        ("{{ true }} and {{ false }}", "true and false"),
        ("[{{ inputs.nothing }}]", "[]"),
        ("{{ inputs.count }} items", "3 items"),
        ("{{ inputs.tags | join(', ') }} !", "a, b !"),
        ("x{{ 'é' }}", "xé"),
    ],
)
def test_values_inside_text_render_as_kestra_prints_them(template: str, expected: str) -> None:
    assert render_string(template, CONTEXT) == expected


def test_a_datetime_renders_as_iso_8601_with_z_for_utc() -> None:
    # Given
    context = {"when": datetime(2024, 3, 1, 10, 30, tzinfo=UTC)}
    # Then
    assert render_string("{{ when }}", context) == "2024-03-01T10:30:00Z"
    assert render_string("at {{ when }}", context) == "at 2024-03-01T10:30:00Z"


def test_a_generator_result_becomes_a_list() -> None:
    assert render_string("{{ inputs.tags | map('upper') }}", CONTEXT) == ["A", "B"]


def test_strings_without_expressions_are_returned_unchanged() -> None:
    # Given a string Jinja would otherwise reject
    text = "no expression {# here #} {"
    # Then it is returned as it is, the same object
    assert render_string(text, CONTEXT) is text


def test_render_walks_dicts_and_lists_and_renders_keys_holding_expressions() -> None:
    # Given
    value = {
        "message": "Hello {{ inputs.name }}",
        "items": ["{{ inputs.count }}", 4, None, {"deep": "{{ inputs.flag }}"}],
        "{{ inputs.name | lower }}": "key rendered",
        "plain": 1.5,
    }
    # When
    rendered = render(value, CONTEXT)
    # Then
    assert rendered == {
        "message": "Hello World",
        "items": [3, 4, None, {"deep": True}],
        "world": "key rendered",
        "plain": 1.5,
    }


def test_render_leaves_other_values_alone() -> None:
    assert render(42, CONTEXT) == 42
    assert render(None, CONTEXT) is None


def test_a_template_cannot_change_the_callers_context() -> None:
    # Given
    context = {"inputs": {"name": "World"}, "tags": ["a"]}
    # When the template reassigns names
    result = render_string("{% set inputs = 1 %}{% set tags = [] %}{{ inputs }}{{ tags }}", context)
    # Then the template saw its own values and the caller's dict is untouched
    assert result == "1[]"
    assert context == {"inputs": {"name": "World"}, "tags": ["a"]}


def test_native_results_are_copies_not_the_contexts_objects() -> None:
    # Given
    context = {"vars": {"items": [1, 2]}}
    # When
    result = render_string("{{ vars.items }}", context)
    result.append(3)
    # Then
    assert context["vars"]["items"] == [1, 2]


def test_statements_work_and_pebble_drops_the_newline_after_a_tag() -> None:
    template = "{% for tag in inputs.tags %}\n- {{ tag }}\n{% endfor %}\n{% if inputs.flag %}on{% endif %}"
    assert render_string(template, CONTEXT) == "- a\n- b\non"


def test_compiled_templates_are_cached_by_source() -> None:
    # Given
    compile_template.cache_clear()
    template = "cached {{ inputs.name }}"
    # When
    for _ in range(3):
        render_string(template, CONTEXT)
    # Then
    info = compile_template.cache_info()
    assert (info.misses, info.hits) == (1, 2)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% for entry in vars.map %}{{ entry.key }}={{ entry.value }};{% endfor %}", "k=v;n=1;"),
        ("{% for key, value in vars.map %}{{ key }}:{{ value }};{% endfor %}", "k:v;n:1;"),
        ("{% for key, value in vars.map.items() %}{{ key }}:{{ value }};{% endfor %}", "k:v;n:1;"),
        ("{% for key in vars.map | keys %}{{ key }}{% endfor %}", "kn"),
    ],
)
def test_a_loop_over_a_map_gives_pebble_entries_that_also_unpack(template: str, expected: str) -> None:
    assert render_string(template, CONTEXT) == expected


def test_an_error_inside_render_is_located_once() -> None:
    # Given a multi-line variable that fails, rendered from a multi-line template
    context = {"vars": {"body": "first\n{{ nope }}"}}
    # Then the line is the one inside the variable, given once
    with pytest.raises(UndefinedError) as raised:
        render_string("a\nb\n{{ render(vars.body) }}", context)
    assert str(raised.value) == "'nope' is undefined (line 2)"
