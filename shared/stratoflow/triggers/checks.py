"""Deploy-time checks of Schedule triggers, located on the `cron` line of the flow file.

The flow model already refuses invalid crons and zones. These checks add what only matters once the
schedule runs: a cron EventBridge Scheduler cannot express, and a cron that never fires.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stratoflow.errors import Diagnostic
from stratoflow.flow.model import Flow
from stratoflow.flow.triggers import Schedule
from stratoflow.triggers.cron import CronTranslationError, scheduler_crons
from stratoflow.triggers.schedules import CronSchedule


def schedule_diagnostics(flow: Flow, now: datetime | None = None) -> list[Diagnostic]:
    """Every problem of the flow's Schedule triggers, each at its trigger's `cron` property."""
    problems: list[Diagnostic] = []
    for index, trigger in enumerate(flow.triggers):
        if not isinstance(trigger, Schedule):
            continue
        path = ("triggers", index, "cron")
        try:
            scheduler_crons(trigger.cron)
        except (CronTranslationError, ValueError) as error:
            problems.append(_located(flow, path, str(error)))
            continue
        if CronSchedule.of(trigger).next_fire(now or datetime.now(UTC)) is None:
            problems.append(_located(flow, path, f"'{trigger.cron}' never fires (no such date)"))
    return problems


def _located(flow: Flow, path: tuple[str | int, ...], message: str) -> Diagnostic:
    text_path = f"{path[0]}[{path[1]}].{path[2]}"
    source = flow.source
    if source is None:
        return Diagnostic(f"{flow.namespace}.{flow.id}", 1, 1, text_path, message)
    line, column = source.source_map.locate(path)
    return Diagnostic(source.file, line, column, text_path, message)
