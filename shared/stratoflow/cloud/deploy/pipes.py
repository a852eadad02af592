"""EventBridge Pipes of SQS triggers (`aws.sqs.Trigger`): one pipe per trigger, from its queue to admission.

A pipe is named `<StackName>-<flowId>-<triggerId>-<hash>` (`rules.rule_name`: at most 64 characters;
the hash covers namespace, flow, trigger and queue, because a pipe's source cannot change: another
queue is another pipe, and the old one is deleted). It polls the queue, and invokes the admission
Lambda synchronously with up to `batchSize` messages, each one shaped by the input template:

    {"namespace": ..., "flowId": ..., "trigger": {"id": ..., "type": "aws.sqs.Trigger"},
     "message": <the SQS record: messageId, body, attributes, messageAttributes, ...>}

Pipes applies an input template to each record of a batch, so admission receives a JSON array of these
(`cloud.runtime.queue_batches`), starts one execution for the whole batch and answers `batchItemFailures`:
what it refuses stays in the queue, for the queue's own redrive policy. A disabled flow or trigger
keeps its pipe STOPPED (its messages wait in the queue); retiring the flow deletes it.

The pipes of one flow assume the flow's pipe role (`pipe_roles`), which reads only the queues that
flow declares; it is put before the pipes and deleted with the last of them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import FLOW_TAG, NAMESPACE_TAG, Deployment, Retirement, flow_tags
from stratoflow.cloud.deploy.pipe_roles import PipeRoles, pipe_role_arn
from stratoflow.cloud.deploy.rules import rule_name
from stratoflow.flow import Flow, SqsTrigger
from stratoflow.flow.loader import flow_locations

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_pipes import EventBridgePipesClient

log = logging.getLogger("stratoflow.deployer")

# A pipe in one of these states refuses changes (ConflictException) until it settles.
BUSY_STATES = frozenset({"CREATING", "UPDATING", "STARTING", "STOPPING", "DELETING"})
# Pipes checks its role when it creates the pipe: a role IAM has not propagated yet leaves the pipe
# CREATE_FAILED ("the provided customer role does not have permissions to call ReceiveMessage").
CREATE_FAILED = "CREATE_FAILED"
# Waits for a busy pipe to settle, about half a minute in all; then the deployment fails and is retried.
SETTLE_DELAYS = (1.0, 2.0, 4.0, 8.0, 8.0, 8.0)
MAX_DESCRIPTION = 512
TAG_TRIGGER = "stratoflow:trigger"


@dataclass(frozen=True)
class PipeSpec:
    """One pipe as the deployer puts it."""

    name: str
    namespace: str
    flow_id: str
    trigger_id: str
    source: str
    role_arn: str
    batch_size: int
    batching_window: int
    running: bool
    description: str
    input_template: str

    def parameters(self, settings: Settings) -> dict[str, Any]:
        """What CreatePipe and UpdatePipe both take."""
        return {
            "Name": self.name,
            "Description": self.description,
            "DesiredState": "RUNNING" if self.running else "STOPPED",
            "RoleArn": self.role_arn,
            "SourceParameters": {
                "SqsQueueParameters": {
                    "BatchSize": self.batch_size,
                    "MaximumBatchingWindowInSeconds": self.batching_window,
                }
            },
            "Target": settings.stratoflow_admission_arn,
            "TargetParameters": {
                "InputTemplate": self.input_template,
                # Synchronous: the pipe deletes the messages only once admission has answered.
                "LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"},
            },
        }

    def tags(self) -> dict[str, str]:
        return {**flow_tags(self.namespace, self.flow_id), TAG_TRIGGER: self.trigger_id}


@dataclass
class PipeChanges:
    """What `sync_pipes` did: names of the pipes created, updated and deleted."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def pipe_prefix(settings: Settings) -> str:
    """What every pipe of the stack is named with first (the stack's IAM grants end it with `*`)."""
    return f"{settings.stratoflow_stack_name}-"


def pipe_name(settings: Settings, namespace: str, flow_id: str, trigger: SqsTrigger) -> str:
    return rule_name(pipe_prefix(settings), namespace, flow_id, trigger.id, trigger.source_arn)


