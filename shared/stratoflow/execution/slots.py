"""Concurrency slots and each flow's queue: an execution runs only while it holds one of its flow's
`limit` slots (`concurrency: {limit, behavior}`; see the store's `take_slot`).

Apart from admission (`stratoflow.execution.admission`, which admits new executions through here)
because more than admission takes and frees slots: a restart re-enters the queue (execution.control,
which the task runner imports for a subflow's restart), a flow retry's recorded execution takes its
slot later, and an execution's end frees its slot and promotes the oldest queued ones
(`release_and_promote`, called by `finalize.finish_execution`). None of them needs what admission
needs to check a trigger delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stratoflow.domain import Execution
from stratoflow.errors import ConflictError
from stratoflow.execution.flows import live_flow, revision_flow
from stratoflow.flow import Flow
from stratoflow.states import State
from stratoflow.store.base import ExecutionStore, SlotOutcome

# A flow without a limit (any more) promotes every queued execution.
UNLIMITED = 2**31 - 1
_QUEUE_BATCH = 25


def admit_recorded(store: ExecutionStore, flow: Flow, execution: Execution) -> Execution:
    """Apply the flow's concurrency limit to an execution recorded earlier, still CREATED (a flow
    retry whose interval passed): it takes a slot, queues or is refused as in `admit`."""
    if flow.concurrency is None:
        return execution
    return apply_limit(store, execution, flow.concurrency.limit, flow.concurrency.behavior)


def apply_limit(store: ExecutionStore, execution: Execution, limit: int, behavior: str) -> Execution:
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
