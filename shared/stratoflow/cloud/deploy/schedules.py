"""Schedule triggers on AWS: one EventBridge Scheduler schedule per trigger (more when its cron needs
several Scheduler expressions), all in the stack's schedule group, each invoking admission.

Names are `<flowId>-<hash>-<triggerId>`: the hash (of namespace and flow id) keeps flows of different
namespaces apart in the one group, and `<flowId>-<hash>-` is the prefix that lists a flow's schedules.
A cron that needs several expressions adds `.2`, `.3`, ... (trigger ids never hold a dot). Parts are
shortened, with a hash of the whole, to fit Scheduler's 64 characters.

Each schedule's Input carries `<aws.scheduler.scheduled-time>`, which Scheduler replaces with the
slot's instant: admission derives `trigger.date` and the execution id from it, so a delivery retried
by Scheduler starts the execution once. boto3 clients are injected; nothing here creates one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import Deployment, Retirement
from stratoflow.cloud.runtime.scheduled_events import SCHEDULED_TIME
from stratoflow.cloud.runtime.starter import REFUSED, Starter, StartRequest
from stratoflow.errors import StratoflowError
from stratoflow.flow.model import Flow
from stratoflow.flow.triggers import Schedule
from stratoflow.store.base import ExecutionStore
from stratoflow.triggers.cron import MAX_EXPRESSIONS, CronTranslationError, scheduler_crons
from stratoflow.triggers.recovery import get_last_fired, missed_starts

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_stepfunctions import SFNClient

MAX_NAME = 64
FLOW_PART = 24
# Scheduler's most patient retry policy: a slot is delivered even after a day-long admission outage.
RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 24 * 3600}
_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")
_COMPARED_TOP = (
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "State",
    "Description",
    "FlexibleTimeWindow",
)
_COMPARED_TARGET = ("Arn", "RoleArn", "RetryPolicy", "DeadLetterConfig")


class ScheduleSettingsError(StratoflowError):
    """The settings lack what a schedule needs (the stack did not set a variable)."""


@dataclass
class ScheduleSync:
    """What `sync_schedules` / `delete_schedules` changed, by schedule name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


# --- names ------------------------------------------------------------------------------------------


def _digest(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:length]


def schedule_prefix(namespace: str, flow_id: str) -> str:
    """What the names of every schedule of one flow start with."""
    readable = _UNSAFE.sub("_", flow_id)[:FLOW_PART]
    return f"{readable}-{_digest(namespace, flow_id)}-"


def schedule_name(namespace: str, flow_id: str, trigger_id: str, part: int = 1) -> str:
    """The name of the `part`-th Scheduler schedule of a trigger (1 for the first), within 64 characters."""
    prefix = schedule_prefix(namespace, flow_id)
    suffix = "" if part == 1 else f".{part}"
    room = MAX_NAME - len(prefix) - len(f".{MAX_EXPRESSIONS}")
    readable = _UNSAFE.sub("_", trigger_id)
    if len(readable) > room:
        readable = f"{readable[: room - 9]}_{_digest(trigger_id)}"
    return f"{prefix}{readable}{suffix}"


def schedule_names(flow: Flow) -> list[str]:
    """The names of the flow's schedules (those its crons can be translated for)."""
    names: list[str] = []
    for trigger in _schedules(flow):
        try:
            count = len(scheduler_crons(trigger.cron))
        except CronTranslationError:
            continue
        names.extend(schedule_name(flow.namespace, flow.id, trigger.id, part) for part in range(1, count + 1))
    return names


# --- what the schedules are -------------------------------------------------------------------------


def schedule_specs(flow: Flow, settings: Settings) -> list[dict[str, Any]]:
    """The `CreateSchedule` parameters of every schedule the flow needs.

    Raises ScheduleSettingsError when the settings miss the group, role or admission ARN, and
    CronTranslationError (naming the trigger) for a cron Scheduler cannot express.
    """
    triggers = _schedules(flow)
    if not triggers:
        return []
    _check_settings(settings)
    specs: list[dict[str, Any]] = []
    for trigger in triggers:
        try:
            expressions = scheduler_crons(trigger.cron)
        except CronTranslationError as error:
            raise CronTranslationError(
                f"flow {flow.namespace}.{flow.id}, trigger '{trigger.id}': {error}"
            ) from None
        for part, expression in enumerate(expressions, start=1):
            specs.append(_spec(flow, trigger, settings, expression, part))
    return specs


