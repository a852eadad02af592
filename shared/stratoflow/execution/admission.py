"""Admission: the one path every execution start takes (CLI, triggers, webhooks).

Inputs are typed and validated, the execution is recorded before anything runs, and a start that
names its execution id (a trigger event's deterministic id) is started once however often it is
delivered. A trigger delivery is checked and completed first (`stratoflow.execution.deliveries`).

Concurrency (`concurrency: {limit, behavior}`): an execution runs only while it holds one of the
flow's `limit` slots (see the store's `take_slot`). What `admit` returns tells the caller what to do:

| state      | meaning                                                 | caller                         |
| ---------- | ------------------------------------------------------- | ------------------------------ |
| CREATED    | admitted (holding a slot when the flow has a limit)     | starts it                      |
| RUNNING    | queued, then promoted at once (a slot had just freed)   | starts it                      |
| QUEUED     | waiting for a slot (`behavior: QUEUE`)                  | nothing: a promotion starts it |
| CANCELLED  | refused, `behavior: CANCEL`; `error` says why           | nothing                        |
| FAILED     | refused, `behavior: FAIL`; `error` says why             | nothing                        |

`should_start(execution)` says it. When an execution ends, `release_and_promote` (called by
`finalize.finish_execution`) frees its slot and moves the oldest queued executions into the free
slots, as RUNNING: the caller starts each one it returns.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import JsonValue

from stratoflow.domain import Execution
from stratoflow.errors import ConflictError, StratoflowError
from stratoflow.execution.deliveries import resolve_trigger
from stratoflow.execution.flows import live_flow, revision_flow
from stratoflow.execution.lineage import CORRELATION_ID, start_correlation
from stratoflow.execution.masking import secret_input_ids
from stratoflow.flow import Flow, resolve_inputs
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore, SlotOutcome

_ALPHABET = string.ascii_letters + string.digits


def new_execution_id() -> str:
    """A random 22-character base62 id, as Kestra's (and valid as a Step Functions execution name)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


class FlowDisabledError(StratoflowError):
    """The flow is disabled: nothing may start it."""


# A flow without a limit (any more) promotes every queued execution.
UNLIMITED = 2**31 - 1
_QUEUE_BATCH = 25


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
        execution = _apply_limit(store, execution, flow.concurrency.limit, flow.concurrency.behavior)
    return execution, True


def admit_recorded(store: ExecutionStore, flow: Flow, execution: Execution) -> Execution:
    """Apply the flow's concurrency limit to an execution recorded earlier, still CREATED (a flow
    retry whose interval passed): it takes a slot, queues or is refused as in `admit`."""
    if flow.concurrency is None:
        return execution
    return _apply_limit(store, execution, flow.concurrency.limit, flow.concurrency.behavior)


# Admitted and not waiting for a slot: whoever runs executions (the local platform, the cloud starter)
# starts one in these states, and only these.
STARTABLE: frozenset[State] = frozenset({State.CREATED, State.RUNNING})


def should_start(execution: Execution) -> bool:
    """True when the caller of `admit` (or of a promotion) must start the execution now."""
    return execution.state in STARTABLE


def _apply_limit(store: ExecutionStore, execution: Execution, limit: int, behavior: str) -> Execution:
    """Take a slot for a recorded execution, else queue or refuse it as `behavior` says."""
    if store.take_slot(execution, limit) == SlotOutcome.TAKEN:
        return execution
    if behavior == "QUEUE":
        return enqueue(store, store.update_execution(execution.id, state=State.QUEUED), limit)
    state = State.CANCELLED if behavior == "CANCEL" else State.FAILED
    running = len(store.slot_holders(execution.namespace, execution.flow_id))
    message = (
        f"concurrency limit reached: {running} of {limit} allowed execution(s) of "
        f"{execution.namespace}.{execution.flow_id} running (behavior {behavior})"
    )
    refused: Execution = store.update_execution(
        execution.id, state=state, error=message, end_date=datetime.now(UTC)
    )
    return refused


