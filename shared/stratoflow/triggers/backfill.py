"""Planning the executions a schedule starts: one per slot, each with a deterministic execution id.

The same planning serves a backfill on the laptop (`strato backfill`), a backfill in the cloud (which
hands each start to admission) and the recovery of missed schedules. Starting a planned slot twice
starts one execution: admission dedupes on the execution id, which depends only on the flow, the
trigger and the slot's instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from pydantic import JsonValue

from stratoflow.errors import StratoflowError
from stratoflow.execution.admission import FlowDisabledError
from stratoflow.execution.deliveries import render_trigger_inputs
from stratoflow.flow.model import Flow
from stratoflow.flow.triggers import Schedule
from stratoflow.triggers.schedules import CronSchedule, schedule_execution_id, slot_context

# A backfill larger than this is almost always a mistyped range or cron (`* * * * *` over a year).
MAX_BACKFILL_SLOTS = 10_000


class ScheduleError(StratoflowError):
    """A schedule cannot be used as asked: no such trigger, not a schedule, or too many slots."""


class TriggerDisabledError(ScheduleError):
    """The trigger is disabled: it starts nothing."""


class AdmissionKwargs(TypedDict):
    """The keyword arguments of `stratoflow.execution.admission.admit` a trigger's start gives."""

    inputs: dict[str, JsonValue]
    labels: dict[str, str]
    trigger: dict[str, JsonValue]
    execution_id: str


@dataclass(frozen=True, kw_only=True)
class TriggerStart:
    """One execution a trigger starts: its execution id and what admission needs."""

    execution_id: str
    trigger: dict[str, Any]  # the execution's `trigger.*`
    inputs: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def admission_kwargs(self) -> AdmissionKwargs:
        """Keyword arguments of `stratoflow.execution.admission.admit` (after store, flow, revision)."""
        return {
            "inputs": dict(self.inputs),
            "labels": dict(self.labels),
            "trigger": self.trigger,
            "execution_id": self.execution_id,
        }


@dataclass(frozen=True, kw_only=True)
class ScheduledStart(TriggerStart):
    """One execution a schedule starts: also the slot's instant."""

    instant: datetime  # UTC


def schedule_triggers(flow: Flow) -> list[Schedule]:
    return [trigger for trigger in flow.triggers if isinstance(trigger, Schedule)]


def schedule_trigger(flow: Flow, trigger_id: str | None = None) -> Schedule:
    """The flow's Schedule trigger `trigger_id`, or its only one when no id is given."""
    schedules = schedule_triggers(flow)
    name = f"{flow.namespace}.{flow.id}"
    if trigger_id is None:
        if len(schedules) == 1:
            return schedules[0]
        if not schedules:
            raise ScheduleError(f"flow {name} has no Schedule trigger")
        ids = ", ".join(s.id for s in schedules)
        raise ScheduleError(f"flow {name} has several Schedule triggers ({ids}): choose one with --trigger")
    trigger = flow.trigger(trigger_id)
    if trigger is None:
        known = ", ".join(s.id for s in schedules) or "none"
        raise ScheduleError(f"flow {name} has no trigger '{trigger_id}' (its Schedule triggers: {known})")
    if not isinstance(trigger, Schedule):
        raise ScheduleError(
            f"trigger '{trigger_id}' of flow {name} is a {trigger.type} trigger, not a Schedule"
        )
    return trigger


def ensure_enabled(flow: Flow, trigger: Schedule) -> None:
    """Refuse a disabled flow or trigger with a message saying which and why nothing starts."""
    if flow.disabled:
        raise FlowDisabledError(f"flow {flow.namespace}.{flow.id} is disabled: its schedules start nothing")
    if trigger.disabled:
        raise TriggerDisabledError(
            f"trigger '{trigger.id}' of flow {flow.namespace}.{flow.id} is disabled: it starts nothing"
        )


def scheduled_start(
    flow: Flow, trigger: Schedule, instant: datetime, schedule: CronSchedule | None = None
) -> ScheduledStart:
    """The start of `trigger`'s slot at `instant` (which should be one of its fire times)."""
    return starts_of(flow, trigger, [instant], schedule)[0]


def plan_backfill(
    flow: Flow, trigger_id: str | None, start: datetime, end: datetime, *, limit: int = MAX_BACKFILL_SLOTS
) -> list[ScheduledStart]:
    """One start per slot of the trigger in [start, end), oldest first.

    Raises FlowDisabledError / TriggerDisabledError for a disabled flow or trigger, and ScheduleError
    for an unknown trigger, an empty or reversed range, or more than `limit` slots.
    """
    trigger = schedule_trigger(flow, trigger_id)
    ensure_enabled(flow, trigger)
    if end <= start:
        raise ScheduleError(
            f"the backfill range is empty: its end ({end.isoformat()}) must be after its start ({start.isoformat()})"
        )
    schedule = CronSchedule.of(trigger)
    instants: list[datetime] = []
    for instant in schedule.fire_times(start, end):
        if len(instants) == limit:
            raise ScheduleError(
                f"more than {limit} slots of '{trigger.cron}' between {start.isoformat()} and "
                f"{end.isoformat()}: narrow the range"
            )
        instants.append(instant)
    return starts_of(flow, trigger, instants, schedule)


def starts_of(
    flow: Flow, trigger: Schedule, instants: list[datetime], schedule: CronSchedule | None = None
) -> list[ScheduledStart]:
    """The starts of consecutive slots: neighbours give each other's `trigger.next`/`previous`."""
    schedule = schedule or CronSchedule.of(trigger)
    if not instants:
        return []
    before = schedule.previous_fire(instants[0])
    after = schedule.next_fire(instants[-1])
    neighbours = [before, *instants, after]
    starts = []
    for i, instant in enumerate(instants):
        context = slot_context(trigger.id, schedule, instant, neighbours[i + 2], neighbours[i])
        starts.append(
            ScheduledStart(
                instant=instant,
                execution_id=schedule_execution_id(flow.namespace, flow.id, trigger.id, instant),
                trigger=context,
                # A schedule's inputs may use `trigger.date` & co., as every trigger's may.
                inputs=render_trigger_inputs(flow, trigger, context),
                labels=dict(trigger.labels),
            )
        )
    return starts