def _spec(flow: Flow, trigger: Schedule, settings: Settings, expression: str, part: int) -> dict[str, Any]:
    target: dict[str, Any] = {
        "Arn": settings.stratoflow_admission_arn,
        "RoleArn": settings.stratoflow_scheduler_role_arn,
        "Input": scheduled_input(flow, trigger),
        "RetryPolicy": dict(RETRY_POLICY),
    }
    if settings.stratoflow_dlq_arn:
        target["DeadLetterConfig"] = {"Arn": settings.stratoflow_dlq_arn}
    description = (
        f"Stratoflow {flow.namespace}.{flow.id} trigger {trigger.id}: {trigger.cron} ({trigger.timezone})"
    )
    return {
        "Name": schedule_name(flow.namespace, flow.id, trigger.id, part),
        "GroupName": settings.stratoflow_schedule_group,
        "Description": description[:512],
        "ScheduleExpression": expression,
        "ScheduleExpressionTimezone": trigger.timezone,
        "State": "DISABLED" if flow.disabled or trigger.disabled else "ENABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": target,
    }


def scheduled_input(flow: Flow, trigger: Schedule) -> str:
    """The admission event a schedule sends; Scheduler fills in the scheduled time."""
    document = {
        "namespace": flow.namespace,
        "flowId": flow.id,
        "trigger": {
            "type": "schedule",
            "id": trigger.id,
            "date": SCHEDULED_TIME,
            "cron": trigger.cron,
            "timezone": trigger.timezone,
        },
        "inputs": trigger.inputs,
        "labels": trigger.labels,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)


def _schedules(flow: Flow) -> list[Schedule]:
    return [trigger for trigger in flow.triggers if isinstance(trigger, Schedule)]


def _check_settings(settings: Settings) -> None:
    missing = [
        name.upper()
        for name in ("stratoflow_schedule_group", "stratoflow_scheduler_role_arn", "stratoflow_admission_arn")
        if not getattr(settings, name)
    ]
    if missing:
        raise ScheduleSettingsError(
            f"schedules need {', '.join(missing)}: the stack sets them on the deployer"
        )


# --- keeping the group in line with the flow ---------------------------------------------------------


def sync_schedules(
    flow: Flow, previous: Flow | None, settings: Settings, scheduler: EventBridgeSchedulerClient
) -> ScheduleSync:
    """Create, update and delete so that the group holds exactly the flow's schedules.

    `previous` (the revision being replaced) names schedules to delete even before a listing shows
    them; the listing by name prefix catches the rest (a lost deploy, a renamed trigger).
    """
    specs = {spec["Name"]: spec for spec in schedule_specs(flow, settings)}
    group = settings.stratoflow_schedule_group
    if not group:  # no group: the flow has no schedule (else schedule_specs refused), and none can exist
        return ScheduleSync()
    listed = set(_list_names(scheduler, group, schedule_prefix(flow.namespace, flow.id)))
    result = ScheduleSync()
    for name, spec in specs.items():
        _put(scheduler, spec, exists=name in listed, result=result)
    same_flow = previous is not None and (previous.namespace, previous.id) == (flow.namespace, flow.id)
    known = set(schedule_names(previous)) if previous is not None and same_flow else set()
    for name in sorted((listed | known) - set(specs)):
        # A listed name only shares the prefix: check the schedule really is this flow's before deleting.
        if (name in known or _belongs(scheduler, group, name, flow.namespace, flow.id)) and _delete(
            scheduler, group, name
        ):
            result.deleted.append(name)
    return result


def delete_schedules(
    namespace: str, flow_id: str, settings: Settings, scheduler: EventBridgeSchedulerClient
) -> ScheduleSync:
    """Delete every schedule of a flow (the flow was deleted)."""
    group = settings.stratoflow_schedule_group
    result = ScheduleSync()
    if not group:
        return result
    for name in sorted(_list_names(scheduler, group, schedule_prefix(namespace, flow_id))):
        if _belongs(scheduler, group, name, namespace, flow_id) and _delete(scheduler, group, name):
            result.deleted.append(name)
    return result


