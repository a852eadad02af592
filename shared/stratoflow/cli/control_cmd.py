"""`strato kill`, `restart`, `replay` and `resume` on the local history, or on a deployed stack (`--remote`).

Locally, kill and resume are requests: the process running the execution (`strato run`, `strato
server`) carries them out within a fraction of a second; restart and replay run the execution here,
on the local engine, like `strato run`. With `--remote` they act on the stack's Step Functions
executions (stratoflow.cloud.runtime.control): restart and replay start there, and `--wait` follows them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from stratoflow.cli.completion import complete_execution_ids
from stratoflow.cli.ids import resolve_execution_id
from stratoflow.cli.local_runs import report_orphans, run_document
from stratoflow.cli.options import home_option, parse_pairs
from stratoflow.cli.stacks import EXIT_FAILED, EXIT_OK, StackChoice, stack_options, wait_for_end
from stratoflow.cloud.assembly import cloud_control
from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.cloud.runtime.control import RemoteControl
from stratoflow.cloud.runtime.starter import StartResponse
from stratoflow.domain import Execution
from stratoflow.errors import InputError, NotFoundError, StratoflowError
from stratoflow.execution.control import prepare_replay, prepare_restart, request_kill, request_resume
from stratoflow.execution.masking import public_document
from stratoflow.flow import Flow
from stratoflow.local import LocalPlatform

remote_option = click.option(
    "--remote", is_flag=True, help="Act on the deployed stack (--stack) instead of the local history."
)
wait_option = click.option(
    "--wait", is_flag=True, help="With --remote: wait for the execution to end; exit 1 unless it succeeded."
)
timeout_option = click.option(
    "--timeout", default=3600.0, show_default=True, help="Seconds --wait waits at most."
)


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _platform(home: Path) -> Any:
    """The local platform of `home`, with the executions of processes that died recorded FAILED."""
    if not (home / "stratoflow.db").exists():
        _fail(f"no local history under {home}")
    platform = LocalPlatform(home, secrets=configured_secrets())
    report_orphans(platform)  # an execution whose process died is FAILED (restartable), not RUNNING
    return platform


def _flow_of(platform: LocalPlatform, execution_id: str) -> Flow:
    execution = platform.store.get_execution(execution_id)
    if execution is None:
        _fail(f"execution {execution_id} does not exist")
    return platform.runner.flow(execution.namespace, execution.flow_id, execution.revision)


def _run_and_report(platform: LocalPlatform, execution: Execution, as_json: bool) -> None:
    outcome = platform.finish(execution, platform.start(execution))
    if as_json:
        click.echo(json.dumps(run_document(outcome), indent=2, default=str))
    else:
        click.echo(f"execution {outcome.execution.id} ended {outcome.execution.state}")
        if outcome.execution.error:
            click.echo(f"error: {outcome.execution.error}")
    sys.exit(0 if outcome.execution.state in ("SUCCESS", "WARNING") else 1)


def _remote(stack: StackChoice) -> RemoteControl:
    """The stack's execution control: its table, Step Functions, and the account of its functions."""
    resources = stack.resources("table", "admission_arn")
    return cloud_control(stack.store(), resources.admission_arn, stack.name)


def _follow(
    control: RemoteControl, response: StartResponse, wait: bool, timeout: float, as_json: bool
) -> None:
    """Report a remote start; with `wait`, its end (the exit code says whether it succeeded)."""
    if not wait:
        if as_json:
            click.echo(json.dumps(response.to_json(), indent=2))
        else:
            click.echo(f"execution {response.execution_id} {response.state}")
        sys.exit(EXIT_OK)
    execution = wait_for_end(control.store, str(response.execution_id), timeout)
    if execution is None:
        _fail(f"execution {response.execution_id} still running after {timeout:g} s")
    if as_json:
        document = public_document(execution)
        document["taskRuns"] = [r.to_json_dict() for r in control.store.list_task_runs(execution.id)]
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        click.echo(f"execution {execution.id} ended {execution.state}")
        if execution.error:
            click.echo(f"error: {execution.error}")
    sys.exit(EXIT_OK if str(execution.state) in ("SUCCESS", "WARNING") else EXIT_FAILED)


