"""EventBridge rules of Flow, AWS event (`aws.eventbridge.Trigger`) and S3 (`aws.s3.Trigger`) triggers.

One rule per trigger, named `<EVENTS_RULE_PREFIX><flowId>-<triggerId>-<hash>` (at most 64
characters; the hash of namespace, flow and trigger keeps two namespaces' flows apart), with one
target: the admission Lambda. The target's input transformer builds admission's event:

    {"namespace": ..., "flowId": ..., "executionId": "<trigger key>-<event id>",
     "trigger": {"id": ..., "type": ..., "event": <the whole event>}}        (AWS events, S3)
     "trigger": {"id": ..., "type": "Flow", "executionId": <upstream id>}}   (Flow triggers)

so a redelivered event names the same execution (`triggers.events.event_execution_id`) and starts
nothing new; admission completes `trigger.*` and renders the trigger's inputs. Failed deliveries are
retried by EventBridge (`RETRY_POLICY`), then land in the dead-letter queue (STRATOFLOW_DLQ_ARN).

S3 events reach EventBridge only from buckets with EventBridge notifications turned on, on the
account's default bus.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import Deployment, Retirement
from stratoflow.execution.upstream import TriggerConditionError
from stratoflow.flow import EventBridgeTrigger, Flow, FlowTrigger, S3Trigger, Trigger
from stratoflow.triggers.events import trigger_key
from stratoflow.triggers.flow_triggers import escape_wildcard, fires_on_pauses, upstream_pattern

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import RetryPolicyTypeDef, TargetTypeDef

log = logging.getLogger("stratoflow.deployer")

MAX_RULE_NAME = 64
TARGET_ID = "admission"
DEFAULT_BUS = "default"
RETRY_POLICY: RetryPolicyTypeDef = {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 6 * 3600}
RULE_TRIGGERS: tuple[type[Trigger], ...] = (FlowTrigger, EventBridgeTrigger, S3Trigger)
_HASH_LENGTH = 8


@dataclass(frozen=True)
class RuleSpec:
    """One rule as the deployer puts it."""

    name: str
    bus: str
    trigger_id: str
    pattern: dict[str, Any]
    enabled: bool
    description: str
    input_paths: dict[str, str]
    input_template: str

    def target(self, settings: Settings) -> TargetTypeDef:
        target: TargetTypeDef = {
            "Id": TARGET_ID,
            "Arn": settings.stratoflow_admission_arn,
            "InputTransformer": {"InputPathsMap": self.input_paths, "InputTemplate": self.input_template},
            "RetryPolicy": RETRY_POLICY,
        }
        if settings.stratoflow_dlq_arn:
            target["DeadLetterConfig"] = {"Arn": settings.stratoflow_dlq_arn}
        return target


@dataclass
class RuleChanges:
    """What `sync_rules` did: (bus, name) of the rules put and deleted."""

    put: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)


def rule_prefix(settings: Settings) -> str:
    return settings.stratoflow_events_rule_prefix or f"{settings.stratoflow_stack_name}-"


def rule_name(prefix: str, namespace: str, flow_id: str, trigger_id: str, *identity: str) -> str:
    """`<prefix><flowId>-<triggerId>-<hash>`, the readable part shortened to fit 64 characters.

    The hash covers `identity` too: what else must give the resource another name (a pipe's queue).
    """
    parts = "\n".join((namespace, flow_id, trigger_id, *identity))
    digest = hashlib.sha256(parts.encode()).hexdigest()[:_HASH_LENGTH]
    room = MAX_RULE_NAME - len(prefix) - _HASH_LENGTH - 1
    if room < 1:
        raise ValueError(f"the rule prefix {prefix!r} leaves no room for a rule name")
    return f"{prefix}{f'{flow_id}-{trigger_id}'[:room]}-{digest}"


def _bus(trigger: Trigger, settings: Settings) -> str:
    if isinstance(trigger, EventBridgeTrigger) and trigger.bus:
        return trigger.bus
    if isinstance(trigger, FlowTrigger):
        return settings.stratoflow_event_bus_name or DEFAULT_BUS
    return DEFAULT_BUS  # S3 delivers to the default bus only


def rule_specs(flow: Flow, settings: Settings) -> list[RuleSpec]:
    """The rules of the flow's Flow, AWS event and S3 triggers (disabled ones included, DISABLED).

    A Flow trigger whose conditions are malformed or can never hold gets no rule (it never fires
    locally either): `rule_problems` says why.
    """
    specs = []
    for trigger in flow.triggers:
        if not isinstance(trigger, RULE_TRIGGERS):
            continue
        try:
            pattern = _pattern(flow, trigger)
        except TriggerConditionError:
            continue
        specs.append(
            RuleSpec(
                name=rule_name(rule_prefix(settings), flow.namespace, flow.id, trigger.id),
                bus=_bus(trigger, settings),
                trigger_id=trigger.id,
                pattern=pattern,
                enabled=not (flow.disabled or trigger.disabled),
                description=f"Stratoflow: trigger {trigger.id} ({trigger.type_name}) of {flow.namespace}.{flow.id}"[
                    :512
                ],
                **_input(flow, trigger),
            )
        )
    return specs


def rule_problems(flow: Flow) -> list[str]:
    """Why some of the flow's Flow triggers get no rule."""
    problems = []
    for trigger in flow.triggers:
        if isinstance(trigger, FlowTrigger):
            try:
                upstream_pattern(flow, trigger)
            except TriggerConditionError as error:
                problems.append(str(error))
    return problems


def _pattern(flow: Flow, trigger: Trigger) -> dict[str, Any]:
    if isinstance(trigger, FlowTrigger):
        return upstream_pattern(flow, trigger)
    if isinstance(trigger, S3Trigger):
        detail: dict[str, Any] = {"bucket": {"name": [trigger.bucket]}}
        key = _key_matcher(trigger.prefix or "", trigger.suffix or "")
        if key is not None:
            detail["object"] = {"key": [key]}
        return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}
    assert isinstance(trigger, EventBridgeTrigger)
    return dict(trigger.pattern)


