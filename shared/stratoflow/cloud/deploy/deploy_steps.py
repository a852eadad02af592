"""The steps of a deployment: each one creates (and on retirement deletes) one kind of AWS resource.

The deployer runs its steps in order to deploy a revision and in reverse to retire a flow. A step is
idempotent: an event delivered twice, or a deployment retried after a failure, converges on the same
resources. Triggers (schedules, rules) are another step, added by `Deployer(steps=[...])`.

A flow whose tasks need IAM permissions runs with its own role (`flow_roles`), made before the state
machine and deleted after it; the others share the stack's state machine role.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import version_number
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.alarms import AlarmsStep
from stratoflow.cloud.deploy.deployment import Deployment, DeployStep, Retirement
from stratoflow.cloud.deploy.flow_roles import FlowRoles, FlowRoleStep, UnusedFlowRoleStep
from stratoflow.cloud.deploy.sandboxes import Sandboxes, SandboxStep
from stratoflow.compiler import definition_text
from stratoflow.placeholders import part_placeholder

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.type_defs import TagTypeDef

    from stratoflow.cloud.config.clients import AwsClients

log = logging.getLogger("stratoflow.deployer")

# Step Functions keeps at most 1000 versions per state machine; the deployer keeps the newest ones.
KEEP_VERSIONS = 100
# A role IAM has just created or changed reaches Step Functions within seconds; until then it refuses
# the role. Waits between attempts, about half a minute in all (the deployer has 5 minutes).
ROLE_PROPAGATION_DELAYS = (1.0, 2.0, 4.0, 8.0, 8.0, 8.0)
# DeleteStateMachine is asynchronous: the machine stays DELETING while its executions stop, and
# refuses updates meanwhile. A re-upload waits up to about two minutes for it, then fails; Lambda
# delivers the event again later.
DELETE_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0, 15.0, 15.0, 15.0, 15.0)


class StateMachineStillDeleting(RuntimeError):
    """The flow's state machine was deleted and is not gone yet."""


# What Step Functions says while IAM has not propagated a role, or a policy just attached to it: no
# error code of its own, the message is the only thing that tells it from a real misconfiguration.
PROPAGATION_MESSAGES = (
    "authorized to assume the provided role",  # a new role (CreateStateMachine / UpdateStateMachine)
    "not authorized to access the Log Destination",  # the log-delivery policy, attached seconds ago
    "not authorized to perform: xray:",  # the tracing statements of a new role's base policy
)


def _role_not_assumable_yet(error: Exception) -> bool:
    """Step Functions refused a role it cannot use (yet): IAM has not propagated it."""
    return error_code(error) in ("InvalidArn", "AccessDeniedException") and any(
        message in str(error) for message in PROPAGATION_MESSAGES
    )


