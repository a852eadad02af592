"""Triggers: what starts executions besides a manual start.

Schedules (cron in a time zone, fire times with DST, backfill, missed schedules, the translation to
EventBridge Scheduler) are exported here; the AWS side is `stratoflow.cloud.deploy.schedules`. Event
deliveries are named in `stratoflow.triggers.events` (ids, SQS batches) and matched to flows in
`stratoflow.triggers.flow_triggers`; what admission checks of a delivery is the core's
(`stratoflow.execution.deliveries`), which imports nothing of this package.

Names are imported on first use, so `import stratoflow.triggers.events` loads nothing of the
schedules, and no module here imports an AWS SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratoflow.triggers.backfill import (
        MAX_BACKFILL_SLOTS,
        ScheduledStart,
        ScheduleError,
        TriggerDisabledError,
        ensure_enabled,
        plan_backfill,
        schedule_trigger,
        schedule_triggers,
        scheduled_start,
        starts_of,
    )
    from stratoflow.triggers.checks import schedule_diagnostics
    from stratoflow.triggers.cron import CronTranslationError, scheduler_crons
    from stratoflow.triggers.preview import PreviewRow, SchedulePreview, preview_schedule
    from stratoflow.triggers.recovery import get_last_fired, missed_slots, missed_starts, set_last_fired
    from stratoflow.triggers.schedules import (
        CronSchedule,
        Slot,
        parse_instant,
        schedule_execution_id,
        slot_context,
        trigger_context,
        utc_iso,
    )

_EXPORTS: dict[str, tuple[str, ...]] = {
    "stratoflow.triggers.backfill": (
        "MAX_BACKFILL_SLOTS",
        "ScheduleError",
        "ScheduledStart",
        "TriggerDisabledError",
        "ensure_enabled",
        "plan_backfill",
        "schedule_trigger",
        "schedule_triggers",
        "scheduled_start",
        "starts_of",
    ),
    "stratoflow.triggers.checks": ("schedule_diagnostics",),
    "stratoflow.triggers.cron": ("CronTranslationError", "scheduler_crons"),
    "stratoflow.triggers.preview": ("PreviewRow", "SchedulePreview", "preview_schedule"),
    "stratoflow.triggers.recovery": ("get_last_fired", "missed_slots", "missed_starts", "set_last_fired"),
    "stratoflow.triggers.schedules": (
        "CronSchedule",
        "Slot",
        "parse_instant",
        "schedule_execution_id",
        "slot_context",
        "trigger_context",
        "utc_iso",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "MAX_BACKFILL_SLOTS",
    "CronSchedule",
    "CronTranslationError",
    "PreviewRow",
    "ScheduleError",
    "SchedulePreview",
    "ScheduledStart",
    "Slot",
    "TriggerDisabledError",
    "ensure_enabled",
    "get_last_fired",
    "missed_slots",
    "missed_starts",
    "parse_instant",
    "plan_backfill",
    "preview_schedule",
    "schedule_diagnostics",
    "schedule_execution_id",
    "schedule_trigger",
    "schedule_triggers",
    "scheduled_start",
    "scheduler_crons",
    "set_last_fired",
    "slot_context",
    "starts_of",
    "trigger_context",
    "utc_iso",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
