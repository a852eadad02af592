"""`strato schema`: the JSON Schema of flow files (its own module: it needs no compiler)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from stratoflow.flow import flow_json_schema


@click.command("schema")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@click.option("--indent", type=click.IntRange(0, 8), default=2, show_default=True)
def schema(output: Path | None, indent: int) -> None:
    """Print the JSON Schema (draft 2020-12) of flow files, for editors and CI."""
    text = json.dumps(flow_json_schema(), indent=indent or None)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
