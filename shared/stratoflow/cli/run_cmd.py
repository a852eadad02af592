"""`strato run FLOW`: run a flow on the local engine, with a live view of its task runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from stratoflow.cli.options import home_option, parse_pairs
from stratoflow.errors import FlowValidationError, InputError, StratoflowError

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


@click.command()
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--input", "-i", "inputs", multiple=True, metavar="KEY=VALUE", help="An input value (repeatable).")
@click.option(
    "--flows-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of other flows (for Subflow tasks).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document at the end instead of the live view.")
@click.option("--skip-waits", is_flag=True, help="Do not really wait: Sleep, Wait and retry delays pass at once.")
@home_option
def run(
    flow_file: Path,
    inputs: tuple[str, ...],
    flows_dir: Path | None,
    as_json: bool,
    skip_waits: bool,
    home: Path,
) -> None:
    """Run FLOW_FILE on the local engine and record its history under --home."""
    from stratoflow.engine import VirtualClock
    from stratoflow.local import LocalPlatform

    platform = LocalPlatform(home, clock=VirtualClock() if skip_waits else None)
    try:
        if flows_dir is not None:
            for problem in platform.deploy_dir(flows_dir):
                click.echo(f"warning: {problem}", err=True)
        try:
            flow, record = platform.deploy_file(flow_file)
            execution = platform.admit(flow, record, parse_pairs(inputs))
        except FlowValidationError as error:
            for diagnostic in error.diagnostics:
                click.echo(str(diagnostic), err=True)
            sys.exit(EXIT_REFUSED)
        except (InputError, StratoflowError) as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_REFUSED)
        running = platform.start(execution)
        if as_json:
            outcome = platform.finish(execution, running)
            click.echo(json.dumps(run_document(outcome), indent=2, default=str))
        else:
            from stratoflow.cli.live import watch

            outcome = watch(platform, execution, running, flow)
        sys.exit(EXIT_OK if outcome.execution.state in ("SUCCESS", "WARNING") else EXIT_FAILED)
    finally:
        platform.close()


def run_document(outcome: Any) -> dict[str, Any]:
    """The `--json` document: the execution and its task runs in creation order."""
    execution = outcome.execution
    return {
        "executionId": execution.id,
        "flow": {"namespace": execution.namespace, "id": execution.flow_id, "revision": execution.revision},
        "state": str(execution.state),
        "labels": execution.labels,
        "outputs": execution.outputs,
        "error": execution.error,
        "taskRuns": [
            {
                "id": run.id,
                "taskId": run.task_id,
                "parentTaskRunId": run.parent_task_run_id,
                "value": run.value,
                "state": str(run.state),
                "attempts": len(run.attempts),
                "outputs": run.outputs,
            }
            for run in outcome.task_runs
        ],
    }
