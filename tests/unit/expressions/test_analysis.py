"""Static checks used by `strato validate`: syntax errors with lines, and referenced task outputs."""

from __future__ import annotations

import pytest

from stratoflow.expressions import ExpressionSyntaxError, referenced_outputs, syntax_errors


@pytest.mark.parametrize(
    "template",
    [
        "plain text",
        "{{ inputs.name }}",
        "{% for x in inputs.items %}{{ loop.index }} {{ x ?? 'none' }}{% endfor %}",
        "{% macro m(f) %}{{ f() }}{{ caller() }}{% endmacro %}{% call m(now) %}x{% endcall %}",
        "{{ outputs.a.value | date('yyyy') }} {{ range(1, 2) }} {{ secret('x') }}",
        "{% set ns = namespace(a=1) %}{{ ns.a }}",
    ],
)
def test_valid_templates_have_no_errors(template: str) -> None:
    assert syntax_errors(template) == []


@pytest.mark.parametrize(
    ("template", "message", "line"),
    [
        ("{{ inputs.name", "unexpected end of template", 1),
        ("line 1\nline 2 {% if x %}\nno end", "Unexpected end of template", 3),
        ("a\n{{ x | nosuchfilter }}", "No filter named 'nosuchfilter'", 2),
        ("{{ x is nosuchtest }}", "No test named 'nosuchtest'", 1),
        ("\n\n{{ nowz() }}", "unknown function 'nowz'", 3),
        ("{{ a ?? }}", "expected a value after '??'", 1),
        ("{{ a }}\n{{ b ? 1 }}", "expected ':' after the '?'", 2),
        ("{{ 1 + }}", "unexpected", 1),
    ],
)
def test_syntax_errors_carry_the_line_inside_the_template(template: str, message: str, line: int) -> None:
    # When
    errors = syntax_errors(template)
    # Then
    assert len(errors) == 1
    error = errors[0]
    assert isinstance(error, ExpressionSyntaxError)
    assert message.lower() in error.message.lower()
    assert error.lineno == line
    assert str(error).endswith(f"(line {line})")


def test_syntax_errors_of_deeply_nested_source_do_not_crash() -> None:
    errors = syntax_errors("{{ " + "[" * 5000 + " }}")
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("no outputs", set()),
        ("{{ outputs.extract.value }}", {"extract"}),
        (
            "{{ outputs['load'].rows }} {{ outputs.extract.value ?? outputs.fallback.value }}",
            {"load", "extract", "fallback"},
        ),
        ("{{ currentEachOutput(outputs.inner).value }}", {"inner"}),
        ("{% for r in outputs.query.rows %}{{ r }}{% endfor %}", {"query"}),
        ("{{ outputs[inputs.task].value }}", set()),
        ("{{ trigger.outputs.upstream }}", set()),
        ("{{ outputs.broken", set()),
    ],
)
def test_referenced_outputs(template: str, expected: set[str]) -> None:
    assert referenced_outputs(template) == expected
