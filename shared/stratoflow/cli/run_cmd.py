"""`strato run FLOW`: run a flow on the local engine, with a live view of its task runs."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from pathlib import Path

import click

from stratoflow.cli.completion import complete_flow_files
from stratoflow.cli.local_runs import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    admit_with_files,
    report_orphans,
    run_document,
    start_and_report,
)
from stratoflow.cli.options import home_option, parse_pairs
from stratoflow.cli.output import console as make_console
from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.engine import VirtualClock
from stratoflow.errors import FlowValidationError, InputError, StratoflowError
from stratoflow.expressions.template_cache import persistent_templates
from stratoflow.flow import Flow, load_flow, read_flow_source
from stratoflow.flow.task import RunnableTask
from stratoflow.flow.task_runners import FARGATE, uses_docker
from stratoflow.local import LocalPlatform
from stratoflow.tasks.scripts import warm

TEMPLATE_CACHE = Path("cache", "templates")  # under --home
INSTALL_SIM = "pip install 'stratoflow[sim]' (or `make install-dev` in a checkout)"


@click.command()
@click.argument(
    "flow_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    shell_complete=complete_flow_files,
)
@click.option(
    "--input", "-i", "inputs", multiple=True, metavar="KEY=VALUE", help="An input value (repeatable)."
)
@click.option(
    "--flows-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of other flows (for Subflow tasks).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document at the end instead of the live view."
)
@click.option(
    "--skip-waits", is_flag=True, help="Do not really wait: Sleep, Wait and retry delays pass at once."
)
@click.option(
    "--cloud-sim",
    is_flag=True,
    help="Run through the deployed code path (deployer, admission, Step Functions, status events) on moto, "
    "in-process; nothing is kept.",
)
@home_option
def run(
    flow_file: Path,
    inputs: tuple[str, ...],
    flows_dir: Path | None,
    as_json: bool,
    skip_waits: bool,
    cloud_sim: bool,
    home: Path,
) -> None:
    """Run FLOW_FILE on the local engine and record its history under --home."""
    if cloud_sim:
        for option, given in (("--skip-waits", skip_waits), ("--flows-dir", flows_dir is not None)):
            if given:
                click.echo(f"warning: {option} has no effect with --cloud-sim", err=True)
        run_on_cloud_sim(flow_file, parse_pairs(inputs), as_json)

    with contextlib.suppress(OSError):  # unreadable: deploying it says so
        warm.start_ahead(flow_file.read_bytes())
    freeze_imported_objects()
    values = parse_pairs(inputs)
    platform = LocalPlatform(
        home, clock=VirtualClock() if skip_waits else None, owns_process=True, secrets=configured_secrets()
    )
    # Compiled templates are kept under the home: the next run of the same flow skips compiling them.
    with persistent_templates(home / TEMPLATE_CACHE):
        run_locally(platform, flow_file, values, flows_dir, as_json)


YOUNG_COLLECTION_THRESHOLD = 10_000


def freeze_imported_objects() -> None:
    """Keep the garbage collector from walking, again and again, what the imports built (modules,
    classes, pydantic schemas: ~40,000 objects that live until the process ends).

    Every full collection walks them, the one CPython runs at exit included (~20 ms of a W1 run). Done
    once per process: one that runs many commands (the tests) freezes only its first imports.

    The youngest generation is also collected less often (every 10,000 net allocations of container
    objects instead of CPython's 700): a run's records, outputs and contexts are freed by their
    reference counts, and the ~200 collections a 1,000-item ForEach triggered at 700, each walking what
    the run keeps alive, cost ~2 % of its time (bench/RESULTS.md, issue 21)."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def run_locally(
    platform: LocalPlatform, flow_file: Path, inputs: dict[str, str], flows_dir: Path | None, as_json: bool
) -> None:
    """Deploy FLOW_FILE on the local platform, run it to its end and exit with its verdict."""
    try:
        if flows_dir is not None:
            for problem in platform.deploy_dir(flows_dir):
                click.echo(f"warning: {problem}", err=True)
        try:
            flow, record = platform.deploy_file(flow_file)
            for warning in flow.warnings:
                click.echo(str(warning), err=True)
            note = local_process_note(flow)
            if note:
                click.echo(note, err=True)
            report_orphans(platform)
            execution = admit_with_files(platform, flow, record, inputs)
        except FlowValidationError as error:
            for diagnostic in error.diagnostics:
                click.echo(str(diagnostic), err=True)
            sys.exit(EXIT_REFUSED)
        except (InputError, StratoflowError) as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_REFUSED)
        start_and_report(platform, flow, execution, as_json)
    finally:
        platform.close()


