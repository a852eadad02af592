"""`strato validate`: every problem of flow files, one per line (the deployer's own checks included)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from stratoflow import flow as language  # `language.validate_file`: the seam a test replaces
from stratoflow.cli.completion import complete_flow_files
from stratoflow.cli.namespaces_cmd import local_namespace_defaults
from stratoflow.cli.options import home_option
from stratoflow.cloud.deploy.limits import DeployNames, measure
from stratoflow.errors import Diagnostic
from stratoflow.flow import flow_files, load_flow_file
from stratoflow.flow.namespace_defaults import Inherited


def _check(file: Path, inherited: Inherited | None) -> list[Diagnostic]:
    """The file's problems, the AWS limits a deployment meets included (the deployer's own checks),
    with the plugin defaults of the local namespaces; a crash of the validator is reported as a
    problem, never a traceback."""
    try:
        problems = language.validate_file(file, inherited)
        return problems or measure(load_flow_file(file, inherited), DeployNames.example(), str(file)).problems
    except Exception as err:  # the report must go on for the other files
        message = f"internal error while validating ({type(err).__name__}: {err}); please report it"
        return [Diagnostic(str(file), 1, 1, "", message)]


@click.command("validate")
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    shell_complete=complete_flow_files,
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: FILE:LINE:COL: path: message per problem; json: one document for tools.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print the problems only, without the summary line.")
@home_option
def validate(paths: tuple[Path, ...], output_format: str, quiet: bool, home: Path) -> None:
    """Check flow files (or every *.yaml / *.yml under folders) and report every problem.

    Exit status: 0 all flows are valid (warnings are printed), 1 at least one is not, 2 usage error.
    """
    files: list[Path] = []
    for path in paths:
        files.extend(flow_files(path) if path.is_dir() else [path])
    if not files:
        raise click.UsageError(f"no .yaml or .yml flow files under {', '.join(map(str, paths))}")
    with local_namespace_defaults(home) as inherited:
        results = {str(file): _check(file, inherited) for file in dict.fromkeys(files)}
    invalid = [file for file, problems in results.items() if any(not p.is_warning for p in problems)]
    if output_format == "json":
        document = {
            "valid": not invalid,
            "files": {file: [asdict(d) for d in problems] for file, problems in results.items()},
        }
        click.echo(json.dumps(document, indent=2))
    else:
        for problems in results.values():
            for problem in problems:
                click.echo(str(problem))
        if not quiet:
            problems = [problem for found in results.values() for problem in found]
            warnings = sum(problem.is_warning for problem in problems)
            summary = f"{len(results)} flow file(s) checked: {len(results) - len(invalid)} valid"
            if invalid:
                summary += f", {len(invalid)} invalid ({len(problems) - warnings} problem(s))"
            if warnings:
                summary += f", {warnings} warning(s)"
            click.echo(summary, err=True)
    raise SystemExit(1 if invalid else 0)
