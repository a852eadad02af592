"""`strato kill`, `restart`, `replay` and `resume` on the local history.

Kill and resume are requests: the process running the execution (`strato run`, `strato server`)
carries them out within a fraction of a second. Restart and replay run the execution here, on the
local engine, like `strato run`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from stratoflow.cli.options import home_option, parse_pairs
from stratoflow.errors import InputError, NotFoundError, StratoflowError


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _platform(home: Path) -> Any:
    from stratoflow.local import LocalPlatform

    if not (home / "stratoflow.db").exists():
        _fail(f"no local history under {home}")
    return LocalPlatform(home)


def _flow_of(platform: Any, execution_id: str) -> Any:
    execution = platform.store.get_execution(execution_id)
    if execution is None:
        _fail(f"execution {execution_id} does not exist")
    return platform.runner.flow(execution.namespace, execution.flow_id, execution.revision)


def _run_and_report(platform: Any, execution: Any, as_json: bool) -> None:
    from stratoflow.cli.run_cmd import run_document

    outcome = platform.finish(execution, platform.start(execution))
    if as_json:
        click.echo(json.dumps(run_document(outcome), indent=2, default=str))
    else:
        click.echo(f"execution {outcome.execution.id} ended {outcome.execution.state}")
        if outcome.execution.error:
            click.echo(f"error: {outcome.execution.error}")
    sys.exit(0 if outcome.execution.state in ("SUCCESS", "WARNING") else 1)


@click.command()
@click.argument("execution_id")
@home_option
def kill(execution_id: str, home: Path) -> None:
    """Kill a running, paused or queued execution and, transitively, its subflows."""
    from stratoflow.control import request_kill

    platform = _platform(home)
    try:
        for killed in request_kill(platform.store, execution_id):
            click.echo(f"kill requested: {killed}")
    except (StratoflowError, NotFoundError) as error:
        _fail(str(error))
    finally:
        platform.close()


@click.command()
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True)
@home_option
def restart(execution_id: str, as_json: bool, home: Path) -> None:
    """Continue a FAILED or KILLED execution from its failed task runs (same execution, new attempts)."""
    from stratoflow.control import prepare_restart

    platform = _platform(home)
    try:
        _flow_of(platform, execution_id)
        execution = prepare_restart(platform.store, execution_id)
        _run_and_report(platform, execution, as_json)
    except StratoflowError as error:
        _fail(str(error))
    finally:
        platform.close()


@click.command()
@click.argument("execution_id")
@click.option("--from", "from_task", required=True, help="The task to start from.")
@click.option("--json", "as_json", is_flag=True)
@home_option
def replay(execution_id: str, from_task: str, as_json: bool, home: Path) -> None:
    """Run a new execution, linked to EXECUTION_ID, from a chosen task, reusing the outputs before it."""
    from stratoflow.control import prepare_replay

    platform = _platform(home)
    try:
        flow = _flow_of(platform, execution_id)
        execution = prepare_replay(platform.store, flow, execution_id, from_task)
        click.echo(f"replay of {execution_id}: execution {execution.id}", err=True)
        _run_and_report(platform, execution, as_json)
    except StratoflowError as error:
        _fail(str(error))
    finally:
        platform.close()


@click.command()
@click.argument("execution_id")
@click.option("--input", "-i", "inputs", multiple=True, metavar="KEY=VALUE", help="An onResume input.")
@home_option
def resume(execution_id: str, inputs: tuple[str, ...], home: Path) -> None:
    """Resume a paused execution (a Pause without delay), with its typed onResume inputs."""
    from stratoflow.control import request_resume

    platform = _platform(home)
    try:
        flow = _flow_of(platform, execution_id)
        paused = request_resume(platform.store, flow, execution_id, parse_pairs(inputs))
        click.echo(f"resume requested: {execution_id} task {paused.task_id}")
    except InputError as error:
        _fail(str(error), 2)
    except StratoflowError as error:
        _fail(str(error))
    finally:
        platform.close()
