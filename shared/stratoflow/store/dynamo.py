"""The cloud execution store: one DynamoDB table (item layout in `dynamo_items`).

Every guarded change is a single conditional write (or a transaction): an execution's state moves
under `#state IN (<states the transition table allows>)`, never after a read of the state.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue
from pydantic_core import to_jsonable_python

from stratoflow.domain import Execution, FlowRecord, LogEntry, StateChange, TaskRun, utcnow
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.states import State
from stratoflow.store import dynamo_items as items
from stratoflow.store import rules
from stratoflow.store.base import BlobStore, FlowHead, KvGuard, SlotOutcome, TriggerState
from stratoflow.store.dynamo_coordination import DynamoCoordination
from stratoflow.store.dynamo_executions import ExecutionLister
from stratoflow.store.dynamo_flows import DynamoFlows
from stratoflow.store.dynamo_kv import DynamoKv
from stratoflow.store.dynamo_table import ITEM_ABSENT, ITEM_EXISTS, ConditionFailed, Expression, Table
from stratoflow.store.flow_objects import FlowObjects

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_dynamodb import DynamoDBClient

_UPDATE_ATTEMPTS = 4
_NAMESPACE_CACHE = 10_000


class DynamoExecutionStore:
    """ExecutionStore on one DynamoDB table; the boto3 client is injected or created."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        clock: Callable[[], datetime] = utcnow,
        history_days: int | None = None,
        flow_blobs: BlobStore | None = None,
    ) -> None:
        """`history_days`: executions, task runs and logs expire (DynamoDB TTL) that long after they
        are written; None keeps them. The stack sets its `dataRetentionDays`. `flow_blobs`: where flow
        records too large for an item go (`store.flow_objects`); None keeps them all in the table."""
        self._history_seconds = history_days * 86_400 if history_days else None
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._table = Table(table_name, client)
        self._clock = clock
        self._lister = ExecutionLister(self._table)
        self._coordination = DynamoCoordination(self._table, clock)
        self._kv = DynamoKv(self._table, clock)
        self._flows = DynamoFlows(self._table, clock, self._kv, FlowObjects(flow_blobs))
        # Log sort keys: a random token per store and a counter keep concurrent writers apart.
        self._writer = secrets.token_hex(4)
        self._log_counter = itertools.count()
        # Namespace of each execution this process saw: immutable, needed for the gsi2 key, and proof
        # that the execution exists before one of its task runs is written.
        self._namespaces: dict[str, str] = {}

    def close(self) -> None:
        """Nothing to release: the boto3 client may be shared with its creator."""

    # --- flows (dynamo_flows) ------------------------------------------------------------------

    def put_flow(self, record: FlowRecord, guard: KvGuard | None = None) -> None:
        self._flows.put(record, guard)

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowRecord | None:
        return self._flows.get(namespace, flow_id, revision)

    def list_flows(self, namespace: str | None = None) -> list[FlowRecord]:
        return self._flows.list_live(namespace)

    def get_flow_head(self, namespace: str, flow_id: str) -> FlowHead | None:
        return self._flows.head(namespace, flow_id)

    def list_flow_heads(self, namespace: str | None = None) -> list[FlowHead]:
        return self._flows.heads(namespace)

    def set_flow_status(
        self, namespace: str, flow_id: str, status: str, errors: Sequence[str] = ()
    ) -> FlowHead:
        return self._flows.set_status(namespace, flow_id, status, errors)

    # --- executions ----------------------------------------------------------------------------

    def create_execution(self, execution: Execution) -> None:
        rules.check_flow_key(execution.namespace, execution.flow_id)
        rules.check_size("execution", execution.id, execution.model_dump_json(by_alias=True))
        item = items.execution_item(execution)
        expires = self._history_expiry()
        if expires is not None:
            item["ttl"] = {"N": str(expires)}
        try:
            self._table.put(item, ITEM_ABSENT)
        except ConditionFailed:
            raise ConflictError(f"execution {execution.id} already exists") from None
        self._remember(execution.id, execution.namespace)
        self._lister.add_namespace(execution.namespace)
        self._lister.add_month(items.month_of(rules.sortable_time(execution.start_date)))

    def _history_expiry(self) -> int | None:
        """The `ttl` of a history record written now (epoch seconds), None when history is kept."""
        if self._history_seconds is None:
            return None
        return rules.kv_expiry(self._clock(), self._history_seconds)

    def get_execution(self, execution_id: str) -> Execution | None:
        item = self._table.get(items.execution_key(execution_id))
        if not item:
            return None
        execution = items.execution(item)
        self._remember(execution.id, execution.namespace)
        return execution

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
        state, expected_states = rules.as_states(state, expected_states)
        fields: dict[str, Any] = {}
        if outputs is not None:
            fields["outputs"] = rules.dump_json(outputs)
            rules.check_size("execution outputs", execution_id, fields["outputs"])
        if error is not None:
            fields["error"] = error
        if end_date is not None:
            fields["endDate"] = to_jsonable_python(end_date)
        if exit_state is not None:
            fields["exitState"] = State(exit_state).value
        if restarts is not None:
            fields["restarts"] = restarts
        labels = rules.check_labels(labels or {})
        moving = state is not None  # optimistic: most updates move the state
        for _ in range(_UPDATE_ATTEMPTS):
            try:
                if moving and state is not None:
                    sources = rules.states_before(state, expected_states)
                    if sources:
                        return self._write_execution(
                            execution_id, fields, labels, sources, new_state=state, secret_names=secret_names
                        )
                staying = _staying_states(state, expected_states)
                if (fields or labels or secret_names) and staying != frozenset():
                    return self._write_execution(
                        execution_id, fields, labels, staying, secret_names=secret_names
                    )
                # Nothing to write: check the request against the record as it is.
                execution = self.get_execution(execution_id)
                if execution is None:
                    raise NotFoundError(f"execution {execution_id} does not exist")
                moving = rules.check_update(execution_id, execution.state, state, expected_states)
                if not moving:
                    return execution
            except ConditionFailed as failed:
                if failed.current is None:
                    raise NotFoundError(f"execution {execution_id} does not exist") from None
                current = State(failed.current["state"]["S"])
                # Raises the ConflictError the rules give. When they allow the update after all, the
                # state moved between our attempt and its condition: try again from the new state.
                moving = rules.check_update(execution_id, current, state, expected_states)
        raise ConflictError(f"execution {execution_id} kept changing; update not applied")

    def _write_execution(
        self,
        execution_id: str,
        fields: dict[str, Any],
        labels: dict[str, str],
        current_in: frozenset[State] | None,
        new_state: State | None = None,
        secret_names: Collection[str] = (),
    ) -> Execution:
        ex = Expression()
        sets = ex.assign(fields)
        sets += [f"{ex.name('labels', name)} = {ex.value(value)}" for name, value in labels.items()]
        if new_state is not None:
            namespace = self._namespace_of(execution_id)
            change = StateChange(state=new_state, date=self._clock()).to_json_dict()
            history = ex.name("stateHistory")
            sets += ex.assign({"state": new_state.value, "gsi2pk": items.by_state_pk(namespace, new_state)})
            sets.append(f"{history} = list_append({history}, {ex.value([change])})")
        condition = ITEM_EXISTS
        if current_in is not None:
            allowed = ", ".join(ex.value(s.value) for s in sorted(current_in))
            condition += f" AND {ex.name('state')} IN ({allowed})"
        update = "SET " + ", ".join(sets) if sets else ""
        if secret_names:  # a string set: ADD is an atomic union, whoever else adds at the same time
            update += f" ADD {ex.name('secretNames')} {ex.value(set(secret_names))}"
        item = self._table.update(items.execution_key(execution_id), update.strip(), ex, condition)
        return items.execution(item)

    def _namespace_of(self, execution_id: str, missing: Callable[[str], Exception] | None = None) -> str:
        """The execution's namespace (immutable, so reading it cannot race with the conditional write).

        Read once per process and execution; that read also proves the execution exists (executions
        are deleted only by their TTL, long after they end). A missing one raises `missing(message)`, else ConditionFailed.
        """
        namespace = self._namespaces.get(execution_id)
        if namespace is None:
            item = self._table.get(items.execution_key(execution_id), projection=["namespace"])
            if item is None:
                if missing is not None:
                    raise missing(f"execution {execution_id} does not exist")
                raise ConditionFailed(None)
            namespace = item["namespace"]["S"]
            self._remember(execution_id, namespace)
        return namespace

    def _remember(self, execution_id: str, namespace: str) -> None:
        if len(self._namespaces) >= _NAMESPACE_CACHE:
            self._namespaces.clear()
        self._namespaces[execution_id] = namespace

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
        found = self._lister.find(namespace, flow_id, state, since, until, limit, before)
        return [items.execution(item) for item in found]

    # --- task runs -----------------------------------------------------------------------------

    def save_task_run(self, task_run: TaskRun, expected_states: Collection[State] | None = None) -> TaskRun:
        data = items.task_run_data(task_run)
        self._namespace_of(task_run.execution_id, missing=NotFoundError)
        # One UpdateItem inserts or replaces: `seq` is set by the first save only (no counter to bump,
        # no read of the task run first), so a task run costs two writes: RUNNING and its end.
        ex = Expression()
        seq = ex.name("seq")
        now = ex.value(rules.task_run_seq(self._clock()))
        # `runState` beside the JSON: what a conditional save compares (the JSON cannot be read by one).
        sets = [
            *ex.assign({"taskId": task_run.task_id, "data": data, "runState": task_run.state.value}),
            f"{seq} = if_not_exists({seq}, {now})",
        ]
        condition = None
        if expected_states is not None:
            allowed = ", ".join(ex.value(state.value) for state in sorted(expected_states))
            run_state = ex.name("runState")
            # A run saved before `runState` was written has none: it is taken as expected (only the
            # task runs in flight while the stack is updated can be such).
            condition = f"{ITEM_EXISTS} AND (attribute_not_exists({run_state}) OR {run_state} IN ({allowed}))"
        expires = self._history_expiry()
        if expires is not None:
            # Counted from the first save, like the execution's: every object a record points at was
            # written after it, and expires later (the data bucket's rule), never before it.
            ttl = ex.name("ttl")
            sets.append(f"{ttl} = if_not_exists({ttl}, {ex.value(expires)})")
        key = items.task_run_key(task_run.execution_id, task_run.id)
        try:
            item = self._table.update(key, "SET " + ", ".join(sets), ex, condition)
        except ConditionFailed as failed:
            assert expected_states is not None
            current = items.task_run(failed.current).state if failed.current else None
            rules.check_task_run_state(task_run.id, current, expected_states)
            raise  # it moved again since: still a conflict
        return items.task_run(item)

    def get_task_run(self, execution_id: str, task_run_id: str) -> TaskRun | None:
        item = self._table.get(items.task_run_key(execution_id, task_run_id))
        return items.task_run(item) if item else None

    def get_task_runs(self, execution_id: str, task_run_ids: Sequence[str]) -> list[TaskRun]:
        keys = [items.task_run_key(execution_id, run_id) for run_id in dict.fromkeys(task_run_ids)]
        runs = [items.task_run(item) for item in self._table.batch_get(keys)] if keys else []
        return sorted(runs, key=rules.task_run_order)

    def list_task_runs(self, execution_id: str, task_id: str | None = None) -> list[TaskRun]:
        ex = Expression()
        condition = f"{ex.name('pk')} = {ex.value(f'EXEC#{execution_id}')} AND begins_with({ex.name('sk')}, {ex.value('TR#')})"
        filter_ = f"{ex.name('taskId')} = {ex.value(task_id)}" if task_id is not None else None
        runs = [items.task_run(item) for item in self._table.query(condition, ex, filter_=filter_)]
        return sorted(runs, key=rules.task_run_order)

    # --- logs ----------------------------------------------------------------------------------

    def append_logs(self, entries: Sequence[LogEntry]) -> None:
        batch = [items.log_item(entry, f"{self._writer}#{next(self._log_counter):012d}") for entry in entries]
        expires = self._history_expiry()
        if expires is not None:
            batch = [{**item, "ttl": {"N": str(expires)}} for item in batch]
        self._table.batch_put(batch)

    def list_logs(
        self,
        execution_id: str,
        task_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        ex = Expression()
        condition = f"{ex.name('pk')} = {ex.value(items.logs_pk(execution_id))}"
        if since is not None:
            condition += f" AND {ex.name('sk')} >= {ex.value(rules.sortable_time(since))}"
        filter_ = f"{ex.name('taskId')} = {ex.value(task_id)}" if task_id is not None else None
        return [
            items.log_entry(item) for item in self._table.query(condition, ex, filter_=filter_, limit=limit)
        ]

    # --- KV (dynamo_kv) ------------------------------------------------------------------------

    def kv_set(self, namespace: str, key: str, value: JsonValue, ttl_seconds: int | None = None) -> None:
        self._kv.set(namespace, key, value, ttl_seconds)

    def kv_swap(
        self,
        namespace: str,
        key: str,
        value: JsonValue,
        expected: JsonValue = None,
        ttl_seconds: int | None = None,
    ) -> bool:
        return self._kv.swap(namespace, key, value, expected, ttl_seconds)

    def kv_get(self, namespace: str, key: str) -> tuple[bool, JsonValue]:
        return self._kv.get(namespace, key)

    def kv_delete(self, namespace: str, key: str) -> bool:
        return self._kv.delete(namespace, key)

    def kv_list(self, namespace: str) -> list[str]:
        return self._kv.keys(namespace)

    # --- concurrency slots and trigger state (dynamo_coordination) ----------------------------

    def take_slot(self, execution: Execution, limit: int, *, from_queue: bool = False) -> SlotOutcome:
        return self._coordination.take_slot(execution, limit, from_queue)

    def release_slot(self, namespace: str, flow_id: str, execution_id: str) -> bool:
        return self._coordination.release_slot(namespace, flow_id, execution_id)

    def slot_holders(self, namespace: str, flow_id: str) -> list[str]:
        return self._coordination.slot_holders(namespace, flow_id)

    def enqueue_execution(self, execution: Execution) -> None:
        self._coordination.enqueue(execution)

    def queued_executions(self, namespace: str, flow_id: str, limit: int = 100) -> list[str]:
        return self._coordination.queued(namespace, flow_id, limit)

    def get_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> TriggerState | None:
        return self._coordination.get_trigger_state(namespace, flow_id, trigger_id)

    def put_trigger_state(self, state: TriggerState, expected_version: int | None = None) -> TriggerState:
        return self._coordination.put_trigger_state(state, expected_version)

    def list_trigger_states(
        self, namespace: str | None = None, flow_id: str | None = None
    ) -> list[TriggerState]:
        return self._coordination.list_trigger_states(namespace, flow_id)

    def delete_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> bool:
        return self._coordination.delete_trigger_state(namespace, flow_id, trigger_id)


def _staying_states(state: State | None, expected: Collection[State] | None) -> frozenset[State] | None:
    """States the execution must be in for an update that keeps its state (None: any state)."""
    if state is None:
        return None if expected is None else frozenset(expected)
    return frozenset({state}) if expected is None or state in expected else frozenset()
