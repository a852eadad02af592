"""`strato deploy`, `strato flows list` and `strato execute`: the CLI against a deployed stack.

The stack's flows bucket, table and admission function come from its CloudFormation outputs
(`--stack`, default Stratoflow), or from `--flows-bucket`, `--table` and `--admission` (or the
environment variables STRATOFLOW_FLOWS_BUCKET, STRATOFLOW_TABLE_NAME, STRATOFLOW_ADMISSION_ARN),
which win and spare the CloudFormation call. boto3 is imported only when a command runs.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from stratoflow.cli.completion import complete_flow_files
from stratoflow.cli.local_runs import run_document
from stratoflow.cli.options import parse_pairs
from stratoflow.cli.output import console as make_console
from stratoflow.cli.stacks import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    StackChoice,
    poll_seconds,
    split_flow,
    stack_options,
    wait_for_end,
)
from stratoflow.cloud.deploy.registry import DeploymentRegistry
from stratoflow.domain import Execution, TaskRun
from stratoflow.flow import flow_files
from stratoflow.store.base import ExecutionStore

# --- strato deploy ---------------------------------------------------------------------------------

# Files uploaded before the CLI waits for their verdicts: the deployer handles them concurrently.
BATCH = 10


def flow_objects(paths: Iterable[Path], prefix: str) -> dict[str, Path]:
    """Object key -> file: a file keeps its name, a folder's flows keep their path inside it."""
    objects: dict[str, Path] = {}
    for path in paths:
        found = (
            [(p.relative_to(path).as_posix(), p) for p in flow_files(path)]
            if path.is_dir()
            else [(path.name, path)]
        )
        for name, file in found:
            key = f"{prefix}{name}"
            if key in objects:
                raise click.UsageError(f"{file} and {objects[key]} would both be uploaded as {key}")
            objects[key] = file
    return objects


@click.command()
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    shell_complete=complete_flow_files,
)
@click.option("--prefix", default="", help="Key prefix in the flows bucket (e.g. 'team-a/').")
@click.option(
    "--timeout", default=60.0, show_default=True, help="Seconds to wait for the deployer's verdicts."
)
@click.option("--no-wait", is_flag=True, help="Upload only, without waiting for the deployer.")
@click.option(
    "--batch",
    default=BATCH,
    show_default=True,
    type=click.IntRange(1),
    help="Upload this many files, wait for their verdicts, then the next ones (paces bulk deploys).",
)
@stack_options
def deploy(
    paths: tuple[Path, ...], prefix: str, timeout: float, no_wait: bool, batch: int, stack: StackChoice
) -> None:
    """Upload flow files (or folders of them) to the stack and wait for the deployer's verdict."""
    import boto3

    objects = flow_objects(paths, prefix)
    bucket = stack.resources("flows_bucket").flows_bucket
    s3 = boto3.client("s3")
    keys = list(objects)
    failed = False
    for start in range(0, len(keys), batch):
        if start and not no_wait:
            click.echo(f"{start} of {len(keys)} file(s) handled; uploading the next {batch}")
        uploads: dict[str, tuple[str | None, str]] = {}
        for key in keys[start : start + batch]:
            body = objects[key].read_bytes()
            response = s3.put_object(Bucket=bucket, Key=key, Body=body)
            uploads[key] = (
                response.get("VersionId"),
                hashlib.sha256(body.decode("utf-8-sig", errors="replace").encode()).hexdigest(),
            )
            click.echo(f"uploaded {objects[key]} to s3://{bucket}/{key}")
        if no_wait:
            continue
        # Each batch waits for its verdicts: the deployer's CreateStateMachine, PutMetricAlarm and
        # CreateRole calls then never burst past their per-account rates, however many files.
        for key, verdict in wait_for_verdicts(stack.store(), uploads, timeout).items():
            failed |= not _report(key, objects[key], verdict, timeout)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def wait_for_verdicts(
    store: ExecutionStore, uploads: dict[str, tuple[str | None, str]], timeout: float
) -> dict[str, Any]:
    """The deployer's verdict on each upload (None for those without one after `timeout` seconds)."""
    registry = DeploymentRegistry(store)
    verdicts: dict[str, Any] = dict.fromkeys(uploads)
    deadline = time.monotonic() + timeout
    while True:
        for key, (version_id, digest) in uploads.items():
            if verdicts[key] is None:
                # The verdict on *this* upload: its object version, or (unversioned bucket) its content.
                verdicts[key] = registry.verdict(key, version_id or digest)
        if all(verdicts.values()) or time.monotonic() >= deadline:
            return verdicts
        time.sleep(poll_seconds())