class StateMachineStep:
    """Creates or updates the flow's state machine and publishes one version per revision."""

    name = "state machine"

    def __init__(
        self,
        client: SFNClient,
        settings: Settings,
        keep_versions: int = KEEP_VERSIONS,
        role_delays: tuple[float, ...] = ROLE_PROPAGATION_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
        delete_delays: tuple[float, ...] = DELETE_DELAYS,
    ):
        self.client = client
        self.settings = settings
        self.keep_versions = keep_versions
        self.role_delays = role_delays
        self.sleep = sleep
        self.delete_delays = delete_delays

    def deploy(self, deployment: Deployment) -> None:
        """The parts of a big flow first (a version each), then the flow's machine, which starts exactly
        those versions: a revision is its machine's version and the part versions it names."""
        target = deployment.target
        part_arns: dict[str, str] = {}
        for number, part in enumerate(deployment.parts, start=1):
            name, arn = target.part(number)
            part_arns[part_placeholder(number)] = self._converge(deployment, name, arn, part)
        if deployment.restoring:
            part_arns.update(self._live_part_versions(deployment))
        definition = definition_text(deployment.definition)  # what `limits.measure` measured
        for placeholder, arn in part_arns.items():
            definition = definition.replace(placeholder, arn)
        version = self._converge(deployment, target.state_machine_name, target.state_machine_arn, definition)
        if not deployment.restoring:
            deployment.version_arn = version
            self._prune(target.state_machine_arn, version)

    def _converge(self, deployment: Deployment, name: str, arn: str, definition: dict[str, Any] | str) -> str:
        """Create or update one state machine; its new version's ARN (restoring: the unqualified ARN,
        as no version is published)."""
        tags = {**deployment.target.tags(), "stratoflow:revision": str(deployment.revision)}
        common: dict[str, Any] = {
            "definition": definition if isinstance(definition, str) else definition_text(definition),
            "roleArn": deployment.role_arn or self.settings.stratoflow_state_machine_role_arn,
            "loggingConfiguration": self._logging(),
            "tracingConfiguration": {"enabled": True},
        }
        if not deployment.restoring:
            common.update(publish=True, versionDescription=f"revision {deployment.revision}")
        tag_list: list[TagTypeDef] = [{"key": k, "value": v} for k, v in tags.items()]
        response = None
        if not self._exists(arn):
            # A concurrent deployment may create it first: then update it below.
            with contextlib.suppress(self.client.exceptions.StateMachineAlreadyExists):
                response = self._while_role_propagates(
                    self.client.create_state_machine, name=name, type="STANDARD", tags=tag_list, **common
                )
        if response is None:
            response = self._while_role_propagates(
                self.client.update_state_machine, stateMachineArn=arn, **common
            )
            self.client.tag_resource(resourceArn=arn, tags=tag_list)
        if deployment.restoring:
            # No version: the live revision's $LATEST starts its part versions (`_live_part_versions`).
            return arn
        return str(response["stateMachineVersionArn"])

    def _live_part_versions(self, deployment: Deployment) -> dict[str, str]:
        """The part versions the live revision's version starts, by placeholder: restored, $LATEST
        starts them, not the parts' $LATEST, which the next deployment updates before the flow's
        machine (a run of the restored $LATEST would then mix two revisions). Empty when that version
        is unknown: the parts' $LATEST, just put back, are the fallback."""
        if deployment.live_version_arn is None or not deployment.parts:
            return {}
        try:
            live = self.client.describe_state_machine(stateMachineArn=deployment.live_version_arn)
        except self.client.exceptions.StateMachineDoesNotExist:
            log.warning("live version %s is gone: restoring its parts' $LATEST", deployment.live_version_arn)
            return {}
        versions: dict[str, str] = {}
        for number in range(1, len(deployment.parts) + 1):
            _, arn = deployment.target.part(number)
            found = re.search(re.escape(arn) + r":\d+(?=\")", str(live["definition"]))
            if found is not None:
                versions[part_placeholder(number)] = found.group()
        return versions

    def retire(self, retirement: Retirement) -> None:
        with contextlib.suppress(self.client.exceptions.StateMachineDoesNotExist):  # a duplicate event
            self.client.delete_state_machine(stateMachineArn=retirement.target.state_machine_arn)
        # Parts are numbered from 1 in every revision: the first one missing ends them all.
        number = 1
        while True:
            _, arn = retirement.target.part(number)
            try:
                self.client.describe_state_machine(stateMachineArn=arn)
            except self.client.exceptions.StateMachineDoesNotExist:
                return
            with contextlib.suppress(self.client.exceptions.StateMachineDoesNotExist):
                self.client.delete_state_machine(stateMachineArn=arn)
            number += 1

    def _while_role_propagates(self, call: Callable[..., Any], **request: Any) -> Any:
        """`call(**request)`, again after each delay while Step Functions cannot assume the role yet."""
        for delay in self.role_delays:
            try:
                return call(**request)
            except Exception as error:
                if not _role_not_assumable_yet(error):
                    raise
                log.info(
                    "role %s is not usable by Step Functions yet: again in %s s", request["roleArn"], delay
                )
                self.sleep(delay)
        return call(**request)

    def _exists(self, arn: str) -> bool:
        """Whether the state machine exists; one being deleted is waited for (then it does not)."""
        for delay in (*self.delete_delays, None):
            try:
                status = self.client.describe_state_machine(stateMachineArn=arn).get("status")
            except self.client.exceptions.StateMachineDoesNotExist:
                return False
            if status != "DELETING":
                return True
            if delay is None:
                break
            log.info("state machine %s is still being deleted: again in %s s", arn, delay)
            self.sleep(delay)
        raise StateMachineStillDeleting(
            f"state machine {arn} is still being deleted (its executions are stopping); the upload is "
            "deployed when the event is delivered again"
        )

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


def default_steps(clients: AwsClients, settings: Settings) -> list[DeployStep]:
    """The state machine first (the other steps point at it), then its alarms; with flow roles, the
    role before the state machine and the removal of an unused one after it; with sandboxes, the
    flow's script sandbox after its role."""
    state_machine = StateMachineStep(clients.stepfunctions, settings)
    alarms = AlarmsStep(clients.cloudwatch, settings)
    if not settings.flow_roles_enabled:
        return [state_machine, alarms]
    roles = FlowRoles(clients.iam, settings)
    steps: list[DeployStep] = [FlowRoleStep(roles), state_machine, UnusedFlowRoleStep(roles), alarms]
    if settings.sandboxes_enabled:
        # Before the state machine: a new revision's scripts find their sandbox ready.
        steps.insert(1, SandboxStep(Sandboxes(clients, settings)))
    return steps
