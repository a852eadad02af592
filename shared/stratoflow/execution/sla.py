"""Flow SLAs at run time: which SLAs an execution missed, and what a miss does to it.

Nothing polls. A MAX_DURATION SLA whose behavior ends the execution (FAIL, CANCEL) is the state
machine's `TimeoutSeconds` (stratoflow.compiler.flow): Step Functions (or the local engine, on its
clock) ends it TIMED_OUT, and its end is recorded as that SLA says. A MAX_DURATION with `NONE` is
checked against the execution's run time when it ends (and, in the cloud, by a one-time timer at its
deadline: `stratoflow.cloud.runtime.sla_timer`). An EXECUTION_ASSERTION is rendered when the execution ends,
with the variables flow outputs see; a falsy value (or one that fails to render) is a miss.

A miss adds the SLA's labels, writes a WARN line to the execution's logs naming the SLA's id, and
for FAIL ends the execution FAILED, for CANCEL KILLED, each with an error naming the SLA. Each SLA is
applied at most once per run of an execution (a marker in the store: the timer and the end may
both see it; a restart is judged again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import JsonValue

from stratoflow import expressions
from stratoflow.domain import Execution, LogEntry
from stratoflow.flow import Flow
from stratoflow.flow.fields import format_iso_duration
from stratoflow.flow.sla import ExecutionAssertion, MaxDuration, exceeded, execution_timeout
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore

MARKER_NAMESPACE = "__control__"
BEHAVIOR_STATES = {"FAIL": State.FAILED, "CANCEL": State.KILLED}


@dataclass(frozen=True)
class SlaMiss:
    """One SLA an execution missed, and why."""

    sla: MaxDuration | ExecutionAssertion
    reason: str

    @property
    def message(self) -> str:
        return f"SLA '{self.sla.id}' ({self.sla.type}, behavior {self.sla.behavior}) missed: {self.reason}"


def marker_key(execution: Execution, sla_id: str) -> str:
    """Once per SLA and run: a restarted execution is judged again (its durations start again too)."""
    return f"sla/{execution.id}/{execution.restarts}/{sla_id}"


def misses_at_end(
    flow: Flow,
    execution: Execution,
    status: str,
    ran: timedelta | None,
    context: Callable[[], dict[str, JsonValue]] | None = None,
) -> list[SlaMiss]:
    """The SLAs an execution that ended with the engine's `status` after `ran` missed.

    `context` builds the assertion's variables (a callable, so nothing is loaded without an assertion).
    """
    misses: list[SlaMiss] = []
    timeout = execution_timeout(flow.sla)
    for sla in flow.sla:
        if isinstance(sla, MaxDuration):
            if status == "TIMED_OUT" and sla is timeout:
                misses.append(SlaMiss(sla, f"the execution ran longer than {_human(sla.duration)}"))
            elif sla.behavior == "NONE" and ran is not None and exceeded(sla, ran):
                misses.append(
                    SlaMiss(sla, f"the execution ran {_human(ran)}, longer than {_human(sla.duration)}")
                )
        elif context is not None:
            failed = _assertion_failed(sla, context)
            if failed is not None:
                misses.append(SlaMiss(sla, failed))
    return misses


def _assertion_failed(sla: ExecutionAssertion, context: Callable[[], dict[str, Any]]) -> str | None:
    # Deferred: jinja2 (~170 ms) stays out of the INIT of the handlers that import the SLA rules
    # (admission's timers, execution events); only an EXECUTION_ASSERTION renders.

    try:
        value = expressions.render(sla.assert_, context())
    except expressions.ExpressionError as error:
        return f"its assertion could not be evaluated: {error}"
    except Exception as error:  # an output that cannot be read: a miss, never a lost end
        return f"its assertion could not be evaluated: {type(error).__name__}: {error}"
    return None if expressions.is_truthy(value) else f"its assertion {sla.assert_!r} is {value!r}"


def record_misses(store: ExecutionStore, execution: Execution, misses: list[SlaMiss]) -> list[SlaMiss]:
    """Add each miss's labels and log line (once per SLA and execution); returns the new ones."""
    new: list[SlaMiss] = []
    for miss in misses:
        key = marker_key(execution, miss.sla.id)
        found, _ = store.kv_get(MARKER_NAMESPACE, key)
        if found:
            continue
        store.kv_set(MARKER_NAMESPACE, key, {"sla": miss.sla.id, "reason": miss.reason})
        if miss.sla.labels:
            store.update_execution(execution.id, labels=dict(miss.sla.labels))
        store.append_logs([LogEntry(execution_id=execution.id, level="WARN", message=miss.message)])
        new.append(miss)
    return new


def ending_state(misses: list[SlaMiss]) -> tuple[State, str] | None:
    """The state the missed SLAs end the execution in (FAILED wins over KILLED), with its error."""
    for behavior in ("FAIL", "CANCEL"):
        for miss in misses:
            if miss.sla.behavior == behavior:
                return BEHAVIOR_STATES[behavior], miss.message
    return None


def _human(duration: timedelta) -> str:
    return format_iso_duration(duration)