def local_process_note(flow: Flow) -> str | None:
    """Once per run: tasks whose `taskRunner` is a container run as processes of this machine."""
    fargate = [t.id for t in flow.all_tasks() if isinstance(t, RunnableTask) and t.container() is not None]
    docker = [t.id for t in flow.all_tasks() if uses_docker(t)]
    if not fargate and not docker:
        return None
    parts = []
    if fargate:
        parts.append(f"{', '.join(fargate)} (an ECS Fargate container on AWS)")
    if docker:
        parts.append(f"{', '.join(docker)} (Docker runner: a deployment refuses it, use {FARGATE})")
    return f"note: these tasks run as local processes here: {'; '.join(parts)}"


def simulated_containers_note(source: str, file: str) -> str | None:
    """`--cloud-sim`: container-run tasks' containers run as processes here (moto's ECS runs none)."""
    try:
        flow = load_flow(source, file)
    except FlowValidationError:
        return None  # the deployer reports it
    tasks = [t.id for t in flow.all_tasks() if isinstance(t, RunnableTask) and t.container() is not None]
    if not tasks:
        return None
    return (
        f"note: the containers of {', '.join(tasks)} run as processes of this machine with their flow's "
        "sandbox role (moto's ECS runs no container; on AWS: ECS Fargate)"
    )


def run_on_cloud_sim(flow_file: Path, inputs: dict[str, str], as_json: bool) -> None:
    """`--cloud-sim`: the flow through the deployed code path on moto; exits like a local run."""
    try:
        import moto  # noqa: F401  (an optional dependency: the `sim` extra)
    except ImportError:
        click.echo(f"error: --cloud-sim needs moto, which is not installed: {INSTALL_SIM}", err=True)
        sys.exit(EXIT_REFUSED)
    # Deferred: the simulation is moto and boto3, an optional extra only `--cloud-sim` needs.
    from stratoflow.cloudsim.platform import (
        CloudSimulation,
        DeployRefused,
        StartRefused,
        SubflowNotSupported,
        refuse_subflows,
    )

    try:
        source = read_flow_source(flow_file)
        refuse_subflows(source, str(flow_file))  # before starting moto
        simulated = simulated_containers_note(source, str(flow_file))
        if simulated:
            click.echo(simulated, err=True)
        with CloudSimulation() as simulation:
            # Until it ends, as a local run: a 10,000-item loop takes minutes on moto.
            outcome = simulation.run_flow(flow_file, inputs, timeout=None)
    except DeployRefused as error:
        for line in error.verdict.errors:
            # The deployer names the object (the file's name): point at the file as the user gave it.
            name = flow_file.name
            click.echo(str(flow_file) + line[len(name) :] if line.startswith(name) else line, err=True)
        sys.exit(EXIT_REFUSED)
    except FlowValidationError as error:
        for diagnostic in error.diagnostics:
            click.echo(str(diagnostic), err=True)
        sys.exit(EXIT_REFUSED)
    except (StartRefused, SubflowNotSupported) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_REFUSED)
    if as_json:
        click.echo(json.dumps(run_document(outcome), indent=2, default=str))
    else:
        from stratoflow.cli.live import _depths, _table  # deferred: rich, as in start_and_report

        console = make_console()
        execution = outcome.execution
        console.print(
            f"[bold]{execution.namespace}.{execution.flow_id}[/] on the cloud simulation  {execution.id}"
        )
        console.print(_table(outcome.task_runs, _depths(outcome.task_runs), execution))
        console.print(f"state {execution.state}", markup=False)
        if execution.outputs:
            console.print("outputs:", json.dumps(execution.outputs, indent=2, default=str), markup=False)
        if execution.error:
            console.print(f"error: {execution.error}", markup=False)
    sys.exit(EXIT_OK if outcome.execution.state in ("SUCCESS", "WARNING") else EXIT_FAILED)