def enqueue(store: ExecutionStore, queued: Execution, limit: int) -> Execution:
    """Put an execution recorded QUEUED in its flow's queue; RUNNING if a slot freed meanwhile."""
    store.enqueue_execution(queued)
    # A slot freed between the refusal and the enqueue was offered to the queue before this
    # execution was in it: ask once more, or it could wait with a slot free and nobody running.
    # (Reading the holders first spares the conditional write when the slots are still full.)
    free = len(store.slot_holders(queued.namespace, queued.flow_id)) < limit
    if free and store.take_slot(queued, limit, from_queue=True) == SlotOutcome.TAKEN:
        return _run_promoted(store, queued) or store.get_execution(queued.id) or queued
    return queued


def _run_promoted(store: ExecutionStore, execution: Execution) -> Execution | None:
    """Mark a queued execution that took a slot RUNNING; None if it is not QUEUED any more."""
    try:
        running: Execution = store.update_execution(
            execution.id, state=State.RUNNING, expected_states=[State.QUEUED]
        )
        return running
    except ConflictError:
        current = store.get_execution(execution.id)
        if current is None or current.state.is_terminal:
            # Killed (or cancelled) while it waited: the slot goes back.
            store.release_slot(execution.namespace, execution.flow_id, execution.id)
        return None


def promote_queued(store: ExecutionStore, namespace: str, flow_id: str, limit: int) -> list[Execution]:
    """Move the flow's oldest queued executions into its free slots; returns them, RUNNING, to start."""
    promoted: list[Execution] = []
    seen: set[str] = set()
    free = limit - len(store.slot_holders(namespace, flow_id))
    while free > 0:
        batch = [i for i in store.queued_executions(namespace, flow_id, _QUEUE_BATCH) if i not in seen]
        if not batch:
            break
        for execution_id in batch:
            seen.add(execution_id)
            execution = store.get_execution(execution_id)
            if execution is None:
                continue  # an entry without its execution cannot run: leave it
            outcome = store.take_slot(execution, limit, from_queue=True)
            if outcome == SlotOutcome.FULL:  # a new admission took the slot first
                return promoted
            if outcome == SlotOutcome.TAKEN:
                started = _run_promoted(store, execution)
                if started is None:  # it ended while queued, and its slot (normally) went back
                    free = limit - len(store.slot_holders(namespace, flow_id))
                else:
                    promoted.append(started)
                    free -= 1
                if free <= 0:
                    break
    return promoted


def concurrency_limit(
    store: ExecutionStore, namespace: str, flow_id: str, revision: int | None = None
) -> int:
    """The live revision's limit (else revision `revision`'s); UNLIMITED without one."""
    flow = live_flow(store, namespace, flow_id)
    if flow is None and revision is not None:
        flow = revision_flow(store, namespace, flow_id, revision)
    if flow is None or flow.concurrency is None:
        return UNLIMITED
    limit: int = flow.concurrency.limit
    return limit


def release_and_promote(store: ExecutionStore, execution: Execution) -> list[Execution]:
    """Free the slot of an execution that ended; returns the queued executions promoted (to start)."""
    if not store.release_slot(execution.namespace, execution.flow_id, execution.id):
        return []
    limit = concurrency_limit(store, execution.namespace, execution.flow_id, execution.revision)
    return promote_queued(store, execution.namespace, execution.flow_id, limit)


def sweep_slots(store: ExecutionStore, namespace: str, flow_id: str) -> list[Execution]:
    """Free the slots of executions that ended without releasing them, then promote (to start).

    An execution killed before it started (`strato kill` on a CREATED one) ends outside of
    finalize: the periodic sweep gives its slot back.
    """
    for holder in store.slot_holders(namespace, flow_id):
        execution = store.get_execution(holder)
        if execution is None or execution.state.is_terminal:
            store.release_slot(namespace, flow_id, holder)
    return promote_queued(store, namespace, flow_id, concurrency_limit(store, namespace, flow_id))


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
