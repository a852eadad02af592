"""The steps of a deployment: each one creates (and on retirement deletes) one kind of AWS resource.

The deployer runs its steps in order to deploy a revision and in reverse to retire a flow. A step is
idempotent: an event delivered twice, or a deployment retried after a failure, converges on the same
resources. Triggers (schedules, rules) are another step, added by `Deployer(steps=[...])`.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from stratoflow.cloud.naming import alarm_name, version_number
from stratoflow.cloud.settings import Settings

log = logging.getLogger("stratoflow.deployer")

# Step Functions keeps at most 1000 versions per state machine; the deployer keeps the newest ones.
KEEP_VERSIONS = 100
ALARM_METRICS = ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "ExecutionThrottled")
ALARM_PERIOD_SECONDS = 300


@dataclass(frozen=True)
class FlowTarget:
    """One flow and the names of what is deployed for it."""

    namespace: str
    flow_id: str
    state_machine_name: str
    state_machine_arn: str

    def tags(self) -> dict[str, str]:
        return {"stratoflow:namespace": self.namespace, "stratoflow:flow": self.flow_id}


@dataclass
class Deployment:
    """A revision being deployed: what the steps read, and what they report back."""

    target: FlowTarget
    flow: Any  # stratoflow.flow.Flow, with its revision set
    previous: Any | None  # the live Flow before this deployment (a step removes what it no longer needs)
    revision: int
    definition: dict[str, Any]  # placeholders substituted
    version_arn: str | None = None  # set by StateMachineStep
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Retirement:
    """A flow being retired (its file was deleted, or the file now holds another flow)."""

    target: FlowTarget
    previous: Any | None  # the last live Flow, when it can still be read


class DeployStep(Protocol):
    name: str

    def deploy(self, deployment: Deployment) -> None: ...

    def retire(self, retirement: Retirement) -> None: ...


class StateMachineStep:
    """Creates or updates the flow's state machine and publishes one version per revision."""

    name = "state machine"

    def __init__(self, client: Any, settings: Settings, keep_versions: int = KEEP_VERSIONS):
        self.client = client
        self.settings = settings
        self.keep_versions = keep_versions

    def deploy(self, deployment: Deployment) -> None:
        target = deployment.target
        tags = {**target.tags(), "stratoflow:revision": str(deployment.revision)}
        common: dict[str, Any] = {
            "definition": json.dumps(deployment.definition),
            "roleArn": self.settings.stratoflow_state_machine_role_arn,
            "loggingConfiguration": self._logging(),
            "tracingConfiguration": {"enabled": True},
            "publish": True,
            "versionDescription": f"revision {deployment.revision}",
        }
        tag_list = [{"key": k, "value": v} for k, v in tags.items()]
        response = None
        if not self._exists(target.state_machine_arn):
            # A concurrent deployment may create it first: then update it below.
            with contextlib.suppress(self.client.exceptions.StateMachineAlreadyExists):
                response = self.client.create_state_machine(
                    name=target.state_machine_name, type="STANDARD", tags=tag_list, **common
                )
        if response is None:
            response = self.client.update_state_machine(stateMachineArn=target.state_machine_arn, **common)
            self.client.tag_resource(resourceArn=target.state_machine_arn, tags=tag_list)
        deployment.version_arn = str(response["stateMachineVersionArn"])
        self._prune(target.state_machine_arn, deployment.version_arn)

    def retire(self, retirement: Retirement) -> None:
        with contextlib.suppress(self.client.exceptions.StateMachineDoesNotExist):  # a duplicate event
            self.client.delete_state_machine(stateMachineArn=retirement.target.state_machine_arn)

    def _exists(self, arn: str) -> bool:
        try:
            self.client.describe_state_machine(stateMachineArn=arn)
        except self.client.exceptions.StateMachineDoesNotExist:
            return False
        return True

    def _logging(self) -> dict[str, Any]:
        log_group = self.settings.stratoflow_state_machine_log_group_arn
        if not log_group:
            return {"level": "OFF"}
        # ERROR only: failures are what an operator looks for, and ALL bills every state transition.
        return {
            "level": "ERROR",
            "includeExecutionData": False,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group}}],
        }

    def _prune(self, state_machine_arn: str, version_arn: str) -> None:
        """Delete the version `keep_versions` behind the new one: versions are numbered 1, 2, 3..."""
        old = version_number(version_arn) - self.keep_versions
        if old < 1:
            return
        try:
            self.client.delete_state_machine_version(stateMachineVersionArn=f"{state_machine_arn}:{old}")
        except Exception as error:  # a version left behind costs nothing: never fail a deployment for it
            log.warning("could not delete state machine version %s:%s: %s", state_machine_arn, old, error)


class AlarmsStep:
    """One CloudWatch alarm per AWS/States failure metric of the flow, notifying the alerts topic."""

    name = "alarms"

    def __init__(self, client: Any, settings: Settings):
        self.client = client
        self.settings = settings

    def names(self, target: FlowTarget) -> list[str]:
        stack = self.settings.stratoflow_stack_name
        return [alarm_name(stack, target.namespace, target.flow_id, metric) for metric in ALARM_METRICS]

    def deploy(self, deployment: Deployment) -> None:
        target = deployment.target
        actions = (
            [self.settings.stratoflow_alert_topic_arn] if self.settings.stratoflow_alert_topic_arn else []
        )
        for metric, name in zip(ALARM_METRICS, self.names(target), strict=True):
            self.client.put_metric_alarm(
                AlarmName=name,
                AlarmDescription=(
                    f"Stratoflow flow {target.namespace}.{target.flow_id}: {metric} at least once "
                    f"in {ALARM_PERIOD_SECONDS // 60} minutes"
                ),
                Namespace="AWS/States",
                MetricName=metric,
                Dimensions=[{"Name": "StateMachineArn", "Value": target.state_machine_arn}],
                Statistic="Sum",
                Period=ALARM_PERIOD_SECONDS,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="notBreaching",
                AlarmActions=actions,
                Tags=[{"Key": k, "Value": v} for k, v in target.tags().items()],
            )

    def retire(self, retirement: Retirement) -> None:
        # DeleteAlarms ignores names that do not exist.
        self.client.delete_alarms(AlarmNames=self.names(retirement.target))


def default_steps(clients: Any, settings: Settings) -> list[DeployStep]:
    """The state machine first (the other steps point at it), then its alarms."""
    return [StateMachineStep(clients.stepfunctions, settings), AlarmsStep(clients.cloudwatch, settings)]


__all__ = [
    "ALARM_METRICS",
    "AlarmsStep",
    "DeployStep",
    "Deployment",
    "FlowTarget",
    "Retirement",
    "StateMachineStep",
    "default_steps",
]
