"""Shell completion of flow files and execution ids (click's `_STRATO_COMPLETE`, see the README).

Both run on every <TAB>, so they read only the local disk: no AWS call, nothing created.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from stratoflow.cli.options import DEFAULT_HOME
from stratoflow.store.sqlite import SqliteExecutionStore

FLOW_SUFFIXES = (".yaml", ".yml")
MAX_EXECUTIONS = 50


def complete_flow_files(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Flow files (*.yaml, *.yml) and folders under the typed prefix; hidden ones when asked with '.'."""
    folder_text, separator, name_start = incomplete.rpartition("/")
    prefix = folder_text + separator
    folder = Path(prefix or ".")
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    items = []
    for entry in entries:
        if not entry.name.startswith(name_start) or (entry.name.startswith(".") and not name_start):
            continue
        if entry.is_dir():
            items.append(CompletionItem(f"{prefix}{entry.name}/"))
        elif entry.suffix in FLOW_SUFFIXES:
            items.append(CompletionItem(f"{prefix}{entry.name}"))
    return items


def complete_execution_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The newest local executions whose id starts with the typed text, described by flow and state."""
    if ctx.params.get("remote"):
        return []
    home = ctx.params.get("home") or Path(os.environ.get("STRATOFLOW_HOME", DEFAULT_HOME))
    database = Path(home) / "stratoflow.db"
    if not database.is_file():
        return []

    store = SqliteExecutionStore(database)
    return [
        CompletionItem(
            execution.id, help=f"{execution.namespace}.{execution.flow_id} {execution.state.value}"
        )
        for execution in store.list_executions(limit=MAX_EXECUTIONS)
        if execution.id.startswith(incomplete)
    ]