def input_template(flow: Flow, trigger: SqsTrigger) -> str:
    """Admission's view of one message: the flow and trigger, and the record (`aws.pipes.event.json`)."""
    head = {
        "namespace": flow.namespace,
        "flowId": flow.id,
        "trigger": {"id": trigger.id, "type": trigger.type_name},
    }
    # The reserved variable stands unquoted where a JSON value goes: the record, as JSON.
    return json.dumps({**head, "message": "<aws.pipes.event.json>"}).replace(
        '"<aws.pipes.event.json>"', "<aws.pipes.event.json>"
    )


def pipe_specs(flow: Flow, settings: Settings) -> list[PipeSpec]:
    """The pipes of the flow's SQS triggers (disabled ones included, STOPPED), with the flow's pipe role."""
    if not any(isinstance(trigger, SqsTrigger) for trigger in flow.triggers):
        return []
    if not (settings.stratoflow_pipe_boundary_arn and settings.stratoflow_admission_arn):
        raise RuntimeError(
            "SQS triggers need STRATOFLOW_PIPE_BOUNDARY_ARN and STRATOFLOW_ADMISSION_ARN on the deployer"
        )
    role_arn = pipe_role_arn(settings, flow.namespace, flow.id)
    return [
        PipeSpec(
            name=pipe_name(settings, flow.namespace, flow.id, trigger),
            namespace=flow.namespace,
            flow_id=flow.id,
            trigger_id=trigger.id,
            source=trigger.source_arn,
            role_arn=role_arn,
            batch_size=trigger.batch_size,
            batching_window=trigger.batching_window_seconds,
            running=not (flow.disabled or trigger.disabled),
            description=f"Stratoflow: trigger {trigger.id} ({trigger.type_name}) of {flow.namespace}.{flow.id}"[
                :MAX_DESCRIPTION
            ],
            input_template=input_template(flow, trigger),
        )
        for trigger in flow.triggers
        if isinstance(trigger, SqsTrigger)
    ]


def pipe_notes(flow: Flow) -> list[str]:
    """What a user should know of the flow's SQS triggers once deployed."""
    return [
        f"trigger {trigger.id}: 'interval' is not used, a pipe receives messages as they arrive"
        for trigger in flow.triggers
        if isinstance(trigger, SqsTrigger) and trigger.interval is not None
    ]


def pipe_source_problems(flow: Flow, partition: str, region: str, account: str) -> list[str]:
    """Why some SQS triggers cannot have a pipe: Pipes reads queues of its own account and region only."""
    problems = []
    for index, trigger in enumerate(flow.triggers):
        if not isinstance(trigger, SqsTrigger):
            continue
        _, queue_partition, _, queue_region, queue_account, _ = trigger.source_arn.split(":")
        if (queue_partition, queue_region, queue_account) != (partition, region, account):
            field_name = "queueUrl" if trigger.queue_url is not None else "queueArn"
            position = flow_locations(flow).get(f"triggers[{index}].{field_name}")
            prefix = f"{flow.source.file}:{position[0]}:{position[1]}: " if position and flow.source else ""
            problems.append(
                f"{prefix}triggers[{index}].{field_name}: the queue {trigger.source_arn} is not in the stack's account "
                f"{account} and region {region}; an SQS trigger can read only a queue of the stack's own"
            )
    return problems


def _owned(flow: Flow | None, settings: Settings) -> set[str]:
    if flow is None:
        return set()
    return {
        pipe_name(settings, flow.namespace, flow.id, trigger)
        for trigger in flow.triggers
        if isinstance(trigger, SqsTrigger)
    }


