"""What admission does with a delivery of a Stratoflow schedule: the scheduled instant becomes
`trigger.*` and a deterministic execution id (see cloud.deploy.schedules for the schedules themselves).

Kept apart from the deployer's schedule code so that admission imports only this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stratoflow.triggers.schedules import CronSchedule, parse_instant, schedule_execution_id, trigger_context

# Scheduler replaces this placeholder in a schedule's Input with the slot's instant.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


class _ScheduledTrigger(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["schedule"]
    id: str
    date: str
    cron: str
    timezone: str = "UTC"


class ScheduledEvent(BaseModel):
    """The Input of a Stratoflow schedule, as admission receives it (the scheduled time filled in)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    namespace: str
    flow_id: str = Field(alias="flowId")
    trigger: _ScheduledTrigger
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


def is_scheduled_event(event: Mapping[str, Any]) -> bool:
    """True for the Input of a Stratoflow schedule (what `admission_trigger_context` reads)."""
    trigger = event.get("trigger")
    return isinstance(trigger, Mapping) and trigger.get("type") == "schedule" and "cron" in trigger


def admission_trigger_context(event: Mapping[str, Any]) -> dict[str, Any]:
    """A schedule's delivery as an admission request: `trigger.*` and a deterministic execution id.

    Returns `{namespace, flowId, inputs, labels, trigger: {type, id, date, next, previous, timezone},
    executionId}`; the execution id depends only on (namespace, flow, trigger id, scheduled instant),
    so a delivery Scheduler repeats, or the two schedules of a split cron firing at one instant,
    start one execution. Raises ValueError when the event is not a schedule's delivery.
    """
    scheduled = ScheduledEvent.model_validate(event)
    trigger = scheduled.trigger
    if trigger.date == SCHEDULED_TIME:
        raise ValueError(
            "the scheduled time was not filled in: this event did not come from EventBridge Scheduler"
        )
    try:
        instant = parse_instant(trigger.date)
    except ValueError:
        raise ValueError(f"trigger.date {trigger.date!r} is not an ISO 8601 date-time") from None
    schedule = CronSchedule(trigger.cron, trigger.timezone)
    return {
        "namespace": scheduled.namespace,
        "flowId": scheduled.flow_id,
        "inputs": scheduled.inputs,
        "labels": scheduled.labels,
        "trigger": trigger_context(trigger.id, schedule, instant),
        "executionId": schedule_execution_id(scheduled.namespace, scheduled.flow_id, trigger.id, instant),
    }