def _put(
    scheduler: EventBridgeSchedulerClient, spec: dict[str, Any], *, exists: bool, result: ScheduleSync
) -> None:
    name = spec["Name"]
    if exists:
        try:
            current = scheduler.get_schedule(Name=name, GroupName=spec["GroupName"])
        except Exception as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
        else:
            if _same(current, spec):
                result.unchanged.append(name)
                return
            scheduler.update_schedule(**spec)
            result.updated.append(name)
            return
    try:
        scheduler.create_schedule(**spec)
        result.created.append(name)
    except Exception as error:
        if error_code(error) != "ConflictException":  # created meanwhile (a concurrent deploy)
            raise
        scheduler.update_schedule(**spec)
        result.updated.append(name)


def _same(current: Mapping[str, Any], spec: Mapping[str, Any]) -> bool:
    if any(current.get(key) != spec.get(key) for key in _COMPARED_TOP):
        return False
    target, wanted = current.get("Target", {}), spec["Target"]
    if any(target.get(key) != wanted.get(key) for key in _COMPARED_TARGET):
        return False
    return bool(_json(target.get("Input")) == _json(wanted.get("Input")))


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _list_names(scheduler: EventBridgeSchedulerClient, group: str, prefix: str) -> Iterable[str]:
    pages = scheduler.get_paginator("list_schedules").paginate(GroupName=group, NamePrefix=prefix)
    for page in pages:
        for item in page.get("Schedules", []):
            # Filter again: a listing filter is not something to bet a deletion on.
            if item.get("GroupName", group) == group and item["Name"].startswith(prefix):
                yield item["Name"]


def _belongs(
    scheduler: EventBridgeSchedulerClient, group: str, name: str, namespace: str, flow_id: str
) -> bool:
    try:
        current = scheduler.get_schedule(Name=name, GroupName=group)
    except Exception as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    document = _json(current.get("Target", {}).get("Input"))
    return isinstance(document, dict) and (document.get("namespace"), document.get("flowId")) == (
        namespace,
        flow_id,
    )


def _delete(scheduler: EventBridgeSchedulerClient, group: str, name: str) -> bool:
    try:
        scheduler.delete_schedule(Name=name, GroupName=group)
    except Exception as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class SchedulesStep:
    """The deployer step of Schedule triggers: one EventBridge Scheduler schedule per trigger.

    Given the store and a Step Functions client, it also starts (through admission's Starter) the slots each enabled schedule
    missed while nothing fired it (the flow or trigger was disabled), per `recoverMissedSchedules`.
    """

    name = "schedules"

    def __init__(
        self,
        scheduler_client: EventBridgeSchedulerClient,
        settings: Settings,
        store: ExecutionStore | None = None,
        stepfunctions: SFNClient | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = scheduler_client
        self.settings = settings
        self.starter = (
            Starter(store, stepfunctions) if store is not None and stepfunctions is not None else None
        )
        self.clock = clock or (lambda: datetime.now(UTC))

    def deploy(self, deployment: Deployment) -> None:
        changes = sync_schedules(deployment.flow, deployment.previous, self.settings, self.client)
        if changes.created or changes.updated or changes.deleted:
            deployment.notes.append(
                f"schedules: {len(changes.created)} created, {len(changes.updated)} updated, "
                f"{len(changes.deleted)} deleted"
            )
        if self.starter is not None:
            self._recover(self.starter, deployment)

    def _recover(self, starter: Starter, deployment: Deployment) -> None:
        """Start the missed slots of each schedule that fired before (a first deploy recovers nothing)."""
        flow: Flow = deployment.flow
        if flow.disabled or deployment.version_arn is None:
            return
        now = self.clock()
        for trigger in _schedules(flow):
            if trigger.disabled:
                continue
            last_fired = get_last_fired(starter.store, flow.namespace, flow.id, trigger.id)
            starts = missed_starts(flow, trigger, last_fired, now)
            if not starts:
                continue
            # The revision is not live yet: start on it (and its version), not on the one it replaces.
            responses = [
                starter.start_revision(
                    StartRequest.of_slot(flow.namespace, flow.id, start),
                    flow,
                    deployment.revision,
                    deployment.version_arn,
                )
                for start in starts
            ]
            refused = [r.error for r in responses if r.state == REFUSED]
            started = sum(1 for r in responses if r.state != REFUSED and r.new)
            note = (
                f"schedules: trigger {trigger.id} missed {len(starts)} slot(s) "
                f"(recoverMissedSchedules {trigger.recover_missed_schedules}): {started} started"
            )
            if refused:
                note += f", {len(refused)} refused ({refused[0]})"
            deployment.notes.append(note)

    def retire(self, retirement: Retirement) -> None:
        target = retirement.target
        delete_schedules(target.namespace, target.flow_id, self.settings, self.client)
