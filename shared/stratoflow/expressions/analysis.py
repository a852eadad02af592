"""Static checks on a template, for `strato validate`: syntax errors and referenced task outputs.

Both read the facts `compile_template` found (see `references`), so a template is parsed once, or not at
all when the persistent cache has it."""

from __future__ import annotations

from stratoflow.expressions.environment import ENVIRONMENT, compile_template
from stratoflow.expressions.errors import ExpressionError, ExpressionSyntaxError


def syntax_errors(template: str) -> list[ExpressionSyntaxError]:
    """The problems found without rendering: syntax, unknown filters and tests, unknown functions."""
    if "{{" not in template and "{%" not in template:
        return []
    try:
        compiled = compile_template(template)
    except ExpressionSyntaxError as error:
        return [error]
    except ExpressionError as error:
        return [ExpressionSyntaxError(str(error))]
    return [
        ExpressionSyntaxError(f"unknown function '{name}'", line)
        for name, line in compiled.calls
        if name not in ENVIRONMENT.globals
    ]


def referenced_outputs(template: str) -> set[str]:
    """Task ids read as `outputs.<id>` or `outputs['<id>']`; empty for a template that does not compile."""
    if "outputs" not in template:
        return set()
    try:
        return set(compile_template(template).outputs)
    except ExpressionError:
        return set()


def referenced_inputs(template: str) -> set[str]:
    """Input ids read as `inputs.<id>` or `inputs['<id>']`; empty for a template that does not compile."""
    if "inputs" not in template:
        return set()
    try:
        return set(compile_template(template).inputs)
    except ExpressionError:
        return set()
