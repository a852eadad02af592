"""`sla:` on a flow, as Kestra declares it: what an execution must meet, and what a miss does.

| type                | with        | checked                                                        |
| ------------------- | ----------- | -------------------------------------------------------------- |
| MAX_DURATION        | `duration`  | while it runs: it must end within `duration` of its start      |
| EXECUTION_ASSERTION | `assert`    | when it ends: the expression must be truthy                    |

`behavior` says what a miss does: FAIL (the execution ends FAILED), CANCEL (it ends KILLED) or NONE
(it only gets the SLA's `labels`). Every miss adds the SLA's labels and is recorded in the history
with the SLA's id (`stratoflow.execution.sla`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from stratoflow.flow.fields import Duration, InputId, LabelMap, StrictModel

Behavior = Literal["FAIL", "CANCEL", "NONE"]
# Behaviors the state machine's own TimeoutSeconds carries out (a TIMED_OUT end, then recorded as the
# SLA says); NONE must let the execution go on, so a timer outside the execution applies it.
ENDING_BEHAVIORS: frozenset[str] = frozenset({"FAIL", "CANCEL"})


class _Sla(StrictModel):
    id: InputId
    behavior: Behavior
    labels: LabelMap = Field(default_factory=dict)


class MaxDuration(_Sla):
    """The execution must end within `duration` of its start."""

    type: Literal["MAX_DURATION"]
    duration: Duration


class ExecutionAssertion(_Sla):
    """`assert` must render truthy when the execution ends."""

    type: Literal["EXECUTION_ASSERTION"]
    assert_: str = Field(alias="assert")


def _sla_type(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("MAX_DURATION", "EXECUTION_ASSERTION") else None


SlaItem = Annotated[
    Annotated[MaxDuration, Tag("MAX_DURATION")] | Annotated[ExecutionAssertion, Tag("EXECUTION_ASSERTION")],
    Discriminator(
        _sla_type,
        custom_error_type="sla_type",
        custom_error_message="an SLA needs 'type': MAX_DURATION (with 'duration') or "
        "EXECUTION_ASSERTION (with 'assert')",
    ),
]


def execution_timeout(slas: list[MaxDuration | ExecutionAssertion]) -> MaxDuration | None:
    """The MAX_DURATION SLA that ends an execution first (FAIL or CANCEL): the state machine's timeout."""
    ending = [s for s in slas if isinstance(s, MaxDuration) and s.behavior in ENDING_BEHAVIORS]
    return min(ending, key=lambda s: s.duration, default=None)


def timer_slas(slas: list[MaxDuration | ExecutionAssertion]) -> list[MaxDuration]:
    """The MAX_DURATION SLAs that only label the execution: a timer outside it applies them."""
    return [s for s in slas if isinstance(s, MaxDuration) and s.behavior not in ENDING_BEHAVIORS]


def exceeded(sla: MaxDuration, ran: timedelta) -> bool:
    return ran > sla.duration
