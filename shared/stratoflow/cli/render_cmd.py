"""`strato render`: render one template, to try an expression without running a flow."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from stratoflow.expressions import ExpressionError, to_json
from stratoflow.expressions import render as render_template


def _load_context(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        context = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot read the context {path}: {error}") from None
    if not isinstance(context, dict):
        raise click.ClickException(
            f"the context {path} must hold a JSON object, not {type(context).__name__}"
        )
    return context


@click.command()
@click.argument("template")
@click.option(
    "--context",
    "context_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object of variables (inputs, outputs, vars, ...) the template sees.",
)
def render(template: str, context_file: Path | None) -> None:
    """Render TEMPLATE ('-' reads it from stdin) and print the result: text as it is, any other
    value as JSON.

    \b
    strato render "{{ inputs.name ?? 'you' | upper }}" --context ctx.json
    """
    source = sys.stdin.read() if template == "-" else template
    context = _load_context(context_file)
    try:
        value = render_template(source, context)
    except ExpressionError as error:
        raise click.ClickException(str(error)) from None
    click.echo(value if isinstance(value, str) else to_json(value, indent=2))
