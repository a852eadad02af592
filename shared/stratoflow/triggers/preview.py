"""What a Schedule trigger will do: its next fire times, in its zone and in UTC, with the DST cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import JsonValue

from stratoflow.flow.triggers import Schedule
from stratoflow.triggers.cron import CronTranslationError, scheduler_crons
from stratoflow.triggers.schedules import CronSchedule, Slot, utc_iso

SKIPPED_NOTE = "skipped: DST jumps over it"
REPEATED_NOTE = "repeated by DST: runs once (first)"


@dataclass(frozen=True)
class PreviewRow:
    """One matching local time: when it runs (UTC), or that DST skips it."""

    local: str  # ISO 8601 with the zone's offset; without one when the local time does not exist
    utc: str | None
    dst: str | None  # None, "skipped" or "repeated"

    @property
    def note(self) -> str:
        return {"skipped": SKIPPED_NOTE, "repeated": REPEATED_NOTE}.get(self.dst or "", "")


@dataclass(frozen=True)
class SchedulePreview:
    trigger_id: str
    cron: str
    timezone: str
    disabled: bool
    scheduler_expressions: list[str]  # what EventBridge Scheduler runs
    scheduler_error: str | None
    rows: list[PreviewRow] = field(default_factory=list)

    def document(self) -> dict[str, JsonValue]:
        """The `--json` form."""
        return {
            "trigger": self.trigger_id,
            "cron": self.cron,
            "timezone": self.timezone,
            "disabled": self.disabled,
            "schedulerExpressions": list[JsonValue](self.scheduler_expressions),
            "schedulerError": self.scheduler_error,
            "fireTimes": [{"local": r.local, "utc": r.utc, "dst": r.dst} for r in self.rows],
        }


def preview_schedule(trigger: Schedule, start: datetime, count: int) -> SchedulePreview:
    """The next `count` fire times at or after `start`; local times DST skips are listed too, marked."""
    schedule = CronSchedule.of(trigger)
    try:
        expressions, error = scheduler_crons(trigger.cron), None
    except CronTranslationError as problem:
        expressions, error = [], str(problem)
    rows: list[PreviewRow] = []
    fired = 0
    for slot in schedule.slots(start):
        if fired >= count:
            break
        rows.append(_row(schedule, slot))
        fired += 0 if slot.skipped else 1
    return SchedulePreview(
        trigger_id=trigger.id,
        cron=schedule.cron,
        timezone=schedule.timezone,
        disabled=trigger.disabled,
        scheduler_expressions=expressions,
        scheduler_error=error,
        rows=rows,
    )


def _row(schedule: CronSchedule, slot: Slot) -> PreviewRow:
    if slot.instant is None:
        return PreviewRow(slot.local.isoformat(), None, "skipped")
    return PreviewRow(
        schedule.local_iso(slot.instant), utc_iso(slot.instant), "repeated" if slot.repeated else None
    )
