"""Kestra's `preconditions` of a Flow trigger, read as the legacy `conditions` they stand for."""

from __future__ import annotations

from typing import Any

from pydantic import Field, JsonValue, field_validator

from stratoflow.flow.fields import LabelMap, StrictModel, located_error
from stratoflow.states import State


class UpstreamFlow(StrictModel):
    """One entry of `preconditions.flows`: the upstream's namespace, flow, end states and labels."""

    namespace: str
    flow_id: str | None = None
    states: list[State] = Field(default_factory=list)
    labels: LabelMap = Field(default_factory=dict)


class Preconditions(StrictModel):
    """Kestra's current form of a Flow trigger's conditions. Several flows that must all end within a
    time window need state kept between their executions: only one upstream flow is supported."""

    id: str | None = None
    flows: list[UpstreamFlow] = Field(min_length=1, max_length=1)

    @field_validator("flows", mode="before")
    @classmethod
    def _one_flow(cls, flows: Any) -> Any:
        if isinstance(flows, list) and len(flows) > 1:
            raise located_error(
                (1,),
                "only one upstream flow is supported: waiting until several flows have all ended (a "
                "time window) is not; use one Flow trigger per upstream flow, or a flow that runs them",
                flows[1],
            )
        return flows

    def conditions(self) -> list[dict[str, JsonValue]]:
        """The legacy `conditions` these preconditions mean (Flow trigger conditions are checked on them)."""
        upstream = self.flows[0]
        conditions: list[dict[str, JsonValue]] = []
        if upstream.flow_id is not None:
            conditions.append(
                {"type": "ExecutionFlow", "namespace": upstream.namespace, "flowId": upstream.flow_id}
            )
        else:
            conditions.append({"type": "ExecutionNamespace", "namespace": upstream.namespace})
        if upstream.states:
            conditions.append({"type": "ExecutionStatus", "in": [str(s) for s in upstream.states]})
        if upstream.labels:
            conditions.append({"type": "ExecutionLabels", "labels": dict(upstream.labels)})
        return conditions
