"""`strato init [DIR]`: scaffold a flows repository (see stratoflow.cli.scaffold for its files)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import click

from stratoflow.cli.scaffold import scaffold_files
from stratoflow.flow import flow_json_schema


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into a folder that is not empty, overwriting these files.")
def init(directory: Path, force: bool) -> None:
    """Create a flows repository in DIRECTORY (default: here): an example flow, editor settings
    mapping flows to the flow schema, a CI example and a README of the workflow."""
    files = scaffold_files(flow_json_schema(), version("stratoflow"))
    if directory.exists() and any(directory.iterdir()) and not force:
        clashes = [name for name in files if (directory / name).exists()]
        overwrites = ", ".join(clashes) if clashes else "nothing, but adds files next to yours"
        raise click.ClickException(
            f"{directory} is not empty: strato init would overwrite {overwrites} (--force to go ahead)"
        )
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        click.echo(f"wrote {path}")
    click.echo(f"next: cd {directory} && strato validate flows && strato run flows/hello.yaml", err=True)
