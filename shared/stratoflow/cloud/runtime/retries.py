"""Flow-level retries in the cloud: carry out what `flow_retry.plan_retry` decided.

The execution-events function learns that an execution ended FAILED and that its flow retries it.
Without an interval the retry starts at once (a new execution, or a restart of the same one under a
new Step Functions name, see cloud.runtime.runs). With one, a one-time EventBridge Scheduler schedule
`at(...)` in the stack's schedule group invokes admission when it is due, with
`{namespace, flowId, executionId, retry, restarts}`; admission then starts the recorded execution
(`Starter.start`). Scheduler rather than a Wait state or a sleeping Lambda: it costs nothing while
it waits, survives a redeploy, and its deliveries are retried (a duplicate starts nothing twice: the
execution id names the Step Functions execution). The schedule deletes itself after it fired.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.runtime.starter import Starter
from stratoflow.execution.flow_retry import FlowRetry

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

log = logging.getLogger("stratoflow.retries")

SCHEDULE_PREFIX = "retry-"
MAX_NAME = 64
# Below this the retry starts at once: a schedule would not fire any sooner.
MIN_SCHEDULED = timedelta(seconds=1)


def retry_schedule_name(retry: FlowRetry) -> str:
    """`retry-<execution id>-<attempt>`, hashed when too long for Scheduler's 64 characters."""
    name = f"{SCHEDULE_PREFIX}{retry.execution.id}-{retry.attempt}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{SCHEDULE_PREFIX}{digest}-{retry.attempt}"


def retry_request(retry: FlowRetry) -> dict[str, Any]:
    """The admission event that starts the retry when it is due."""
    execution = retry.execution
    return {
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "executionId": execution.id,
        "retry": retry.behavior,
        "restarts": execution.restarts,
    }


def retry_schedule_spec(retry: FlowRetry, settings: Settings, now: datetime) -> dict[str, Any]:
    """The `CreateSchedule` parameters of a retry due at `now + retry.delay`."""
    due = (now + retry.delay).astimezone(UTC)
    target: dict[str, Any] = {
        "Arn": settings.stratoflow_admission_arn,
        "RoleArn": settings.stratoflow_scheduler_role_arn,
        "Input": json.dumps(retry_request(retry)),
        "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 24 * 3600},
    }
    if settings.stratoflow_dlq_arn:
        target["DeadLetterConfig"] = {"Arn": settings.stratoflow_dlq_arn}
    execution = retry.execution
    return {
        "Name": retry_schedule_name(retry),
        "GroupName": settings.stratoflow_schedule_group,
        "Description": f"Stratoflow retry of {execution.namespace}.{execution.flow_id} execution "
        f"{execution.id} (attempt {retry.attempt})",
        # `at()` takes whole seconds; rounding up never starts the retry early.
        "ScheduleExpression": f"at({(due + timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%S')})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": target,
    }


class CloudRetries:
    """Starts due retries through the Starter, schedules the others on EventBridge Scheduler."""

    def __init__(
        self,
        starter: Starter,
        scheduler: EventBridgeSchedulerClient | None = None,
        settings: Settings | None = None,
    ):
        self.starter = starter
        self.scheduler = scheduler
        self.settings = settings

    @property
    def can_schedule(self) -> bool:
        s = self.settings
        if s is None or self.scheduler is None:
            return False
        return bool(
            s.stratoflow_admission_arn and s.stratoflow_scheduler_role_arn and s.stratoflow_schedule_group
        )

    def carry_out(self, retry: FlowRetry, now: datetime | None = None) -> str:
        """Start or schedule the retry; returns what was done ("started", "scheduled", "nothing")."""
        if retry.delay >= MIN_SCHEDULED:
            if self.can_schedule:
                return self.schedule(retry, now or datetime.now(UTC))
            log.warning(
                "no schedule group, scheduler role or admission ARN in the settings: the retry of %s "
                "starts now, without its %s interval",
                retry.execution.id,
                retry.delay,
            )
        return "started" if self.starter.start_retry(retry) is not None else "nothing"

    def schedule(self, retry: FlowRetry, now: datetime) -> str:
        assert self.settings is not None and self.scheduler is not None  # can_schedule checked them
        spec = retry_schedule_spec(retry, self.settings, now)
        try:
            self.scheduler.create_schedule(**spec)
        except Exception as error:
            if error_code(error) != "ConflictException":
                raise
            # Scheduled by an earlier delivery of the same status event.
        log.info("retry of %s scheduled: %s", retry.execution.id, spec["ScheduleExpression"])
        return "scheduled"
