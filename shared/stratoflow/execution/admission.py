"""Admission: the one path every execution start takes (CLI, triggers, webhooks).

Inputs are typed and validated, the execution is recorded before anything runs, and a start that
names its execution id (a trigger event's deterministic id) is started once however often it is
delivered. A trigger delivery is checked and completed first (`stratoflow.execution.deliveries`).

Concurrency (`concurrency: {limit, behavior}`): an execution runs only while it holds one of the
flow's `limit` slots (`stratoflow.execution.slots`). What `admit` returns tells the caller what to do:

| state      | meaning                                                 | caller                         |
| ---------- | ------------------------------------------------------- | ------------------------------ |
| CREATED    | admitted (holding a slot when the flow has a limit)     | starts it                      |
| RUNNING    | queued, then promoted at once (a slot had just freed)   | starts it                      |
| QUEUED     | waiting for a slot (`behavior: QUEUE`)                  | nothing: a promotion starts it |
| CANCELLED  | refused, `behavior: CANCEL`; `error` says why           | nothing                        |
| FAILED     | refused, `behavior: FAIL`; `error` says why             | nothing                        |

`should_start(execution)` says it. When an execution ends, `slots.release_and_promote` (called by
`finalize.finish_execution`) frees its slot and moves the oldest queued executions into the free
slots, as RUNNING: the caller starts each one it returns.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from stratoflow.domain import Execution
from stratoflow.errors import ConflictError, StratoflowError
from stratoflow.execution.deliveries import resolve_trigger
from stratoflow.execution.ids import new_execution_id
from stratoflow.execution.lineage import CORRELATION_ID, start_correlation
from stratoflow.execution.masking import secret_input_ids
from stratoflow.execution.slots import apply_limit
from stratoflow.flow import Flow, resolve_inputs
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore


class FlowDisabledError(StratoflowError):
    """The flow is disabled: nothing may start it."""


def admit(
    store: ExecutionStore,
    flow: Flow,
    revision: int,
    inputs: Mapping[str, JsonValue] | None = None,
    *,
    labels: dict[str, str] | None = None,
    trigger: dict[str, JsonValue] | None = None,
    execution_id: str | None = None,
    parent_execution_id: str | None = None,
    concurrency: bool = True,
) -> tuple[Execution, bool]:
    """Validate and record a new execution; returns it and whether it is new (see the table above).

    Raises InputError before anything is recorded when an input is missing or invalid, and
    `TriggerSkipped` when a trigger delivery must start nothing. `concurrency=False` skips the
    flow's limit (an execution that already holds its slot).
    """
    if flow.disabled:
        raise FlowDisabledError(f"flow {flow.namespace}.{flow.id} is disabled: it cannot be started")
    start = resolve_trigger(store, flow, trigger, dict(inputs or {}), dict(labels or {}))
    resolved = resolve_inputs(flow, start.inputs)
    execution_id = execution_id or new_execution_id()
    correlation = start_correlation(execution_id, start.labels, start.trigger)
    execution = Execution(
        id=execution_id,
        namespace=flow.namespace,
        flow_id=flow.id,
        revision=revision,
        state=State.CREATED,
        inputs=resolved,
        secret_inputs=secret_input_ids(flow, resolved),
        labels={**flow.labels, **start.labels, CORRELATION_ID: correlation},
        trigger=start.trigger,
        parent_execution_id=parent_execution_id,
        concurrency_limited=flow.concurrency is not None,
        has_sla=bool(flow.sla),
    )
    try:
        store.create_execution(execution)
    except ConflictError:
        existing = store.get_execution(execution.id)
        if existing is None:
            raise
        return existing, False
    if concurrency and flow.concurrency is not None:
        execution = apply_limit(store, execution, flow.concurrency.limit, flow.concurrency.behavior)
    return execution, True


# Admitted and not waiting for a slot: whoever runs executions (the local platform, the cloud starter)
# starts one in these states, and only these.
STARTABLE: frozenset[State] = frozenset({State.CREATED, State.RUNNING})


def should_start(execution: Execution) -> bool:
    """True when the caller of `admit` (or of a promotion) must start the execution now."""
    return execution.state in STARTABLE


def execution_input(execution: Execution) -> dict[str, JsonValue]:
    """The state machine input of an execution: a reference, never data."""
    return {
        "execution": {
            "id": execution.id,
            "namespace": execution.namespace,
            "flowId": execution.flow_id,
            "revision": execution.revision,
        },
        "scope": None,
    }
