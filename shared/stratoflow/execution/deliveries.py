"""Trigger deliveries at admission: may this delivery start the flow, and what it gives the execution.

Every trigger delivery reaches admission as `trigger = {"id": <trigger id>, "type": <its type>, ...}`
with what the delivery carries: a Flow trigger the upstream `executionId` (and `pause`: n for its
n-th pause, absent or 0 for its end), an AWS event trigger the
`event`, a webhook its `body`, `headers` and `parameters`, an SQS trigger the batch's `messages`.
`resolve_trigger` (called by `admission.admit`) checks that the trigger may start the flow, completes
`trigger.*` (`trigger.outputs` of the upstream execution, `trigger.object` of an S3 event,
`trigger.count` of a batch) and renders the trigger's `inputs` with it. It lives in the core because
every start goes through admission, whichever source (`stratoflow.triggers`) delivered it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from stratoflow import expressions
from stratoflow.errors import InputError, StratoflowError
from stratoflow.execution.occurrences import as_paused, pauses_of
from stratoflow.execution.upstream import flow_trigger_matches, flow_trigger_variables
from stratoflow.flow import (
    EventBridgeTrigger,
    Flow,
    FlowTrigger,
    S3Trigger,
    Schedule,
    SqsTrigger,
    Trigger,
    Webhook,
)
from stratoflow.flow.model import flow_variables
from stratoflow.flow.schedule_conditions import conditions_hold
from stratoflow.store.base import ExecutionStore

EVENT_TRIGGERS: tuple[type[Trigger], ...] = (FlowTrigger, Webhook, EventBridgeTrigger, S3Trigger, SqsTrigger)


class TriggerSkipped(StratoflowError):
    """This delivery starts nothing (the trigger is disabled, or the event is not one it matches)."""


@dataclass(frozen=True)
class TriggeredStart:
    """A trigger delivery made ready for admission: `trigger.*`, inputs and labels."""

    trigger: dict[str, Any] | None
    inputs: dict[str, Any]
    labels: dict[str, str]


def delivered_trigger(flow: Flow, trigger: dict[str, JsonValue] | None) -> Trigger | None:
    """The event trigger of `flow` a delivery names (None for other starts: manual, schedule, subflow)."""
    trigger_id = trigger.get("id") if trigger else None
    if trigger is None or not isinstance(trigger_id, str):
        return None
    model = flow.trigger(trigger_id)
    if not isinstance(model, EVENT_TRIGGERS) or trigger.get("type") != model.type_name:
        return None
    return model


def resolve_trigger(
    store: ExecutionStore,
    flow: Flow,
    trigger: dict[str, JsonValue] | None,
    inputs: dict[str, JsonValue],
    labels: dict[str, str],
) -> TriggeredStart:
    """Check and complete a trigger delivery; raises TriggerSkipped when it must start nothing."""
    if trigger is not None and trigger.get("type") == "schedule":
        check_schedule_conditions(flow, trigger)
    model = delivered_trigger(flow, trigger)
    if model is None or trigger is None:
        return TriggeredStart(trigger, inputs, labels)
    where = f"trigger '{model.id}' of {flow.namespace}.{flow.id}"
    if model.disabled:
        raise TriggerSkipped(f"{where} is disabled")
    state = store.get_trigger_state(flow.namespace, flow.id, model.id)
    if state is not None and state.disabled:
        raise TriggerSkipped(f"{where} is disabled: {state.reason or 'by its state'}")
    variables = {"id": model.id, "type": model.type_name, **_variables(store, flow, model, trigger, where)}
    rendered = render_trigger_inputs(flow, model, variables)
    return TriggeredStart(variables, {**rendered, **inputs}, {**model.labels, **labels})


def check_schedule_conditions(flow: Flow, trigger: dict[str, JsonValue]) -> None:
    """Raise TriggerSkipped when the slot `trigger` (a schedule's `trigger.*`) fails its conditions.

    Checked at admission, so every start of a slot (the local server, EventBridge Scheduler's delivery,
    a backfill, a recovered missed slot) skips the same slots."""
    model = flow.trigger(str(trigger.get("id")))
    if not isinstance(model, Schedule) or not model.conditions:
        return

    where = f"schedule '{model.id}' of {flow.namespace}.{flow.id} at {trigger.get('date')}"
    variables = {"trigger": trigger, "flow": flow_variables(flow.namespace, flow.id, flow.revision)}
    try:
        held = conditions_hold(model.conditions, variables)
    except (expressions.ExpressionError, ValueError) as error:
        raise TriggerSkipped(f"{where}: its conditions could not be evaluated: {error}") from None
    if not held:
        raise TriggerSkipped(f"{where}: its conditions do not hold, the slot is skipped")


def _variables(
    store: ExecutionStore, flow: Flow, model: Trigger, delivered: dict[str, Any], where: str
) -> dict[str, Any]:
    if isinstance(model, FlowTrigger):
        upstream = store.get_execution(str(delivered.get("executionId")))
        if upstream is None:
            raise TriggerSkipped(f"{where}: execution {delivered.get('executionId')} does not exist")
        pause = delivered.get("pause")
        if isinstance(pause, int) and not isinstance(pause, bool) and pause > 0:
            # A delivery for the upstream's n-th pause: it may have been resumed since.
            if pauses_of(upstream) < pause:
                raise TriggerSkipped(f"{where}: execution {upstream.id} has not paused {pause} time(s)")
            upstream = as_paused(upstream)
        if not flow_trigger_matches(flow, model, upstream):
            raise TriggerSkipped(f"{where} does not match execution {upstream.id}")
        return flow_trigger_variables(upstream)
    if isinstance(model, Webhook):
        return {name: delivered.get(name) for name in ("body", "headers", "parameters")}
    if isinstance(model, SqsTrigger):
        messages = delivered.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise TriggerSkipped(f"{where}: the delivery carries no messages")
        return {"messages": messages, "count": len(messages)}
    event = delivered.get("event")
    if not isinstance(event, dict):
        raise TriggerSkipped(f"{where}: the delivery carries no event")
    if isinstance(model, S3Trigger):
        found = s3_object(event)
        if not s3_matches(model, found):
            raise TriggerSkipped(f"{where} does not match s3://{found.get('bucket')}/{found.get('key')}")
        # `objects`: Kestra's trigger gives a list of the objects it found; here always this one.
        return {"event": event, "object": found, "objects": [found]}
    return {"event": event}


def render_trigger_inputs(
    flow: Flow, model: Trigger, variables: dict[str, JsonValue]
) -> dict[str, JsonValue]:
    """The trigger's `inputs`, rendered with `trigger.*` and `flow.*`; InputError names a failing one."""

    context = {
        "trigger": variables,
        "flow": flow_variables(flow.namespace, flow.id, flow.revision),
    }
    rendered = {}
    declared = {item.id for item in flow.inputs}
    for name, value in model.inputs.items():
        if name not in declared:
            continue  # as Kestra: an input the flow does not declare is dropped (validate warns)
        try:
            rendered[name] = expressions.render(value, context)
        except expressions.ExpressionError as error:
            raise InputError(name, f"trigger '{model.id}' could not render it: {error}") from None
    return rendered


# --- AWS events --------------------------------------------------------------------------------


def s3_object(event: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """`trigger.object` of an S3 "Object Created" EventBridge event."""
    detail = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    named = detail.get("bucket")
    bucket = str(named.get("name", "")) if isinstance(named, dict) else ""
    stored = detail.get("object")
    found = dict(stored) if isinstance(stored, dict) else {}
    key = str(found.get("key", ""))
    return {**found, "bucket": bucket, "key": key, "uri": f"s3://{bucket}/{key}"}


def s3_matches(trigger: S3Trigger, found: dict[str, JsonValue]) -> bool:
    key = str(found.get("key", ""))
    return (
        found.get("bucket") == trigger.bucket
        and key.startswith(trigger.prefix or "")
        and key.endswith(trigger.suffix or "")
        # EventBridge patterns have no regular expressions: `regexp` is checked here, at admission.
        and (trigger.regexp is None or re.fullmatch(trigger.regexp, key) is not None)
    )