def _key_matcher(prefix: str, suffix: str) -> Any:
    if prefix and suffix:
        return {"wildcard": f"{escape_wildcard(prefix)}*{escape_wildcard(suffix)}"}
    if prefix:
        return {"prefix": prefix}
    if suffix:
        return {"suffix": suffix}
    return None


def _input(flow: Flow, trigger: Trigger) -> dict[str, Any]:
    """The input transformer: admission's event, with the ids the event fills in."""
    key = trigger_key(flow.namespace, flow.id, trigger.id)
    head = f'"namespace": {json.dumps(flow.namespace)}, "flowId": {json.dumps(flow.id)}'
    ident = f'"id": {json.dumps(trigger.id)}, "type": {json.dumps(trigger.type_name)}'
    if isinstance(trigger, FlowTrigger) and fires_on_pauses(trigger):
        # Each pause is an occurrence of its own (`<upstream>-p<n>`): its start gets an id of its own.
        template = (
            f'{{{head}, "executionId": "{key}-<occurrence>", '
            f'"trigger": {{{ident}, "executionId": "<upstream>", "pause": <pause>}}}}'
        )
        paths = {
            "upstream": "$.detail.executionId",
            "occurrence": "$.detail.occurrence",
            "pause": "$.detail.pause",
        }
        return {"input_paths": paths, "input_template": template}
    if isinstance(trigger, FlowTrigger):
        template = (
            f'{{{head}, "executionId": "{key}-<upstream>", '
            f'"trigger": {{{ident}, "executionId": "<upstream>"}}}}'
        )
        return {"input_paths": {"upstream": "$.detail.executionId"}, "input_template": template}
    template = f'{{{head}, "executionId": "{key}-<eventId>", "trigger": {{{ident}, "event": <aws.events.event.json>}}}}'
    return {"input_paths": {"eventId": "$.id"}, "input_template": template}


def _owned(flow: Flow | None, settings: Settings) -> set[tuple[str, str]]:
    """(bus, name) of the rules a flow has (names only: no pattern is built)."""
    if flow is None:
        return set()
    prefix = rule_prefix(settings)
    return {
        (_bus(trigger, settings), rule_name(prefix, flow.namespace, flow.id, trigger.id))
        for trigger in flow.triggers
        if isinstance(trigger, RULE_TRIGGERS)
    }


def sync_rules(
    flow: Flow | None, previous: Flow | None, settings: Settings, events_client: EventBridgeClient
) -> RuleChanges:
    """Make the rules of `flow` exist as specified and delete those of `previous` it no longer has.

    `flow=None` retires the flow: every rule of `previous` goes. Idempotent: a retried deployment
    converges on the same rules.
    """
    specs = rule_specs(flow, settings) if flow is not None else []
    changes = RuleChanges()
    wanted = {(spec.bus, spec.name) for spec in specs}
    for bus, name in sorted(_owned(previous, settings) - wanted):
        _delete_rule(events_client, bus, name)
        changes.deleted.append((bus, name))
    for spec in specs:
        events_client.put_rule(
            Name=spec.name,
            EventBusName=spec.bus,
            EventPattern=json.dumps(spec.pattern),
            State="ENABLED" if spec.enabled else "DISABLED",
            Description=spec.description,
        )
        response = events_client.put_targets(
            Rule=spec.name, EventBusName=spec.bus, Targets=[spec.target(settings)]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(
                f"EventBridge refused the target of rule {spec.name}: {response['FailedEntries']}"
            )
        changes.put.append((spec.bus, spec.name))
    return changes


def _delete_rule(events_client: EventBridgeClient, bus: str, name: str) -> None:
    """Remove the rule's targets, then the rule; a rule already gone is not an error."""
    missing = events_client.exceptions.ResourceNotFoundException
    try:
        events_client.remove_targets(Rule=name, EventBusName=bus, Ids=[TARGET_ID], Force=False)
        events_client.delete_rule(Name=name, EventBusName=bus)
    except missing:
        log.info("rule %s on bus %s was already deleted", name, bus)


class RulesStep:
    """The deployer step of trigger rules: `Deployer(steps=[*default_steps(...), RulesStep(...)])`."""

    name = "trigger rules"

    def __init__(self, events_client: EventBridgeClient, settings: Settings) -> None:
        self.client = events_client
        self.settings = settings

    def deploy(self, deployment: Deployment) -> None:
        changes = sync_rules(deployment.flow, deployment.previous, self.settings, self.client)
        if changes.put or changes.deleted:
            deployment.notes.append(f"trigger rules: {len(changes.put)} put, {len(changes.deleted)} deleted")
        deployment.notes.extend(f"no rule: {problem}" for problem in rule_problems(deployment.flow))

    def retire(self, retirement: Retirement) -> None:
        sync_rules(None, retirement.previous, self.settings, self.client)
