"""Flow triggers: start a flow when an execution of another flow ends.

The conditions a finished execution must meet are the core's (`stratoflow.execution.upstream`, checked
again at admission). Here: which flows an end starts (`matching_flow_triggers`), what is wrong with a
flow's Flow triggers at deploy time, and the same rules as the EventBridge pattern of the cloud rule
(`upstream_pattern`) on Stratoflow's "Execution Finished" events, whose detail is
`finished_event_detail(execution)`, and its "Execution Paused" events
(`execution.occurrences.paused_event_detail`) for a trigger on PAUSED.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import JsonValue

from stratoflow.domain import Execution
from stratoflow.execution.occurrences import EVENT_SOURCE, PAUSED_DETAIL_TYPE, occurrence_fields
from stratoflow.execution.upstream import (
    FIRING_STATES,
    ExecutionFlowCondition,
    ExecutionLabelsCondition,
    ExecutionNamespaceCondition,
    ExecutionStatusCondition,
    TriggerConditionError,
    flow_trigger_matches,
    parse_conditions,
    trigger_states,
)
from stratoflow.flow import Flow, FlowTrigger
from stratoflow.states import State

FINISHED_SOURCE = EVENT_SOURCE
FINISHED_DETAIL_TYPE = "Execution Finished"


def trigger_problems(flow: Flow) -> list[str]:
    """What is wrong with the flow's Flow triggers (reported when it is deployed)."""
    problems = []
    for trigger in flow.triggers:
        if isinstance(trigger, FlowTrigger):
            try:
                parse_conditions(trigger)
            except TriggerConditionError as error:
                problems.append(str(error))
    return problems


def matching_flow_triggers(
    finished_execution: Execution, flows: Iterable[Flow]
) -> list[tuple[Flow, FlowTrigger]]:
    """The (flow, trigger) pairs that the end (or pause) of `finished_execution` starts (enabled ones
    only)."""
    if finished_execution.state not in FIRING_STATES:
        return []
    return [
        (flow, trigger)
        for flow in flows
        if not flow.disabled
        for trigger in flow.triggers
        if isinstance(trigger, FlowTrigger)
        and not trigger.disabled
        and flow_trigger_matches(flow, trigger, finished_execution)
    ]


def finished_event_detail(execution: Execution) -> dict[str, JsonValue]:
    """The detail of Stratoflow's "Execution Finished" event (outputs stay in the store: events are small)."""
    return {
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "revision": execution.revision,
        "state": str(execution.state),
        "labels": dict[str, JsonValue](execution.labels),
        **occurrence_fields(execution.id, 0),
    }


def fires_on_pauses(trigger: FlowTrigger) -> bool:
    return State.PAUSED in trigger_states(trigger)


# --- the EventBridge pattern -------------------------------------------------------------------


def upstream_pattern(flow: Flow, trigger: FlowTrigger) -> dict[str, JsonValue]:
    """The EventBridge pattern of the trigger's rule; raises TriggerConditionError when nothing can match.

    It selects what the conditions select; admission checks the same rules again (and the one the
    pattern cannot say: a flow does not trigger itself).
    """
    conditions = parse_conditions(trigger)
    states = set(trigger_states(trigger))
    namespaces: list[tuple[str, str]] = []
    flow_ids: set[str] = set()
    labels: dict[str, set[str]] = {}
    for condition in conditions:
        if isinstance(condition, ExecutionStatusCondition):
            if condition.in_:
                states &= set(condition.in_)
            states -= set(condition.not_in)
        elif isinstance(condition, ExecutionFlowCondition):
            namespaces.append(("EQUALS", condition.namespace))
            flow_ids.add(condition.flow_id)
        elif isinstance(condition, ExecutionNamespaceCondition):
            namespaces.append((condition.kind, condition.namespace))
        elif isinstance(condition, ExecutionLabelsCondition):
            for name, value in condition.labels.items():
                labels.setdefault(name, set()).add(value)
    never = f"trigger '{trigger.id}' can never fire"
    if not states:
        raise TriggerConditionError(
            f"{never}: its states and ExecutionStatus conditions exclude every end state"
        )
    if len(flow_ids) > 1 or any(len(values) > 1 for values in labels.values()):
        raise TriggerConditionError(f"{never}: its conditions ask for two different values of one field")
    detail: dict[str, Any] = {"state": sorted(str(s) for s in states)}
    namespace = _namespace_matcher(namespaces, never)
    if namespace is not None:
        detail["namespace"] = [namespace]
    if flow_ids:
        detail["flowId"] = sorted(flow_ids)
    if labels:
        detail["labels"] = {name: sorted(values) for name, values in sorted(labels.items())}
    detail_types: list[JsonValue] = [FINISHED_DETAIL_TYPE] if states - {State.PAUSED} else []
    if State.PAUSED in states:
        detail_types.append(PAUSED_DETAIL_TYPE)
    return {"source": [FINISHED_SOURCE], "detail-type": detail_types, "detail": detail}


def _namespace_matcher(constraints: list[tuple[str, str]], never: str) -> Any:
    """One EventBridge matcher for all the namespace conditions together (they must all hold)."""
    equals = {value for kind, value in constraints if kind == "EQUALS"}
    prefixes = sorted((v for k, v in constraints if k == "PREFIX"), key=len)
    suffixes = sorted((v for k, v in constraints if k == "SUFFIX"), key=len)
    if len(equals) > 1:
        raise TriggerConditionError(f"{never}: its conditions ask for two different namespaces")
    if equals:
        (value,) = equals
        if not all(value.startswith(p) for p in prefixes) or not all(value.endswith(s) for s in suffixes):
            raise TriggerConditionError(f"{never}: namespace '{value}' does not satisfy its other conditions")
        return value
    # The longest prefix (suffix) implies the others when they agree.
    if prefixes and any(not prefixes[-1].startswith(p) for p in prefixes):
        raise TriggerConditionError(f"{never}: its namespace prefixes disagree")
    if suffixes and any(not suffixes[-1].endswith(s) for s in suffixes):
        raise TriggerConditionError(f"{never}: its namespace suffixes disagree")
    if prefixes and suffixes:
        return {"wildcard": f"{escape_wildcard(prefixes[-1])}*{escape_wildcard(suffixes[-1])}"}
    if prefixes:
        return {"prefix": prefixes[-1]}
    if suffixes:
        return {"suffix": suffixes[-1]}
    return None


def escape_wildcard(text: str) -> str:
    """Text matched literally inside an EventBridge `wildcard` matcher."""
    return text.replace("\\", "\\\\").replace("*", "\\*")
