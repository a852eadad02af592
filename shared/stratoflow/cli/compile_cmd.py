"""`strato compile` (the ASL definition) and `strato graph` (a Mermaid flowchart)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stratoflow.cli.completion import complete_flow_files
from stratoflow.cli.namespaces_cmd import local_namespace_defaults
from stratoflow.cli.options import home_option
from stratoflow.compiler import compile_flow
from stratoflow.compiler.graph import flow_mermaid
from stratoflow.errors import CompileError, FlowValidationError
from stratoflow.flow import load_flow_file


def _load(flow_file: Path, home: Path):  # type: ignore[no-untyped-def]
    try:
        with local_namespace_defaults(home) as inherited:  # the local namespaces' plugin defaults
            return load_flow_file(flow_file, inherited)
    except FlowValidationError as error:
        for diagnostic in error.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(1)


@click.command("compile")
@click.argument(
    "flow_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    shell_complete=complete_flow_files,
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the ASL to a file."
)
@home_option
def compile_(flow_file: Path, output: Path | None, home: Path) -> None:
    """Print the Step Functions definition (ASL, JSONPath) of FLOW_FILE and the placeholders it needs."""
    flow = _load(flow_file, home)
    try:
        compiled = compile_flow(flow)
    except CompileError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    text = json.dumps(compiled.definition, indent=2) + "\n"
    if output is not None:
        output.write_text(text)
    else:
        click.echo(text, nl=False)
    for warning in compiled.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo("placeholders: " + (", ".join(compiled.placeholders) or "none"), err=True)


@click.command()
@click.argument(
    "flow_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    shell_complete=complete_flow_files,
)
@home_option
def graph(flow_file: Path, home: Path) -> None:
    """Print a Mermaid flowchart of FLOW_FILE: tasks, branches, loops and error paths."""
    click.echo(flow_mermaid(_load(flow_file, home)), nl=False)