class Pipes:
    """Puts and deletes the stack's pipes and their roles, waiting while a pipe is busy (Pipes changes
    them asynchronously)."""

    def __init__(
        self,
        client: EventBridgePipesClient,
        settings: Settings,
        delays: tuple[float, ...] = SETTLE_DELAYS,
        sleep: Callable[[float], None] = time.sleep,
        iam: IAMClient | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.delays = delays
        self.sleep = sleep
        # Without an IAM client (tests of the pipes alone) the roles are assumed to exist.
        self.roles = PipeRoles(iam, settings) if iam is not None else None

    def sync(self, flow: Flow | None, previous: Flow | None) -> PipeChanges:
        """Make the pipes of `flow` exist as specified and delete those of `previous` it no longer has.

        `flow=None` retires the flow. Idempotent: a retried deployment converges on the same pipes.
        """
        specs = pipe_specs(flow, self.settings) if flow is not None else []
        changes = PipeChanges()
        wanted = {spec.name for spec in specs}
        for name in sorted(_owned(previous, self.settings) - wanted):
            if self.delete(name):
                changes.deleted.append(name)
        new_role = False
        if specs and flow is not None and self.roles is not None:
            names, queues = [spec.name for spec in specs], [spec.source for spec in specs]
            new_role = self.roles.ensure(flow.namespace, flow.id, names, queues)
        for spec in specs:
            (changes.created if self.put(spec, new_role) else changes.updated).append(spec.name)
        if not specs and self.roles is not None:
            owner = flow or previous
            if owner is not None:
                self.roles.delete(owner.namespace, owner.id)
        return changes

    def put(self, spec: PipeSpec, new_role: bool = False) -> bool:
        """Create or update one pipe; True when it was created.

        A pipe left CREATE_FAILED (by an earlier attempt) is deleted and created again. After a new
        role, the deployer waits for each pipe it creates to settle, and creates it again while
        Pipes cannot use the role yet (IAM propagates a new role within seconds).
        """
        state = self._settled_state(spec.name)
        if state == CREATE_FAILED:
            self.delete(spec.name)
            state = self._settled_state(spec.name)
        if state is not None:
            self.client.update_pipe(**spec.parameters(self.settings))
            return False
        for delay in (*self.delays, None):
            self.client.create_pipe(Source=spec.source, Tags=spec.tags(), **spec.parameters(self.settings))
            if not new_role or self._settled_state(spec.name) != CREATE_FAILED:
                return True
            if delay is None:
                break
            log.info("pipe %s failed to create with a new role: again in %s s", spec.name, delay)
            self.delete(spec.name)
            self._settled_state(spec.name)
            self.sleep(delay)
        raise RuntimeError(f"pipe {spec.name} is {CREATE_FAILED}: the deployment will be retried")

    def delete(self, name: str) -> bool:
        """Delete one pipe; False when it was already gone (a retried retirement)."""
        try:
            self.client.delete_pipe(Name=name)
        except self.client.exceptions.NotFoundException:
            log.info("pipe %s was already deleted", name)
            return False
        return True

    def tagged(self, namespace: str, flow_id: str) -> list[str]:
        """The stack's pipes tagged with this flow: found when its last revision cannot be read."""
        names = []
        for page in self.client.get_paginator("list_pipes").paginate(NamePrefix=pipe_prefix(self.settings)):
            for summary in page.get("Pipes", []):
                try:
                    tags = self.client.describe_pipe(Name=summary["Name"]).get("Tags") or {}
                except self.client.exceptions.NotFoundException:
                    continue
                if tags.get(NAMESPACE_TAG) == namespace and tags.get(FLOW_TAG) == flow_id:
                    names.append(str(summary["Name"]))
        return names

    def _settled_state(self, name: str) -> str | None:
        """The pipe's state once it is not busy; None when there is no such pipe."""
        for delay in (*self.delays, None):
            try:
                state = str(self.client.describe_pipe(Name=name).get("CurrentState", ""))
            except self.client.exceptions.NotFoundException:
                return None
            if state not in BUSY_STATES:
                return state
            if delay is None:
                break
            log.info("pipe %s is %s: again in %s s", name, state, delay)
            self.sleep(delay)
        raise RuntimeError(f"pipe {name} is still {state}: the deployment will be retried")


class PipesStep:
    """The deployer step of SQS trigger pipes: `Deployer(steps=[*default_steps(...), PipesStep(...)])`."""

    name = "trigger pipes"

    def __init__(self, pipes_client: EventBridgePipesClient, settings: Settings, **options: Any) -> None:
        # options: `iam` (the pipe roles' client), `delays`, `sleep`.
        self.pipes = Pipes(pipes_client, settings, **options)

    def deploy(self, deployment: Deployment) -> None:
        changes = self.pipes.sync(deployment.flow, deployment.previous)
        if changes.created or changes.updated or changes.deleted:
            deployment.notes.append(
                f"trigger pipes: {len(changes.created)} created, {len(changes.updated)} updated, "
                f"{len(changes.deleted)} deleted"
            )
        deployment.notes.extend(pipe_notes(deployment.flow))

    def retire(self, retirement: Retirement) -> None:
        if retirement.previous is not None:
            self.pipes.sync(None, retirement.previous)
            return
        target = retirement.target
        for name in self.pipes.tagged(target.namespace, target.flow_id):
            self.pipes.delete(name)
        if self.pipes.roles is not None:
            self.pipes.roles.delete(target.namespace, target.flow_id)
