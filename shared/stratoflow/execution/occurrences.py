"""What a Flow trigger fires once for: the end of an execution, or each of its pauses.

Kestra fires Flow triggers when an upstream execution ends and when it reaches PAUSED. A pause is an
occurrence of its own: the n-th PAUSED in the execution's state history (branches pausing together
pause it once), named `<execution id>-p<n>`; the end is named by the execution id. The execution a
trigger starts is named after the occurrence, so each one fires once, however often it is delivered.

A leaf (the domain and the states only): the task-runner function imports it at INIT to publish its
"Execution Paused" events.
"""

from __future__ import annotations

from pydantic import JsonValue

from stratoflow.domain import Execution
from stratoflow.states import State

EVENT_SOURCE = "stratoflow"
PAUSED_DETAIL_TYPE = "Execution Paused"
"""Published by the task runner each time a Pause records an execution PAUSED."""


def pauses_of(execution: Execution) -> int:
    """How many times the execution reached PAUSED."""
    return sum(1 for change in execution.state_history if change.state == State.PAUSED)


def as_paused(execution: Execution) -> Execution:
    """The execution as a trigger sees it at a pause (it may have been resumed since)."""
    return execution.model_copy(update={"state": State.PAUSED})


def occurrence_id(execution_id: str, pause: int = 0) -> str:
    """The end of an execution (`pause` 0), or its n-th pause."""
    return execution_id if pause == 0 else f"{execution_id}-p{pause}"


def occurrence_fields(execution_id: str, pause: int) -> dict[str, JsonValue]:
    """What the rule of a trigger on PAUSED names its start by, in an event's detail."""
    return {"occurrence": occurrence_id(execution_id, pause), "pause": pause}


def paused_event_detail(execution: Execution) -> dict[str, JsonValue]:
    """The detail of "Execution Paused": an "Execution Finished" detail of the execution as PAUSED, and
    which of its pauses this is (the latest one recorded)."""
    return {
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "revision": execution.revision,
        "state": str(State.PAUSED),
        "labels": dict[str, JsonValue](execution.labels),
        **occurrence_fields(execution.id, pauses_of(execution)),
    }
