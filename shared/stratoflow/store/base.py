"""The contracts of the stores: what the runner, the CLI and the handlers code against.

Flows have two kinds of records:

* revisions (`FlowRecord`): immutable, one per (namespace, flow_id, revision); a revision number is
  never reused and revisions only grow: `put_flow` refuses a revision that is not above every
  existing one (ConflictError), so a deployer that lost a race re-reads and retries;
* the flow head (`FlowHead`): one small mutable record per flow saying what is live. It holds the
  live (`deployed_revision`) and highest revision numbers, and the status and errors of the last
  upload. An invalid upload is recorded on the head with `set_flow_status(..., "INVALID", errors)`;
  the live revision stays and keeps running.

`put_flow` moves the head in the same atomic write: the head takes the revision's status and errors,
and a DEPLOYED revision becomes the live one; an INVALID or DELETED revision leaves the live one.
Deleting a flow is `set_flow_status(ns, id, "DELETED")`; `set_flow_status(ns, id, "DEPLOYED")` makes
the kept live revision live again (an upload identical to it, after a deletion or an invalid upload).
`get_flow(ns, id)` (no revision) returns the live revision, or None when the flow was never deployed
or its head is DELETED. `get_flow(ns, id, n)` returns revision n whatever its status.

Times: `since` is inclusive and `until` exclusive. Execution lists are newest first by start date.
Logs come back in timestamp order; entries with equal timestamps keep the order one writer wrote them.

Concurrency (a flow's `concurrency.limit`): a flow has slots, one per execution holding one, and a
queue of waiting executions ordered by start date then id. `take_slot` is one atomic write: it counts
the holders against the limit, adds the execution, and (`from_queue`) removes it from the queue, so
two admissions can never both take the last slot and two promoters can never both promote the same
queued execution: with `from_queue`, only the caller that removes the queue entry gets TAKEN.
Without it, taking a slot the execution already holds is TAKEN again, without counting it twice.

Trigger state: one small record per (flow, trigger) that triggers keep between deliveries (disabled
by `stopAfter`, the last date a schedule fired, ...). Writes are optimistic: `put_trigger_state` with
`expected_version` refuses (ConflictError) when the stored version is another one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import Field, JsonValue

from stratoflow.domain import Execution, FlowRecord, LogEntry, Record, TaskRun, utcnow
from stratoflow.states import State


class FlowHead(Record):
    """What is live for one flow, and how its last upload went."""

    namespace: str
    flow_id: str
    status: str  # DEPLOYED | INVALID | DELETED: the outcome of the last upload or deletion
    errors: list[str] = Field(default_factory=list)
    deployed_revision: int | None = None  # the live revision; kept (not live) while DELETED
    latest_revision: int = 0  # highest revision stored, whatever its status
    updated: datetime = Field(default_factory=utcnow)


class SlotOutcome(StrEnum):
    """What `take_slot` did."""

    TAKEN = "TAKEN"  # the execution holds a slot (it may have held it already)
    FULL = "FULL"  # `limit` executions hold a slot: nothing changed
    NOT_QUEUED = "NOT_QUEUED"  # `from_queue`, but the execution is not (or no longer) queued


class TriggerState(Record):
    """What one trigger of one flow remembers between deliveries."""

    namespace: str
    flow_id: str
    trigger_id: str
    disabled: bool = False
    reason: str | None = None  # why it is disabled (e.g. stopAfter reached)
    last_date: datetime | None = None  # the last date it fired for (a schedule's scheduled date)
    last_execution_id: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)  # trigger-specific state
    version: int = 0  # set by the store: 1 on the first write, +1 on every write
    updated: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class KvGuard:
    """A condition of a write: the KV entry `namespace`/`key` holds `value` (compared as stored JSON).

    The deployer guards the write that makes a revision live with the newest upload seen of its file.
    """

    namespace: str
    key: str
    value: Any


@runtime_checkable
class ExecutionStore(Protocol):
    """Flows, executions, task runs, logs and the per-namespace KV store."""

    # --- flows ---
    def put_flow(self, record: FlowRecord, guard: KvGuard | None = None) -> None:
        """Store a new revision and move the head (ConflictError if the revision is not the highest,
        or if `guard` does not hold), in one atomic write."""

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowRecord | None:
        """Revision `revision`, or the live revision when it is None."""

    def list_flows(self, namespace: str | None = None) -> list[FlowRecord]:
        """The live revision of every flow that has one (DELETED flows excluded), by namespace and id."""

    def get_flow_head(self, namespace: str, flow_id: str) -> FlowHead | None: ...

    def list_flow_heads(self, namespace: str | None = None) -> list[FlowHead]:
        """Every flow head, INVALID and DELETED ones included, by namespace and id."""

    def set_flow_status(
        self, namespace: str, flow_id: str, status: str, errors: Sequence[str] = ()
    ) -> FlowHead:
        """Record the outcome of an upload on the head without touching revisions.

        DEPLOYED (e.g. an upload identical to the live revision) needs a live revision: NotFoundError.
        """

    # --- executions ---
    def create_execution(self, execution: Execution) -> None:
        """Store a new execution; ConflictError if the id exists (deduplicates trigger deliveries)."""

    def get_execution(self, execution_id: str) -> Execution | None: ...

    def update_execution(
        self,
        execution_id: str,
        *,
        state: State | None = None,
        outputs: dict[str, JsonValue] | None = None,
        labels: dict[str, str] | None = None,
        error: str | None = None,
        end_date: datetime | None = None,
        exit_state: State | None = None,
        expected_states: Collection[State] | None = None,
        restarts: int | None = None,
        secret_names: Collection[str] = (),
    ) -> Execution:
        """Change an execution atomically and return it; `labels` are merged into the existing ones,
        `secret_names` added to the existing ones (concurrent task runs each add theirs).

        A state change appends a StateChange. ConflictError when the transition is not allowed or the
        current state is outside `expected_states`; NotFoundError when the execution does not exist.
        """

    def list_executions(
        self,
        namespace: str | None = None,
        flow_id: str | None = None,
        state: State | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[Execution]:
        """Executions newest first (by start date, then id); `flow_id` needs `namespace`.

        `before` is a page cursor, `<sortable start>#<id>` of the last execution of the previous page
        (`rules.execution_sort_key`): only executions that sort after it (older) are listed."""

    # --- task runs ---
    def save_task_run(self, task_run: TaskRun, expected_states: Collection[State] | None = None) -> TaskRun:
        """Insert or replace by (execution_id, id); `seq` is assigned on insert and kept on updates.

        `seq` is the store clock's time of the first save, in microseconds since the epoch (a store may
        raise it to keep its own inserts strictly increasing). The execution must exist (NotFoundError).
        With `expected_states` the write happens only if the stored task run is in one of them
        (ConflictError otherwise, also when there is none): a late end must not overwrite a KILLED run.
        """

    def get_task_run(self, execution_id: str, task_run_id: str) -> TaskRun | None: ...

    def get_task_runs(self, execution_id: str, task_run_ids: Sequence[str]) -> list[TaskRun]:
        """The task runs among these ids that exist, in creation order (reads by key: no partition
        scan, so the cost follows the ids asked for, not the execution's size)."""

    def list_task_runs(self, execution_id: str, task_id: str | None = None) -> list[TaskRun]:
        """Task runs in creation order: by `seq`, then by id when two share one."""

    # --- logs ---
    def append_logs(self, entries: Sequence[LogEntry]) -> None:
        """Store log lines (messages over MAX_LOG_MESSAGE_BYTES are cut)."""

    def list_logs(
        self,
        execution_id: str,
        task_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """The first `limit` log lines at or after `since`, in timestamp then write order."""

    # --- KV ---
    def kv_set(self, namespace: str, key: str, value: JsonValue, ttl_seconds: int | None = None) -> None:
        """Store a JSON-serialisable value, expiring after `ttl_seconds` when given."""

    def kv_get(self, namespace: str, key: str) -> tuple[bool, JsonValue]:
        """(found, value); an expired entry is not found even before the backend purges it."""

    def kv_swap(
        self,
        namespace: str,
        key: str,
        value: JsonValue,
        expected: JsonValue = None,
        ttl_seconds: int | None = None,
    ) -> bool:
        """Set the entry only if its live value is `expected` (None: there is no live entry), in one
        atomic write; True when it was set."""

    def kv_delete(self, namespace: str, key: str) -> bool:
        """True when a live entry existed."""

    def kv_list(self, namespace: str) -> list[str]:
        """Keys of the live entries of a namespace, sorted."""

    # --- concurrency slots ---
    def take_slot(self, execution: Execution, limit: int, *, from_queue: bool = False) -> SlotOutcome:
        """Take one of the flow's `limit` slots for `execution` in one atomic write (see above)."""

    def release_slot(self, namespace: str, flow_id: str, execution_id: str) -> bool:
        """Free the execution's slot; True when it held one."""

    def slot_holders(self, namespace: str, flow_id: str) -> list[str]:
        """Ids of the executions holding a slot of the flow, sorted."""

    def enqueue_execution(self, execution: Execution) -> None:
        """Put the execution in its flow's queue (a no-op when it is there already)."""

    def queued_executions(self, namespace: str, flow_id: str, limit: int = 100) -> list[str]:
        """Ids of the flow's queued executions, oldest first (by start date, then id)."""

    # --- trigger state ---
    def get_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> TriggerState | None: ...

    def put_trigger_state(self, state: TriggerState, expected_version: int | None = None) -> TriggerState:
        """Store the state and return it with its new version.

        With `expected_version` the write happens only if the stored version is that one (0: no state
        stored yet), else ConflictError.
        """

    def list_trigger_states(
        self, namespace: str | None = None, flow_id: str | None = None
    ) -> list[TriggerState]:
        """Trigger states by namespace, flow id and trigger id; `flow_id` needs `namespace`."""

    def delete_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> bool:
        """True when a state existed."""

    def close(self) -> None: ...


@runtime_checkable
class BlobStore(Protocol):
    """Bytes under '/'-separated keys, addressed by `strato:///<key>` URIs."""

    def put(self, key: str, data: bytes) -> str:
        """Store `data` under `key` (replacing it) and return its URI; ValueError for a bad key."""

    def get(self, uri: str) -> bytes:
        """The stored bytes; NotFoundError when nothing is stored there."""

    def exists(self, uri: str) -> bool: ...

    def delete(self, uri: str) -> None:
        """Remove the data; deleting a missing key is not an error."""

    def list_keys(self, prefix: str) -> list[str]:
        """The keys stored under the folder `prefix` (`a/b` lists `a/b/c` and `a/b/d/e`, not `a/bc`),
        sorted; ValueError for a bad prefix."""

    def locate(self, key: str) -> tuple[str, str]:
        """The (bucket, object key) of `key`, as a distributed Map's ItemReader and ResultWriter name it."""