def _report(key: str, file: Path, verdict: Any, timeout: float) -> bool:
    if verdict is None:
        click.echo(
            f"error: no verdict on {key} after {timeout:g} s: is the stack's deployer running? "
            "(`strato flows list` shows what is deployed)",
            err=True,
        )
        return False
    name = f"{verdict.namespace}.{verdict.flow_id}"
    if verdict.status == "SKIPPED":
        click.echo(f"not deployed: {file} ({key}): {verdict.message}", err=True)
        return False
    if verdict.status == "DEPLOYED":
        click.echo(
            f"deployed {name} revision {verdict.revision} ({file}){': ' + verdict.message if verdict.message else ''}"
        )
        return True
    click.echo(f"refused {name} ({file}): {verdict.message}", err=True)
    for error in verdict.errors:
        # The deployer names the object key; point at the file the user has.
        click.echo(f"  {str(file) + error[len(key) :] if error.startswith(key) else error}", err=True)
    return False


# --- strato flows list -----------------------------------------------------------------------------


@click.group()
def flows() -> None:
    """The flows of a deployed stack."""


@flows.command("list")
@click.option("--namespace", help="Only this namespace.")
@click.option("--json", "as_json", is_flag=True)
@stack_options
def flows_list(namespace: str | None, as_json: bool, stack: StackChoice) -> None:
    """Every flow of the stack: its status, live revision and the errors of its last upload."""
    heads = stack.store().list_flow_heads(namespace)
    if as_json:
        click.echo(json.dumps([h.to_json_dict() for h in heads], indent=2, default=str))
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("flow", "status", "live", "latest", "updated", "errors"):
        table.add_column(column)
    for head in heads:
        live = (
            str(head.deployed_revision)
            if head.deployed_revision is not None and head.status != "DELETED"
            else "-"
        )
        table.add_row(
            f"{head.namespace}.{head.flow_id}",
            head.status,
            live,
            str(head.latest_revision),
            f"{head.updated:%Y-%m-%d %H:%M:%S}",
            head.errors[0] + (f" (+{len(head.errors) - 1})" if len(head.errors) > 1 else "")
            if head.errors
            else "",
        )
    make_console().print(table)


# --- strato execute --------------------------------------------------------------------------------


@click.command()
@click.argument("flow")
@click.option(
    "--input", "-i", "inputs", multiple=True, metavar="KEY=VALUE", help="An input value (repeatable)."
)
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="A label (repeatable).")
@click.option("--execution-id", help="Name the execution (a second start with the same id starts nothing).")
@click.option("--wait", is_flag=True, help="Wait for the execution to end; exit 1 unless it succeeded.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds --wait waits at most.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@stack_options
def execute(
    flow: str,
    inputs: tuple[str, ...],
    labels: tuple[str, ...],
    execution_id: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    stack: StackChoice,
) -> None:
    """Start NAMESPACE.FLOW_ID on the stack, through its admission function."""
    import boto3

    resources = stack.resources("admission_arn", "table")
    store = stack.store()
    namespace, flow_id = split_flow(flow, store)
    payload: dict[str, Any] = {
        "namespace": namespace,
        "flowId": flow_id,
        "inputs": parse_pairs(inputs),
        "labels": parse_pairs(labels, "label"),
    }
    if execution_id:
        payload["executionId"] = execution_id
    response = boto3.client("lambda").invoke(
        FunctionName=resources.admission_arn, Payload=json.dumps(payload).encode()
    )
    answer = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise click.ClickException(
            f"admission failed: {answer.get('errorType')}: {answer.get('errorMessage')}"
        )
    if answer.get("state") == "REFUSED":
        click.echo(f"error: {answer.get('error')}", err=True)
        sys.exit(EXIT_REFUSED)
    if not wait:
        click.echo(
            json.dumps(answer, indent=2)
            if as_json
            else f"execution {answer['executionId']} {answer['state']}"
        )
        sys.exit(EXIT_FAILED if answer["state"] == "FAILED" else EXIT_OK)
    execution = wait_for_end(store, answer["executionId"], timeout)
    if execution is None:
        click.echo(f"error: execution {answer['executionId']} still running after {timeout:g} s", err=True)
        sys.exit(EXIT_FAILED)
    runs = store.list_task_runs(execution.id)
    if as_json:
        click.echo(json.dumps(run_document(_Outcome(execution, runs)), indent=2, default=str))
    else:
        click.echo(f"execution {execution.id} {execution.state}")
        if execution.outputs:
            click.echo("outputs: " + json.dumps(execution.outputs, indent=2, default=str))
        if execution.error:
            click.echo(f"error: {execution.error}")
    sys.exit(EXIT_OK if str(execution.state) in ("SUCCESS", "WARNING") else EXIT_FAILED)


@dataclass
class _Outcome:
    execution: Execution
    task_runs: list[TaskRun]
