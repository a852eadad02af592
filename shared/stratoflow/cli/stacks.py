"""What the commands against a deployed stack share: `--stack` and its overrides, the stack's
resources (boto3 is imported only when a command asks for them), and waiting on its records.

Every command with `--remote` (or only remote: deploy, flows, execute) imports this, not `cloud_cmd`.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, TypeVar

import click

from stratoflow.cli import aws_access
from stratoflow.cloud.config.stack import StackError, StackResources
from stratoflow.domain import Execution
from stratoflow.states import TERMINAL_STATES
from stratoflow.store.base import ExecutionStore
from stratoflow.store.dynamo import DynamoExecutionStore
from stratoflow.store.s3 import S3BlobStore

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 2


def poll_seconds() -> float:
    """How often the CLI reads the stack's records while it waits (STRATOFLOW_POLL_SECONDS)."""
    return float(os.environ.get("STRATOFLOW_POLL_SECONDS", "1.0"))


@dataclass(frozen=True)
class StackChoice:
    """The stack named on the command line, and the resource names given explicitly."""

    name: str
    given: dict[str, str | None]

    def resources(self, *needed: str) -> StackResources:
        import boto3

        aws_access.require_aws()

        try:
            resources = StackResources.resolve(
                self.name, self.given, needed, lambda: boto3.client("cloudformation")
            )
        except StackError as error:
            raise click.ClickException(str(error)) from None
        warning = resources.version_warning(version("stratoflow"))
        if warning:
            click.echo(warning, err=True)
        return resources

    def store(self) -> DynamoExecutionStore:
        """The stack's table, writing records with the stack's retention (a TTL), as its functions do:
        the stack's `DataRetentionDays` output, else STRATOFLOW_HISTORY_DAYS (a table named
        explicitly, whose stack is not read)."""
        resources = self.resources("table")
        given = os.environ.get("STRATOFLOW_HISTORY_DAYS", "")
        days = resources.history_days or (int(given) if given.isdigit() else None)
        # Flow records too large for an item are in the data bucket (store.flow_objects).
        blobs = S3BlobStore(resources.data_bucket) if resources.data_bucket else None
        return DynamoExecutionStore(resources.table, history_days=days, flow_blobs=blobs)


def stack_options(func: F) -> F:
    """`--stack`, and `--table` / `--flows-bucket` / `--admission` overrides, passed as `stack`."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        stack_name: str,
        table: str | None,
        flows_bucket: str | None,
        admission: str | None,
        **kwargs: Any,
    ) -> Any:
        given = {"table": table, "flows_bucket": flows_bucket, "admission_arn": admission}
        return func(*args, stack=StackChoice(stack_name, given), **kwargs)

    options = [
        click.option(
            "--stack",
            "stack_name",
            envvar="STRATOFLOW_STACK",
            default="Stratoflow",
            show_default=True,
            help="The deployed stack (its CloudFormation outputs name the resources).",
        ),
        click.option("--table", envvar="STRATOFLOW_TABLE_NAME", help="The stack's DynamoDB table."),
        click.option("--flows-bucket", envvar="STRATOFLOW_FLOWS_BUCKET", help="The stack's flows bucket."),
        click.option(
            "--admission", envvar="STRATOFLOW_ADMISSION_ARN", help="The stack's admission function."
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def split_flow(reference: str, store: ExecutionStore) -> tuple[str, str]:
    """NAMESPACE.FLOW_ID -> (namespace, flow id); both may hold dots, so the stack's flows decide."""
    candidates = [(reference[:i], reference[i + 1 :]) for i in range(len(reference)) if reference[i] == "."]
    if not candidates:
        raise click.UsageError(f"expected NAMESPACE.FLOW_ID, got {reference!r}")
    for namespace, flow_id in reversed(candidates):
        if namespace and flow_id and store.get_flow_head(namespace, flow_id) is not None:
            return namespace, flow_id
    return candidates[-1]  # unknown: admission says so


def wait_for_end(store: ExecutionStore, execution_id: str, timeout: float) -> Execution | None:
    """The execution once its record is final, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        execution = store.get_execution(execution_id)
        if execution is not None and execution.state in TERMINAL_STATES:
            return execution
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll_seconds())
