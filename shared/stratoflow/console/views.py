"""Records of the history turned into the console's documents, and the cursors of its listings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from stratoflow.console import models as m
from stratoflow.domain import Execution, FlowRecord, LogEntry, TaskRun
from stratoflow.errors import Diagnostic, InputError
from stratoflow.execution.lineage import correlation_of
from stratoflow.execution.masking import MASK, shown_inputs
from stratoflow.flow import Flow
from stratoflow.flow.triggers import Schedule
from stratoflow.store import rules
from stratoflow.store.base import FlowHead
from stratoflow.triggers.preview import preview_schedule

NEXT_FIRES = 5
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


class CursorError(InputError):
    def __init__(self, name: str) -> None:
        super().__init__(name, "is not a cursor this API gave")


def input_spec(item: Any) -> m.InputSpec:
    secret = type(item).type_name == "SECRET"
    return m.InputSpec(
        id=item.id,
        type=type(item).type_name,
        required=item.required,
        default=MASK if secret and item.defaults is not None else item.defaults,
        description=item.description,
        display_name=item.display_name,
        values=getattr(item, "values", None),
        item_type=getattr(item, "item_type", None),
    )


def trigger_info(trigger: Any, now: datetime) -> m.TriggerInfo:

    info = m.TriggerInfo(id=trigger.id, type=type(trigger).type_name, disabled=trigger.disabled)
    if isinstance(trigger, Schedule):
        preview = preview_schedule(trigger, now, NEXT_FIRES)
        info.cron, info.timezone = preview.cron, preview.timezone
        info.scheduler_error = preview.scheduler_error
        info.next_fires = [m.FireTime(local=r.local, utc=r.utc, dst=r.dst) for r in preview.rows]
    return info


def flow_summary(head: FlowHead, live: Flow | None) -> m.FlowSummary:
    return m.FlowSummary(
        namespace=head.namespace,
        flow_id=head.flow_id,
        revision=head.deployed_revision,
        latest_revision=head.latest_revision,
        status=head.status,
        errors=head.errors,
        description=live.description if live else None,
        labels=dict(live.labels) if live else {},
        trigger_types=sorted({type(t).type_name for t in live.triggers}) if live else [],
        updated=head.updated,
    )


def flow_detail(head: FlowHead, record: FlowRecord, flow: Flow, now: datetime) -> m.FlowDetail:
    summary = flow_summary(head, flow)
    return m.FlowDetail(
        **summary.model_dump(),
        source=record.source,
        inputs=[input_spec(item) for item in flow.inputs],
        triggers=[trigger_info(trigger, now) for trigger in flow.triggers],
        tasks=[
            m.TaskInfo(
                id=task.id,
                type=type(task).type_name,
                on_resume=[input_spec(i) for i in getattr(task, "on_resume", None) or []],
            )
            for task in flow.all_tasks()
        ],
    )


def revision_info(record: FlowRecord) -> m.RevisionInfo:
    return m.RevisionInfo(
        revision=record.revision, status=record.status, created=record.created, source_hash=record.source_hash
    )


def diagnostic_view(diagnostic: Diagnostic) -> m.DiagnosticView:
    return m.DiagnosticView(
        line=diagnostic.line,
        column=diagnostic.column,
        path=diagnostic.path,
        message=diagnostic.message,
        severity="warning" if diagnostic.is_warning else "error",
        text=str(diagnostic),
    )


def _duration_ms(start: datetime, end: datetime | None) -> int | None:
    return None if end is None else int((end - start).total_seconds() * 1000)


def execution_summary(execution: Execution) -> m.ExecutionSummary:
    return m.ExecutionSummary(
        id=execution.id,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        revision=execution.revision,
        state=str(execution.state),
        labels=execution.labels,
        start_date=execution.start_date,
        end_date=execution.end_date,
        duration_ms=_duration_ms(execution.start_date, execution.end_date),
        error=execution.error,
        parent_execution_id=execution.parent_execution_id,
        original_execution_id=execution.original_execution_id,
    )


def execution_detail(execution: Execution, children: list[str]) -> m.ExecutionDetail:

    return m.ExecutionDetail(
        **execution_summary(execution).model_dump(),
        inputs=shown_inputs(execution),
        outputs=execution.outputs,
        trigger=execution.trigger,
        restarts=execution.restarts,
        state_history=[m.StateChangeView(state=str(c.state), date=c.date) for c in execution.state_history],
        children=children,
        correlation_id=correlation_of(execution),
    )


def task_run_view(run: TaskRun) -> m.TaskRunView:
    return m.TaskRunView(
        id=run.id,
        task_id=run.task_id,
        task_type=run.task_type,
        parent_task_run_id=run.parent_task_run_id,
        value=run.value,
        iteration=run.iteration,
        scope_values=run.scope_values,
        state=str(run.state),
        attempts=[
            m.AttemptView(state=str(a.state), start_date=a.start_date, end_date=a.end_date, error=a.error)
            for a in run.attempts
        ],
        outputs=run.outputs,
        error=run.error,
        start_date=run.start_date,
        end_date=run.end_date,
    )


# --- cursors -----------------------------------------------------------------------------------------
# An execution cursor is the sort key of the last execution of a page, `<start>#<id>`: both stores
# order executions by it (SQLite's index, DynamoDB's GSI sort keys), so the next page is one range read.


def execution_cursor(execution: Execution) -> str:
    return f"{rules.sortable_time(execution.start_date)}#{execution.id}"


def check_execution_cursor(cursor: str) -> str:
    time, _, execution_id = cursor.partition("#")
    try:
        datetime.fromisoformat(time.removesuffix("Z"))
    except ValueError:
        raise CursorError("cursor") from None
    if not execution_id:
        raise CursorError("cursor")
    return cursor


# A log cursor is `<timestamp>~<n>`: the n-th line (from 1) written with that timestamp. Lines come
# back in timestamp, then write, order; the next read starts at the timestamp and skips n lines.


def log_lines(entries: Iterable[LogEntry], after: tuple[datetime, int] | None) -> list[tuple[str, LogEntry]]:
    """Each entry with its cursor, those up to `after` left out."""
    lines: list[tuple[str, LogEntry]] = []
    previous, count = None, 0
    for entry in entries:
        key = rules.sortable_time(entry.timestamp)
        count = count + 1 if key == previous else 1
        previous = key
        if after is not None and key == rules.sortable_time(after[0]) and count <= after[1]:
            continue
        lines.append((f"{key}~{count}", entry))
    return lines


def parse_log_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    time, _, count = cursor.partition("~")
    try:
        moment = datetime.fromisoformat(time.removesuffix("Z")).replace(tzinfo=UTC)
        return moment, int(count)
    except ValueError:
        raise CursorError("after") from None


def level_at_least(level: str | None) -> set[str] | None:
    if level is None:
        return None
    wanted = level.upper()
    if wanted not in LEVELS:
        raise InputError("level", f"must be one of {', '.join(LEVELS)}")
    return set(LEVELS[LEVELS.index(wanted) :])


def log_line(cursor: str, entry: LogEntry) -> m.LogLine:
    return m.LogLine(
        cursor=cursor,
        task_id=entry.task_id,
        task_run_id=entry.task_run_id,
        attempt=entry.attempt,
        level=entry.level,
        message=entry.message,
        timestamp=entry.timestamp,
    )
