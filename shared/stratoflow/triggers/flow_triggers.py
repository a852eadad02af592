"""Flow triggers: start a flow when an execution of another flow ends.

A `Flow` trigger matches a finished execution when its state is one of `states` (every end state
when empty) and every one of its `conditions` holds. Conditions are Kestra's, on the upstream
execution: `ExecutionFlow` (namespace and flowId), `ExecutionNamespace` (namespace, comparison
EQUALS, PREFIX or SUFFIX), `ExecutionStatus` (`in`, `notIn`) and `ExecutionLabels` (labels), by their
short, `io.kestra.plugin.core.condition.*` or legacy `io.kestra.core.models.conditions.types.*Condition`
names. A flow is never started by its own executions (a loop nobody wants).

The same rules make the EventBridge pattern of the cloud rule (`upstream_pattern`) on Stratoflow's
"Execution Finished" events, whose detail is `finished_event_detail(execution)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError

from stratoflow.domain import Execution
from stratoflow.errors import StratoflowError
from stratoflow.flow import Flow, FlowTrigger
from stratoflow.flow.fields import LabelMap, StrictModel
from stratoflow.states import State

FINISHED_SOURCE = "stratoflow"
FINISHED_DETAIL_TYPE = "Execution Finished"
# The states an execution ends in (SKIPPED and RETRIED are task-run states).
END_STATES: frozenset[State] = frozenset(
    {State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED}
)


class TriggerConditionError(StratoflowError):
    """A trigger condition is unknown or malformed."""


class UpstreamCondition(StrictModel):
    """A condition on the execution that ended."""

    names: ClassVar[tuple[str, ...]] = ()
    type: str

    def matches(self, upstream: Execution) -> bool:
        raise NotImplementedError


class ExecutionFlowCondition(UpstreamCondition):
    names: ClassVar[tuple[str, ...]] = ("ExecutionFlow",)
    namespace: str
    flow_id: str

    def matches(self, upstream: Execution) -> bool:
        return upstream.namespace == self.namespace and upstream.flow_id == self.flow_id


class ExecutionNamespaceCondition(UpstreamCondition):
    names: ClassVar[tuple[str, ...]] = ("ExecutionNamespace",)
    namespace: str
    comparison: Literal["EQUALS", "PREFIX", "SUFFIX"] | None = None
    prefix: bool = False  # Kestra's older form of `comparison: PREFIX`

    @property
    def kind(self) -> str:
        return self.comparison or ("PREFIX" if self.prefix else "EQUALS")

    def matches(self, upstream: Execution) -> bool:
        if self.kind == "PREFIX":
            return upstream.namespace.startswith(self.namespace)
        if self.kind == "SUFFIX":
            return upstream.namespace.endswith(self.namespace)
        return upstream.namespace == self.namespace


class ExecutionStatusCondition(UpstreamCondition):
    names: ClassVar[tuple[str, ...]] = ("ExecutionStatus",)
    in_: list[State] = Field(default_factory=list, alias="in")
    not_in: list[State] = Field(default_factory=list)

    def matches(self, upstream: Execution) -> bool:
        return (not self.in_ or upstream.state in self.in_) and upstream.state not in self.not_in


class ExecutionLabelsCondition(UpstreamCondition):
    names: ClassVar[tuple[str, ...]] = ("ExecutionLabels",)
    labels: LabelMap

    def matches(self, upstream: Execution) -> bool:
        return all(upstream.labels.get(name) == value for name, value in self.labels.items())


def _condition_types() -> dict[str, type[UpstreamCondition]]:
    types: dict[str, type[UpstreamCondition]] = {}
    for cls in (
        ExecutionFlowCondition,
        ExecutionNamespaceCondition,
        ExecutionStatusCondition,
        ExecutionLabelsCondition,
    ):
        for short in cls.names:
            for name in (
                short,
                f"{short}Condition",
                f"io.kestra.plugin.core.condition.{short}",
                f"io.kestra.core.models.conditions.types.{short}Condition",
            ):
                types[name] = cls
    return types


CONDITION_TYPES = _condition_types()


def parse_conditions(trigger: FlowTrigger) -> list[UpstreamCondition]:
    """The trigger's conditions as models; TriggerConditionError names the first bad one."""
    parsed = []
    for index, raw in enumerate(trigger.conditions):
        where = f"trigger '{trigger.id}' conditions[{index}]"
        cls = CONDITION_TYPES.get(str(raw.get("type")))
        if cls is None:
            known = ", ".join(sorted({c.names[0] for c in CONDITION_TYPES.values()}))
            raise TriggerConditionError(
                f"{where}: unsupported condition type {raw.get('type')!r} (supported: {known})"
            )
        try:
            parsed.append(cls.model_validate(raw))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'condition'}: {e['msg']}" for e in error.errors()
            )
            raise TriggerConditionError(f"{where}: {problems}") from None
    return parsed


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


def trigger_states(trigger: FlowTrigger) -> frozenset[State]:
    """The upstream end states the trigger fires on: `states` (all end states when empty)."""
    return frozenset(trigger.states) & END_STATES if trigger.states else END_STATES


def flow_trigger_matches(flow: Flow, trigger: FlowTrigger, upstream: Execution) -> bool:
    """True when `upstream`, finished, starts `flow` through `trigger`; malformed conditions never match."""
    if (upstream.namespace, upstream.flow_id) == (flow.namespace, flow.id):
        return False
    if upstream.state not in trigger_states(trigger):
        return False
    try:
        conditions = parse_conditions(trigger)
    except TriggerConditionError:
        return False
    return all(condition.matches(upstream) for condition in conditions)


def matching_flow_triggers(
    finished_execution: Execution, flows: Iterable[Flow]
) -> list[tuple[Flow, FlowTrigger]]:
    """The (flow, trigger) pairs that the end of `finished_execution` starts (enabled ones only)."""
    if not finished_execution.state.is_terminal:
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


def flow_trigger_variables(upstream: Execution) -> dict[str, Any]:
    """`trigger.*` of an execution started by a Flow trigger (Kestra's names)."""
    return {
        "executionId": upstream.id,
        "namespace": upstream.namespace,
        "flowId": upstream.flow_id,
        "flowRevision": upstream.revision,
        "state": str(upstream.state),
        "outputs": upstream.outputs,
        "labels": upstream.labels,
    }


def finished_event_detail(execution: Execution) -> dict[str, Any]:
    """The detail of Stratoflow's "Execution Finished" event (outputs stay in the store: events are small)."""
    return {
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "revision": execution.revision,
        "state": str(execution.state),
        "labels": execution.labels,
    }


# --- the EventBridge pattern -------------------------------------------------------------------


def upstream_pattern(flow: Flow, trigger: FlowTrigger) -> dict[str, Any]:
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
    return {"source": [FINISHED_SOURCE], "detail-type": [FINISHED_DETAIL_TYPE], "detail": detail}


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
