"""Strict rendering: anything undefined is an error that names it; nothing but ExpressionError escapes."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.errors import StratoflowError
from stratoflow.expressions import (
    ExpressionError,
    ExpressionEvaluationError,
    UndefinedError,
    render,
    render_string,
)

from .support import LazyMapping


def _context() -> dict[str, Any]:
    return {
        "inputs": {"name": "World", "items": [1, 2], "nothing": None},
        "outputs": LazyMapping({"extract": {"value": 42}, "each": {"a": {"value": "A"}}}),
    }


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ foo }}", "'foo' is undefined"),
        ("{{ foo.bar.baz }}", "'foo' is undefined"),
        ("{{ outputs.transform.value }}", "'outputs.transform' is undefined"),
        ("{{ outputs.extract.rows }}", "'outputs.extract.rows' is undefined"),
        ("{{ outputs.each['b'].value }}", "'outputs.each['b']' is undefined"),
        ("{{ inputs.items[5] }}", "'inputs.items[5]' is undefined"),
        ("{{ inputs.name.bar }}", "'inputs.name' (a string) has no attribute 'bar'"),
        ("{{ inputs.nothing.bar }}", "'inputs.nothing' is null, so it has no attribute 'bar'"),
        ("{{ (inputs.items | first).x }}", "A number has no attribute 'x'"),
        ("Hello {{ inputs.who }}!", "'inputs.who' is undefined"),
        ("{{ foo | upper }}", "'foo' is undefined"),
        ("{{ foo | length }}", "'foo' is undefined"),
        ("{{ foo == 1 }}", "'foo' is undefined"),
        ("{{ foo + 1 }}", "'foo' is undefined"),
        ("{{ 'x' ~ foo }}", "'foo' is undefined"),
        ("{% if foo %}x{% endif %}", "'foo' is undefined"),
        ("{% for x in foo %}{% endfor %}", "'foo' is undefined"),
        ("{{ [1, foo] }}", "'foo' is undefined"),
        ("{{ {'a': foo} }}", "'foo' is undefined"),
    ],
)
def test_undefined_names_fail_with_the_path(template: str, message: str) -> None:
    with pytest.raises(UndefinedError) as raised:
        render_string(template, _context())
    assert str(raised.value) == message


def test_a_missing_key_of_a_lazy_mapping_is_undefined_and_only_read_keys_are_loaded() -> None:
    # Given
    context = _context()
    # When
    with pytest.raises(UndefinedError, match=r"'outputs\.load' is undefined"):
        render_string("{{ outputs.extract.value }} {{ outputs.load.value }}", context)
    # Then
    assert context["outputs"].loaded == ["extract"]


def test_lazy_mappings_support_attributes_and_subscripts() -> None:
    template = "{{ outputs.extract.value }}-{{ outputs['each']['a'].value }}-{{ outputs.each.a.value }}"
    assert render_string(template, _context()) == "42-A-A"


def test_a_map_key_wins_over_a_python_method_of_the_same_name() -> None:
    # Given keys named like dict methods
    context = {"inputs": {"items": [1], "keys": "k", "values": "v"}, "plain": {"a": 1}}
    # Then keys win, and the methods stay usable on maps without such keys
    assert render_string("{{ inputs.items }}{{ inputs.keys }}{{ inputs.values }}", context) == "[1]kv"
    assert render_string("{% for k, v in plain.items() %}{{ k }}={{ v }}{% endfor %}", context) == "a=1"


def test_defined_and_default_accept_undefined_values() -> None:
    context = _context()
    assert render_string("{{ foo is defined }}", context) is False
    assert render_string("{{ outputs.nope.value is defined }}", context) is False
    assert render_string("{{ outputs.nope.value | default('d') }}", context) == "d"
    assert render_string("{{ inputs.nothing | default('d') }}", context) == "d"


def test_errors_in_a_multiline_template_give_the_line() -> None:
    template = "line one\n{% if true %}\n  {{ inputs.name }} {{ missing.value }}\n{% endif %}"
    with pytest.raises(UndefinedError, match=r"'missing' is undefined \(line 3\)"):
        render_string(template, _context())


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),
        ("{{ 'a' + 1 }}", "TypeError"),
        ("{{ inputs.items | sort(attribute='x') }}", "sort: cannot compare"),
        ("{{ '%s' % 1 }}", "'%' is the modulo of two numbers"),
        ("{{ 2.0 ** 10000 }}", "a number is too large"),
    ],
)
def test_evaluation_failures_become_expression_evaluation_errors(template: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match=message):
        render_string(template, _context())


def test_a_failure_of_a_lazy_mapping_is_an_evaluation_error_with_its_cause() -> None:
    # Given a store that fails while loading
    class Broken(LazyMapping):
        def __getitem__(self, key: str) -> Any:
            raise ConnectionError("store unreachable")

    # When
    with pytest.raises(ExpressionEvaluationError, match="ConnectionError: store unreachable") as raised:
        render_string("{{ outputs.x }}", {"outputs": Broken({})})
    # Then
    assert isinstance(raised.value.__cause__, ConnectionError)


def test_expression_errors_are_stratoflow_errors() -> None:
    assert issubclass(ExpressionError, StratoflowError)


def test_render_of_a_dict_fails_with_the_first_bad_value() -> None:
    with pytest.raises(UndefinedError, match="'nope' is undefined"):
        render({"ok": "{{ inputs.name }}", "bad": ["{{ nope }}"]}, _context())
