"""Pebble's operators: `??`, `???`, `? :`, `contains`, `null`, with Pebble's precedence."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.expressions import ExpressionSyntaxError, UndefinedError, render_string

CONTEXT: dict[str, Any] = {
    "inputs": {"x": "given", "empty": None, "flag": True, "off": False, "list": [1, 2, 3], "text": "hello"},
    "outputs": {"a": {"value": None}, "b": {"value": "b"}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.x ?? 'default' }}", "given"),
        ("{{ inputs.missing ?? 'default' }}", "default"),
        ("{{ inputs.empty ?? 'default' }}", "default"),
        ("{{ inputs.off ?? 'default' }}", False),
        ("{{ inputs.missing.deeper.still ?? 'default' }}", "default"),
        ("{{ missing ?? 'default' }}", "default"),
        ("{{ inputs.missing ?? inputs.other ?? 'third' }}", "third"),
        ("{{ inputs.missing ?? (inputs.other ?? 'nested') }}", "nested"),
        ("{{ inputs.missing ?? 'default' | upper }}", "DEFAULT"),
        ("{{ inputs.x | upper ?? 'default' }}", "GIVEN"),
        ("{{ 'a-' ~ inputs.missing ?? 'b' }}", "a-b"),
        ("{{ inputs.missing ?? 1 + 1 }}", 2),
        ("{{ [inputs.missing ?? 1, 2] }}", [1, 2]),
        ("{{ {'k': inputs.missing ?? 'v'} }}", {"k": "v"}),
        ("{{ inputs.missing ?? -1 }}", -1),
        ("{{ inputs.list ?? [] }}", [1, 2, 3]),
        ("{{ 1 ?? 2 }}", 1),
        ("{{ inputs.missing??'tight' }}", "tight"),
    ],
)
def test_null_coalescing(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.empty ??? 'default' }}", None),
        ("{{ inputs.missing ??? 'default' }}", "default"),
        ("{{ outputs.a.value ??? outputs.b.value }}", None),
        ("{{ outputs.a.value ??? outputs.b.value ?? 0 }}", 0),
        ("{{ outputs.z.value ??? outputs.b.value ?? 0 }}", "b"),
        ("{{ outputs.z.value ??? outputs.y.value ?? 0 }}", 0),
    ],
)
def test_undefined_coalescing(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


def test_the_right_side_of_coalescing_is_evaluated_only_when_needed() -> None:
    # Given a right side that would fail: an undefined function
    template = "{{ inputs.x ?? not_a_function() }}"
    # Then it is never called
    assert render_string(template, CONTEXT) == "given"


def test_coalescing_works_inside_statements() -> None:
    template = (
        "{% set v = inputs.missing ?? 'set' %}{% for i in inputs.none ?? [1, 2] %}{{ i }}{% endfor %}{{ v }}"
    )
    assert render_string(template, CONTEXT) == "12set"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.flag ? 'yes' : 'no' }}", "yes"),
        ("{{ inputs.off ? 'yes' : 'no' }}", "no"),
        ("{{ inputs.off ? 1 : inputs.flag ? 2 : 3 }}", 2),
        ("{{ inputs.flag ? (inputs.off ? 1 : 2) : 3 }}", 2),
        ("{{ inputs.flag and inputs.off ? 'both' : 'not both' }}", "not both"),
        ("{{ {'k': inputs.flag ? 'a' : 'b'} }}", {"k": "a"}),
        ("{{ inputs.missing ?? false ? 'y' : 'n' }}", "n"),
        ("{{ inputs.flag ? 'x' : 'y' | upper }}", "x"),
        ("{% set v = inputs.flag ? 1 : 2 %}{{ v }}", "1"),
        ("{% if inputs.off ? false : true %}ok{% endif %}", "ok"),
        ("{{ inputs.list[inputs.flag ? 0 : 1] }}", 1),
    ],
)
def test_conditional_operator(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.list contains 2 }}", True),
        ("{{ inputs.list contains 9 }}", False),
        ("{{ inputs.list contains [1, 3] }}", True),
        ("{{ inputs.list contains [1, 9] }}", False),
        ("{{ inputs.text contains 'ell' }}", True),
        ("{{ inputs contains 'x' }}", True),
        ("{{ inputs contains 'nope' }}", False),
        ("{{ not inputs.list contains 9 }}", True),
        ("{{ inputs.list contains 1 and inputs.list contains 2 }}", True),
        ("{{ inputs.list | reverse contains 3 or false }}", True),
        ("{% if inputs.text contains 'h' %}yes{% endif %}", "yes"),
        ("{{ inputs.contains ?? 'attribute named contains' }}", "attribute named contains"),
    ],
)
def test_contains_operator(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ inputs.empty == null }}", True),
        ("{{ inputs.x == null }}", False),
        ("{{ inputs.empty is null }}", True),
        ("{{ null }}", None),
    ],
)
def test_null_is_none(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'what?? ok?' }}", "what?? ok?"),
        ('{{ "a ??? b" ~ inputs.x }}', "a ??? bgiven"),
        ("{% raw %}{{ a ?? b }}{% endraw %}", "{{ a ?? b }}"),
        ("{# a ?? b #}{{ 1 }}", 1),
        ("Is it?? {{ inputs.x }}?", "Is it?? given?"),
        ("{{ {'a': {'b': inputs.missing ?? 1}} }}", {"a": {"b": 1}}),
    ],
)
def test_question_marks_outside_expressions_are_left_alone(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ ?? 'a' }}", "expected a value before '??'"),
        ("{{ inputs.x ?? }}", "expected a value after '??'"),
        ("{{ inputs.x ??? }}", "expected a value after '???'"),
        ("{{ inputs.x ? 1 }}", "expected ':'"),
        ("{{ ? 1 : 2 }}", "condition ? value : other"),
    ],
)
def test_misused_operators_are_syntax_errors_in_the_users_words(template: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match=message.replace("?", r"\?")):
        render_string(template, CONTEXT)


def test_an_undefined_value_without_coalescing_is_still_an_error() -> None:
    with pytest.raises(UndefinedError, match=r"'outputs\.y' is undefined"):
        render_string("{{ outputs.z.value ??? outputs.y.value }}", {"outputs": {}})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # Kestra's blueprints write comparisons with Pebble's `equals`.
        ("{{ inputs.text equals 'hello' }}", True),
        ("{{ inputs.text equals 'other' }}", False),
        ("{{ 1 + 1 equals 2 and inputs.flag }}", True),
        ("{{ inputs.x equals 'given' ? 'yes' : 'no' }}", "yes"),
        ("{% if inputs.text equals 'hello' %}ok{% endif %}", "ok"),
        ("{{ outputs.b.equals ?? 'a name' }}", "a name"),
    ],
)
def test_equals_operator(template: str, expected: Any) -> None:
    assert render_string(template, CONTEXT) == expected
