"""`strato executions list|show` and `strato logs`: the local history, or a deployed stack's (`--remote`)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from stratoflow.cli.completion import complete_execution_ids
from stratoflow.cli.ids import flow_namespace, resolve_execution_id
from stratoflow.cli.options import home_option, parse_pairs
from stratoflow.cli.output import console as make_console
from stratoflow.cli.stacks import StackChoice, stack_options
from stratoflow.domain import Execution
from stratoflow.execution.lineage import chain_of, correlation_of, labelled
from stratoflow.execution.masking import public_document, shown_inputs
from stratoflow.local.leases import gone_owners
from stratoflow.states import State
from stratoflow.store import open_local_store
from stratoflow.store.base import ExecutionStore
from stratoflow.store.sqlite import SqliteExecutionStore

FOLLOW_POLL_SECONDS = 0.5

remote_option = click.option(
    "--remote",
    is_flag=True,
    help="Read the history of the deployed stack (--stack) instead of the local one.",
)


def _store(home: Path, remote: bool = False, stack: StackChoice | None = None) -> ExecutionStore:
    if remote and stack is not None:
        return stack.store()

    if not (home / "stratoflow.db").exists():
        click.echo(f"no local history under {home} (run a flow first)", err=True)
        sys.exit(1)
    store, _ = open_local_store(home)
    return store


@click.group()
def executions() -> None:
    """List and inspect executions."""


@executions.command("list")
@click.option("--namespace", help="Only this namespace.")
@click.option("--flow", "flow_id", help="Only this flow id (its namespace is found when only one holds it).")
@click.option(
    "--state",
    type=click.Choice([state.value for state in State], case_sensitive=False),
    help="Only executions in this state.",
)
@click.option("--since", type=click.DateTime(), help="Only executions started at or after this time (UTC).")
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only executions with this label (repeatable), e.g. system.correlationId=<root id> for a chain.",
)
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@home_option
@remote_option
@stack_options
def list_(
    namespace: str | None,
    flow_id: str | None,
    state: str | None,
    since: datetime | None,
    labels: tuple[str, ...],
    limit: int,
    as_json: bool,
    home: Path,
    remote: bool,
    stack: StackChoice,
) -> None:
    """Newest executions first."""
    wanted = parse_pairs(labels, "label")
    store = _store(home, remote, stack)
    if flow_id is not None and namespace is None:
        namespace = flow_namespace(store, flow_id)
    found = labelled(
        store,
        wanted,
        namespace=namespace,
        flow_id=flow_id,
        state=State(state.upper()) if state else None,
        since=since.replace(tzinfo=UTC) if since else None,
        limit=limit,
    )
    if as_json:
        click.echo(json.dumps([e.to_json_dict() for e in found], indent=2, default=str))
        return
    from rich.table import Table

    orphans = set() if remote else _orphans(store, home)
    table = Table(box=None, header_style="bold")
    for column in ("id", "flow", "rev", "state", "started", "duration"):
        table.add_column(column)
    for e in found:
        duration = f"{(e.end_date - e.start_date).total_seconds():.2f}s" if e.end_date else ""
        table.add_row(
            e.id,
            f"{e.namespace}.{e.flow_id}",
            str(e.revision),
            f"{e.state} (process gone)" if e.id in orphans and _fails_when_gone(e.state) else str(e.state),
            f"{e.start_date:%Y-%m-%d %H:%M:%S}",
            duration,
        )
    console = make_console()
    console.print(table)
    if orphans & {e.id for e in found if _fails_when_gone(e.state)}:
        console.print(f"(process gone): the process running it ended before it did; {RECORDED_BY}")


# What records an execution whose process is gone (LocalPlatform.recover_orphans) as FAILED.
RECORDED_BY = "the next `strato run`, `strato server` or `strato restart|kill` on this home records it FAILED"


def _fails_when_gone(state: State) -> bool:
    """A PAUSED execution outlives its process (`strato resume` continues it); others are failed."""
    return not state.is_terminal and str(state) != "PAUSED"


def _orphans(store: ExecutionStore, home: Path) -> set[str]:
    if not isinstance(store, SqliteExecutionStore):  # leases are a local history's
        return set()
    return {execution_id for ids in gone_owners(store, home).values() for execution_id in ids}


@executions.command("show")
@click.argument("execution_id", shell_complete=complete_execution_ids)
@click.option("--json", "as_json", is_flag=True)
@home_option
@remote_option
@stack_options
def show(execution_id: str, as_json: bool, home: Path, remote: bool, stack: StackChoice) -> None:
    """One execution and its task runs."""
    store = _store(home, remote, stack)
    execution_id = resolve_execution_id(store, execution_id)
    execution = store.get_execution(execution_id)
    if execution is None:
        click.echo(f"error: execution {execution_id} does not exist", err=True)
        sys.exit(1)
    runs = store.list_task_runs(execution_id)
    if as_json:
        chain = chain_of(store, execution)
        document = public_document(execution)
        document["chain"] = {
            "root": chain.root.id if chain.root else None,
            "parent": chain.parent.id if chain.parent else None,
            "children": [c.id for c in chain.children],
        }
        document["taskRuns"] = [r.to_json_dict() for r in runs]
        click.echo(json.dumps(document, indent=2, default=str))
        return
    from stratoflow.cli.live import _depths, _table  # deferred: rich (~170 ms), which --json never loads

    console = make_console()
    console.print(
        f"[bold]{execution.namespace}.{execution.flow_id}[/] rev {execution.revision}  {execution.id}"
    )
    state = str(execution.state)
    if not remote and _fails_when_gone(execution.state) and execution.id in _orphans(store, home):
        state += f" (process gone: {RECORDED_BY})"
    console.print(f"state {state}  inputs {json.dumps(shown_inputs(execution), default=str)}", markup=False)
    _print_chain(console, store, execution)
    console.print(_table(runs, _depths(runs), execution))
    if execution.outputs:
        console.print("outputs:", json.dumps(execution.outputs, indent=2, default=str), markup=False)
    if execution.error:
        console.print(f"error: {execution.error}", markup=False)


def _print_chain(console: Any, store: ExecutionStore, execution: Execution) -> None:
    """The execution's place in its chain: root (by correlation id), parent and Subflow children."""
    chain = chain_of(store, execution)

    def named(other: Execution) -> str:
        return f"{other.id} ({other.namespace}.{other.flow_id}, {other.state})"

    root = correlation_of(execution)
    if root != execution.id or chain.children:
        console.print(
            f"root {named(chain.root) if chain.root else root + ' (not in this history)'}", markup=False
        )
    if chain.parent is not None:
        console.print(f"parent {named(chain.parent)}", markup=False)
    for child in chain.children:
        console.print(f"child {named(child)}", markup=False)
    if root == execution.id and chain.children:
        console.print(
            f"whole chain: strato executions list --label system.correlationId={root}", markup=False
        )


@click.command()
@click.argument("execution_id", shell_complete=complete_execution_ids)
@click.option("--task", "task_id", help="Only this task's logs.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the execution ends.")
@home_option
@remote_option
@stack_options
def logs(
    execution_id: str, task_id: str | None, follow: bool, home: Path, remote: bool, stack: StackChoice
) -> None:
    """The logs of an execution, in the order they were written."""
    store = _store(home, remote, stack)
    execution_id = resolve_execution_id(store, execution_id)
    if store.get_execution(execution_id) is None:
        click.echo(f"error: execution {execution_id} does not exist", err=True)
        sys.exit(1)
    printed = 0
    while True:
        entries = store.list_logs(execution_id, task_id=task_id)
        for entry in entries[printed:]:
            click.echo(
                f"{entry.timestamp:%Y-%m-%d %H:%M:%S} {entry.level:<5} {entry.task_id}: {entry.message}"
            )
        printed = len(entries)
        current = store.get_execution(execution_id)
        if not follow or current is None or current.state.is_terminal:
            return
        time.sleep(FOLLOW_POLL_SECONDS)
