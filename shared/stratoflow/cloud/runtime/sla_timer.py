"""The cloud's timer for MAX_DURATION SLAs with behavior NONE: a schedule that lives as long as the run.

FAIL and CANCEL durations are the state machine's TimeoutSeconds (nothing to keep). A NONE duration
must let the execution go on, so when Step Functions reports an execution RUNNING, the execution-events
function creates a one-time EventBridge Scheduler schedule `at(start + duration)` per such SLA, in the
stack's schedule group, that invokes admission with `{"sla": {"executionId", "slaId"}}`; the end of the
execution deletes them. One that fires while the execution still runs records the miss
(`stratoflow.execution.sla.record_misses`: labels, a WARN line, once) and publishes SlaMissed. No polling, no
cost while it waits; a duplicate delivery records nothing twice. The end also checks the run time, so
a miss is recorded even when a schedule could not be created.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.settings import Settings
from stratoflow.domain import Execution
from stratoflow.execution.flows import flow_of
from stratoflow.execution.sla import SlaMiss, record_misses
from stratoflow.flow.fields import format_iso_duration
from stratoflow.flow.sla import MaxDuration, timer_slas
from stratoflow.store.base import ExecutionStore

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

log = logging.getLogger("stratoflow.execution.sla")

SCHEDULE_PREFIX = "sla-"
REQUEST_KEY = "sla"


def sla_schedule_name(execution_id: str, sla_id: str) -> str:
    """`sla-<hash of execution and SLA>`: within Scheduler's 64 characters whatever the ids."""
    digest = hashlib.sha256(f"{execution_id}/{sla_id}".encode()).hexdigest()[:40]
    return f"{SCHEDULE_PREFIX}{digest}"


def sla_schedule_spec(
    execution: Execution, sla: MaxDuration, settings: Settings, started: datetime
) -> dict[str, Any]:
    """The `CreateSchedule` parameters of the timer of `sla` for an execution that started at `started`."""
    due = (started + sla.duration).astimezone(UTC)
    target: dict[str, Any] = {
        "Arn": settings.stratoflow_admission_arn,
        "RoleArn": settings.stratoflow_scheduler_role_arn,
        "Input": json.dumps({REQUEST_KEY: {"executionId": execution.id, "slaId": sla.id}}),
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 24 * 3600},
    }
    if settings.stratoflow_dlq_arn:
        target["DeadLetterConfig"] = {"Arn": settings.stratoflow_dlq_arn}
    return {
        "Name": sla_schedule_name(execution.id, sla.id),
        "GroupName": settings.stratoflow_schedule_group,
        "Description": f"Stratoflow SLA '{sla.id}' of {execution.namespace}.{execution.flow_id} "
        f"execution {execution.id}",
        # `at()` takes whole seconds; rounding up never reports a miss early.
        "ScheduleExpression": f"at({(due + timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%S')})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": target,
    }


class SlaTimers:
    """Arms the timers of a running execution, disarms them at its end, and applies one that fired."""

    def __init__(self, store: ExecutionStore, scheduler: EventBridgeSchedulerClient, settings: Settings):
        self.store, self.scheduler, self.settings = store, scheduler, settings

    @property
    def can_schedule(self) -> bool:
        s = self.settings
        return bool(
            self.scheduler is not None
            and s.stratoflow_admission_arn
            and s.stratoflow_scheduler_role_arn
            and s.stratoflow_schedule_group
        )

    def _timer_slas(self, execution: Execution) -> list[MaxDuration]:
        if execution.has_sla is False:  # spares the read of the flow
            return []
        record = self.store.get_flow(execution.namespace, execution.flow_id, execution.revision)
        return timer_slas(flow_of(record).sla) if record is not None else []

    def arm(self, execution: Execution, started: datetime) -> list[str]:
        """Create the timers of the execution's NONE durations; returns their schedule names."""
        slas = self._timer_slas(execution)
        if not slas:
            return []
        if not self.can_schedule:
            log.warning(
                "no schedule group, scheduler role or admission ARN: SLA timers of %s not armed "
                "(its end still checks them)",
                execution.id,
            )
            return []
        names = []
        for sla in slas:
            spec = sla_schedule_spec(execution, sla, self.settings, started)
            try:
                self.scheduler.create_schedule(**spec)
            except Exception as error:
                if error_code(error) != "ConflictException":  # armed by an earlier delivery
                    raise
            names.append(spec["Name"])
        return names

    def disarm(self, execution: Execution) -> list[str]:
        """Delete the timers of an execution that ended; returns the names it deleted."""
        if not self.can_schedule:
            return []
        deleted = []
        for sla in self._timer_slas(execution):
            name = sla_schedule_name(execution.id, sla.id)
            try:
                self.scheduler.delete_schedule(Name=name, GroupName=self.settings.stratoflow_schedule_group)
            except Exception as error:
                if error_code(error) != "ResourceNotFoundException":  # fired (and deleted itself) already
                    raise
                continue
            deleted.append(name)
        return deleted

    def fire(self, execution_id: str, sla_id: str) -> tuple[Execution | None, SlaMiss | None]:
        """A timer fired: record the miss if the execution still runs (and was not recorded yet)."""
        execution: Execution | None = self.store.get_execution(execution_id)
        if execution is None or execution.state.is_terminal:
            return execution, None
        record = self.store.get_flow(execution.namespace, execution.flow_id, execution.revision)
        sla = next((s for s in flow_of(record).sla if s.id == sla_id), None) if record else None
        if not isinstance(sla, MaxDuration):
            return execution, None
        miss = SlaMiss(sla, f"the execution still ran after {_iso(sla.duration)}")
        recorded = record_misses(self.store, execution, [miss])
        return execution, (recorded[0] if recorded else None)


def _iso(duration: timedelta) -> str:
    return format_iso_duration(duration)
