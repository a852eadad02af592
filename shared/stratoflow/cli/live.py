"""The live view of `strato run`: task runs as their states change, then the outputs."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.live import Live
from rich.table import Table

from stratoflow.cli.output import console as make_console
from stratoflow.domain import Execution, TaskRun

if TYPE_CHECKING:  # types only: the history commands show tables without the local engine
    from stratoflow.engine import LocalExecution
    from stratoflow.flow import Flow
    from stratoflow.local import LocalPlatform, RunOutcome

STATE_STYLES = {
    "SUCCESS": "green",
    "WARNING": "yellow",
    "FAILED": "red",
    "KILLED": "red",
    "RUNNING": "cyan",
    "RETRYING": "magenta",
    "PAUSED": "blue",
    "SKIPPED": "dim",
    "CREATED": "dim",
    "QUEUED": "dim",
    "KILLING": "red",
    "CANCELLED": "red",
    "RETRIED": "dim",
}


TIMELINE_WIDTH = 30


def timeline_bar(start: datetime, end: datetime | None, origin: datetime, total: float) -> str:
    """A Gantt-like bar: where a task run sits within the execution's duration."""
    if total <= 0:
        return "█" if end is not None else "…"
    first = int((start - origin).total_seconds() / total * TIMELINE_WIDTH)
    last = int(((end or origin) - origin).total_seconds() / total * TIMELINE_WIDTH) if end else TIMELINE_WIDTH
    first = min(max(first, 0), TIMELINE_WIDTH - 1)
    last = min(max(last, first + 1), TIMELINE_WIDTH)
    return " " * first + "█" * (last - first) + " " * (TIMELINE_WIDTH - last)


def _table(runs: list[TaskRun], depth_of: dict[str, int], execution: Execution | None = None) -> Table:
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("task")
    table.add_column("value")
    table.add_column("state")
    table.add_column("attempts", justify="right")
    table.add_column("duration", justify="right")
    origin, total = None, 0.0
    if execution is not None and runs:
        origin = execution.start_date
        finish = execution.end_date or max((r.end_date or r.start_date) for r in runs)
        total = (finish - origin).total_seconds()
        table.add_column("timeline")
    for run in runs:
        depth = depth_of.get(run.id, 0)
        style = STATE_STYLES.get(str(run.state), "")
        duration = ""
        if run.end_date is not None:
            duration = format_duration((run.end_date - run.start_date).total_seconds())
        cells = [
            "  " * depth + run.task_id,
            run.value or "",
            f"[{style}]{run.state}[/]" if style else str(run.state),
            str(len(run.attempts)),
            duration,
        ]
        if origin is not None:
            cells.append(f"[{style}]{timeline_bar(run.start_date, run.end_date, origin, total)}[/]")
        table.add_row(*cells)
    return table


def _depths(runs: list[Any]) -> dict[str, int]:
    parents = {r.id: r.parent_task_run_id for r in runs}
    depths: dict[str, int] = {}
    for run in runs:
        depth, parent = 0, parents.get(run.id)
        while parent is not None and depth < 50:
            depth += 1
            parent = parents.get(parent)
        depths[run.id] = depth
    return depths


def watch(platform: LocalPlatform, execution: Execution, running: LocalExecution, flow: Flow) -> RunOutcome:
    """Show the task runs while the execution runs; print the outcome at the end."""
    console = make_console()
    console.print(f"[bold]{flow.namespace}.{flow.id}[/] execution [bold]{execution.id}[/]")
    done = threading.Event()
    result: list[RunOutcome] = []

    def finish() -> None:
        try:
            result.append(platform.finish(execution, running))
        finally:
            done.set()

    threading.Thread(target=finish, daemon=True).start()
    if console.is_terminal:
        with Live(console=console, refresh_per_second=10, transient=False) as live:
            while not done.wait(0.1):
                runs = platform.store.list_task_runs(execution.id)
                live.update(_table(runs, _depths(runs)))
            runs = platform.store.list_task_runs(execution.id)
            live.update(_table(runs, _depths(runs)))
    else:
        done.wait()
    outcome = result[0] if result else None
    if outcome is None:
        raise RuntimeError("the execution did not finish")
    if not console.is_terminal:
        console.print(_table(outcome.task_runs, _depths(outcome.task_runs)))
    for entry in platform.store.list_logs(execution.id):
        console.print(
            f"{entry.timestamp:%H:%M:%S} {entry.level:<5} {entry.task_id}: {entry.message}",
            highlight=False,
            markup=False,
        )
    state = str(outcome.execution.state)
    style = STATE_STYLES.get(state, "")
    if outcome.execution.outputs:
        console.print("outputs:", json.dumps(outcome.execution.outputs, indent=2, default=str), markup=False)
    console.print(f"[{style}]{state}[/] in {_duration(outcome.execution)}")
    if outcome.execution.error:
        console.print(f"[red]error:[/] {outcome.execution.error}", highlight=False)
    return outcome


def _duration(execution: Execution) -> str:
    if execution.end_date is None:
        return "?"
    return format_duration((execution.end_date - execution.start_date).total_seconds())


def format_duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"
