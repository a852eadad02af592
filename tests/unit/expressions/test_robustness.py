"""Whatever the text, rendering returns a value or raises an ExpressionError: never anything else."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratoflow.expressions import ExpressionError, ExpressionSyntaxError, render_string, syntax_errors
from stratoflow.expressions import environment as environment_module

PIECES = [
    "{{", "}}", "{%", "%}", "{#", "#}", "??", "???", "?", ":", ",", "contains", "null", "x", "x.y", "m",
    "'a'", '"b?"', "(", ")", "[", "]", "{", "}", "|", "upper", "default(1)", " ", "1", "-", "~", "*",
    "for", "in", "endfor", "if", "else", "endif", "set", "=", "not", "and", "is", "defined", "\n", "raw",
    "endraw", ".", "__class__", "range(0, 3)", "render(x)", "jq('.')", "'x' * 3",
]  # fmt: skip
CONTEXT: dict[str, Any] = {"x": {"y": None}, "m": {"k": [1, 2]}}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_any_template_renders_or_fails_with_an_expression_error(pieces: list[str]) -> None:
    text = " ".join(pieces)
    template = text if text.startswith("{{") else "{{ " + text
    with contextlib.suppress(ExpressionError):
        render_string(template, CONTEXT)
    errors = syntax_errors(template)
    assert all(isinstance(error, ExpressionSyntaxError) for error in errors)


def test_a_failure_while_compiling_is_a_syntax_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a code generation failure
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise SyntaxError("invalid generated code")

    monkeypatch.setattr(environment_module.ENVIRONMENT, "compile", broken)
    # Then
    with pytest.raises(ExpressionSyntaxError, match="cannot compile this template"):
        render_string("{{ 'never compiled before' ~ x }}", CONTEXT)
