"""Flow-trigger conditions: does the end (or a pause) of an execution start another flow through its
`Flow` trigger.

A `Flow` trigger matches a finished execution when its state is one of `states` (every end state
when empty) and every one of its `conditions` holds; with PAUSED among `states` it also matches each
pause of an execution, seen as PAUSED (`execution.occurrences`). Conditions are Kestra's, on the upstream
execution: `ExecutionFlow` (namespace and flowId), `ExecutionNamespace` (namespace, comparison
EQUALS, PREFIX or SUFFIX), `ExecutionStatus` (`in`, `notIn`) and `ExecutionLabels` (labels), by their
short, `io.kestra.plugin.core.condition.*` or legacy `io.kestra.core.models.conditions.types.*Condition`
names. A flow is never started by its own executions (a loop nobody wants).

Admission checks these rules on every delivery (`stratoflow.execution.deliveries`); the triggers
package uses them to find the flows an end starts, and to build the cloud rule's pattern.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, JsonValue, ValidationError

from stratoflow.domain import Execution
from stratoflow.errors import StratoflowError
from stratoflow.flow import Flow, FlowTrigger
from stratoflow.flow.fields import LabelMap, StrictModel
from stratoflow.states import State

# The states an execution ends in (SKIPPED and RETRIED are task-run states).
END_STATES: frozenset[State] = frozenset(
    {State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED}
)
# What a Flow trigger may fire on: an end, or (as Kestra) each time the execution reaches PAUSED.
FIRING_STATES: frozenset[State] = END_STATES | {State.PAUSED}


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


def trigger_states(trigger: FlowTrigger) -> frozenset[State]:
    """The upstream states the trigger fires on: `states` (all end states when empty)."""
    return frozenset(trigger.states) & FIRING_STATES if trigger.states else END_STATES


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


def flow_trigger_variables(upstream: Execution) -> dict[str, JsonValue]:
    """`trigger.*` of an execution started by a Flow trigger (Kestra's names)."""
    return {
        "executionId": upstream.id,
        "namespace": upstream.namespace,
        "flowId": upstream.flow_id,
        "flowRevision": upstream.revision,
        "state": str(upstream.state),
        "outputs": upstream.outputs,
        "labels": dict[str, JsonValue](upstream.labels),
    }
