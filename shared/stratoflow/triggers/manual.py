"""Firing one of a flow's triggers by hand (`strato trigger`), as Kestra's UI can.

The start is the delivery the trigger itself would make, built from what the user gives: a Schedule
fires for the current instant (`trigger.date` is now, `next`/`previous` its neighbouring fire times),
a Flow trigger for an upstream execution (`trigger.outputs` etc. read by admission, which also checks
that the trigger's conditions hold), a Webhook with a body, an EventBridge or S3 trigger with an
event, an SQS trigger with message bodies. Admission then does what it does for every start: a
disabled trigger starts nothing, the trigger's `inputs` are rendered with `trigger.*`, its `labels`
added, the inputs typed and validated, the flow's concurrency applied.

Execution ids follow the trigger's own rules: a Flow trigger's names the upstream execution (firing it
again for the same upstream starts nothing new, as a repeated delivery would), an event with an `id`
is named by that id; other manual fires get a new id each time.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from stratoflow.errors import StratoflowError
from stratoflow.execution.ids import new_execution_id
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
from stratoflow.triggers.backfill import TriggerStart, ensure_enabled, scheduled_start
from stratoflow.triggers.events import event_execution_id


class ManualTriggerError(StratoflowError):
    """The trigger cannot be fired with what was given (unknown trigger, missing or unfit detail)."""


@dataclass(frozen=True)
class Delivery:
    """What the user gives for the trigger's delivery (only what its type needs)."""

    execution: str | None = None  # Flow: the upstream execution id
    event: dict[str, Any] | None = None  # aws.eventbridge.Trigger, aws.s3.Trigger: the event
    body: str | None = None  # Webhook: the request body (JSON is parsed)
    messages: tuple[str, ...] = ()  # aws.sqs.Trigger: message bodies (JSON is parsed)


# Which part of a Delivery each trigger type takes, and the option that gives it.
NEEDS: dict[type[Trigger], tuple[str, str]] = {
    FlowTrigger: ("execution", "--execution UPSTREAM_EXECUTION_ID"),
    EventBridgeTrigger: ("event", "--event JSON"),
    S3Trigger: ("event", "--event JSON"),
    Webhook: ("body", "--body TEXT"),
    SqsTrigger: ("messages", "--message BODY"),
}


@dataclass(frozen=True, kw_only=True)
class ManualStart(TriggerStart):
    """One start of a trigger fired by hand, which `--remote` sends to the admission function."""

    def admission_event(self) -> dict[str, JsonValue]:
        """The same start as the admission function's event (with `namespace` and `flowId` added)."""
        return {
            "inputs": dict(self.inputs),
            "labels": dict(self.labels),
            "trigger": self.trigger,
            "executionId": self.execution_id,
        }


def manual_start(
    flow: Flow, trigger_id: str, given: Delivery, inputs: Mapping[str, JsonValue], now: datetime
) -> ManualStart:
    """The start of `flow`'s trigger `trigger_id` fired by hand at `now` (`inputs` win over the
    trigger's own). Raises ManualTriggerError naming what is wrong."""
    name = f"{flow.namespace}.{flow.id}"
    model = flow.trigger(trigger_id)
    if model is None:
        known = ", ".join(f"{t.id} ({t.type_name})" for t in flow.triggers) or "none"
        raise ManualTriggerError(f"flow {name} has no trigger '{trigger_id}' (its triggers: {known})")
    _check_given(model, given)
    if isinstance(model, Schedule):
        return _schedule_start(flow, model, inputs, now)
    delivery: dict[str, Any] = {"id": model.id, "type": model.type_name}
    event_id: str | None = None
    if isinstance(model, FlowTrigger):
        delivery["executionId"] = given.execution
        event_id = given.execution
    elif isinstance(model, (EventBridgeTrigger, S3Trigger)):
        delivery["event"] = given.event
        event_id = str((given.event or {}).get("id") or "") or None
    elif isinstance(model, Webhook):
        delivery.update(body=_parsed(given.body or ""), headers={}, parameters={})
    elif isinstance(model, SqsTrigger):
        delivery["messages"] = [
            {
                "messageId": f"manual-{secrets.token_hex(8)}",
                "body": _parsed(body),
                "attributes": {},
                "messageAttributes": {},
            }
            for body in given.messages
        ]
    else:  # a trigger type added without a manual delivery
        raise ManualTriggerError(
            f"trigger '{model.id}' of {name} ({model.type_name}) cannot be fired by hand"
        )
    execution_id = (
        event_execution_id(flow.namespace, flow.id, model.id, event_id) if event_id else new_execution_id()
    )
    return ManualStart(execution_id=execution_id, trigger=delivery, inputs=dict(inputs))


def _check_given(model: Trigger, given: Delivery) -> None:
    """Refuse a detail the trigger's type does not take, or a missing one it needs."""
    wanted = NEEDS.get(type(model), (None, ""))[0]
    for part, option in {part: option for part, option in NEEDS.values()}.items():
        present = bool(getattr(given, part))
        if part == wanted and not present and part != "body":
            raise ManualTriggerError(f"trigger '{model.id}' is a {model.type_name} trigger: give {option}")
        if part != wanted and present:
            raise ManualTriggerError(
                f"{option.split()[0]} does not apply to trigger '{model.id}' ({model.type_name})"
            )


def _schedule_start(
    flow: Flow, model: Schedule, inputs: Mapping[str, JsonValue], now: datetime
) -> ManualStart:
    """A Schedule fired now: `trigger.date` is this instant, as if a slot fell on it."""
    ensure_enabled(flow, model)
    start = scheduled_start(flow, model, now.replace(microsecond=0))
    return ManualStart(
        execution_id=new_execution_id(),  # not the slot's id: a fire by hand must not take a real slot's
        trigger=start.trigger,
        inputs={**start.inputs, **inputs},
        labels=dict(start.labels),
    )


def _parsed(text: str) -> Any:
    """JSON when the text is JSON (as a webhook's body or an SQS message's), else the text."""
    with contextlib.suppress(ValueError):
        return json.loads(text)
    return text