@click.command()
@click.argument("execution_id", shell_complete=complete_execution_ids)
@home_option
@remote_option
@stack_options
def kill(execution_id: str, home: Path, remote: bool, stack: StackChoice) -> None:
    """Kill a running, paused or queued execution and, transitively, its subflows."""
    if remote:
        try:
            for killed in _remote(stack).kill(execution_id):
                note = f" ({killed.note})" if killed.note else ""
                click.echo(f"{killed.execution_id} {killed.state}{note}")
        except StratoflowError as error:
            _fail(str(error))
        return
    platform = _platform(home)
    execution_id = resolve_execution_id(platform.store, execution_id)
    try:
        for requested in request_kill(platform.store, execution_id):
            click.echo(f"kill requested: {requested}")
    except (StratoflowError, NotFoundError) as error:
        _fail(str(error))
    finally:
        platform.close()


@click.command()
@click.argument("execution_id", shell_complete=complete_execution_ids)
@click.option("--json", "as_json", is_flag=True)
@home_option
@remote_option
@wait_option
@timeout_option
@stack_options
def restart(
    execution_id: str, as_json: bool, home: Path, remote: bool, wait: bool, timeout: float, stack: StackChoice
) -> None:
    """Continue a FAILED or KILLED execution from its failed task runs (same execution, new attempts)."""
    if remote:
        control = _remote(stack)
        try:
            response = control.restart(execution_id)
        except StratoflowError as error:
            _fail(str(error))
        _follow(control, response, wait, timeout, as_json)
        return
    platform = _platform(home)
    execution_id = resolve_execution_id(platform.store, execution_id)
    try:
        _flow_of(platform, execution_id)
        execution = prepare_restart(platform.store, execution_id)
        if execution.state == "QUEUED":  # its flow's concurrency slots are taken
            if as_json:
                click.echo(json.dumps(public_document(execution), indent=2, default=str))
                return
            click.echo(
                f"execution {execution_id} is QUEUED: it restarts when a running execution of "
                f"{execution.namespace}.{execution.flow_id} ends"
            )
            return
        _run_and_report(platform, execution, as_json)
    except StratoflowError as error:
        _fail(str(error))
    finally:
        platform.close()


@click.command()
@click.argument("execution_id", shell_complete=complete_execution_ids)
@click.option("--from", "from_task", required=True, help="The task to start from.")
@click.option("--json", "as_json", is_flag=True)
@home_option
@remote_option
@wait_option
@timeout_option
@stack_options
def replay(
    execution_id: str,
    from_task: str,
    as_json: bool,
    home: Path,
    remote: bool,
    wait: bool,
    timeout: float,
    stack: StackChoice,
) -> None:
    """Run a new execution, linked to EXECUTION_ID, from a chosen task, reusing the outputs before it."""
    if remote:
        control = _remote(stack)
        try:
            response = control.replay(execution_id, from_task)
        except StratoflowError as error:
            _fail(str(error))
        click.echo(f"replay of {execution_id}: execution {response.execution_id}", err=True)
        _follow(control, response, wait, timeout, as_json)
        return
    platform = _platform(home)
    execution_id = resolve_execution_id(platform.store, execution_id)
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
@click.argument("execution_id", shell_complete=complete_execution_ids)
@click.option("--input", "-i", "inputs", multiple=True, metavar="KEY=VALUE", help="An onResume input.")
@click.option("--json", "as_json", is_flag=True, help="When it continues here: one JSON document at the end.")
@home_option
@remote_option
@stack_options
def resume(
    execution_id: str, inputs: tuple[str, ...], as_json: bool, home: Path, remote: bool, stack: StackChoice
) -> None:
    """Resume a paused execution (a Pause without delay), with its typed onResume inputs.

    When the process that paused it has ended, the execution continues in this one, to its end."""
    if remote:
        try:
            paused = _remote(stack).resume(execution_id, parse_pairs(inputs))
        except InputError as error:
            _fail(str(error), 2)
        except StratoflowError as error:
            _fail(str(error))
        click.echo(f"resumed: {execution_id} task {paused.task_id}")
        return
    platform = _platform(home)
    execution_id = resolve_execution_id(platform.store, execution_id)
    try:
        flow = _flow_of(platform, execution_id)
        paused = request_resume(platform.store, flow, execution_id, parse_pairs(inputs))
        if platform.runs_elsewhere(execution_id):  # that process's watcher carries the request out
            click.echo(f"resume requested: {execution_id} task {paused.task_id}")
            return
        # The process that paused it is gone: the execution continues here, from its paused task.
        click.echo(f"resuming {execution_id} task {paused.task_id} in this process", err=True)
        _run_and_report(platform, platform.resume_here(execution_id), as_json)
    except InputError as error:
        _fail(str(error), 2)
    except StratoflowError as error:
        _fail(str(error))
    finally:
        platform.close()
