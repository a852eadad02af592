"""The embedded execution store: one SQLite file (WAL), safe from many threads and processes.

Records are stored as their JSON (camelCase, as the API shows them) next to the few columns that are
filtered or sorted on. One connection is shared behind a lock; every read-modify-write runs in a
`BEGIN IMMEDIATE` transaction, so two processes using the same file cannot interleave either.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from stratoflow.domain import Execution, FlowRecord, LogEntry, StateChange, TaskRun, utcnow
from stratoflow.errors import ConflictError, NotFoundError, StorageError
from stratoflow.states import State
from stratoflow.store import rules
from stratoflow.store import sqlite_coordination as coordination
from stratoflow.store import sqlite_flows as flows
from stratoflow.store import sqlite_kv as kv
from stratoflow.store.base import BlobStore, FlowHead, KvGuard, SlotOutcome, TriggerState
from stratoflow.store.flow_objects import FlowObjects
from stratoflow.store.sqlite_schema import migrate

_IN_CHUNK = 500  # ids per `IN (...)`: under SQLite's default limit of 999 variables


# SQLite's primary result codes (the low byte of an extended code) that say the file cannot be written.
_SQLITE_READONLY, _SQLITE_FULL, _SQLITE_CANTOPEN = 8, 13, 14


def storage_error(error: sqlite3.Error, path: Path) -> StorageError | None:
    """The user's words for a SQLite error that comes from the disk, not from a query (None otherwise)."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    if code == _SQLITE_FULL:
        return StorageError(f"no space left on the device of {path}: the local history cannot be written")
    if code == _SQLITE_READONLY:
        return StorageError(f"the local history {path} is read-only: check the permissions of its folder")
    if code == _SQLITE_CANTOPEN:
        return StorageError(f"cannot open the local history {path}: its folder is missing or not writable")
    return None


class SqliteExecutionStore:
    """ExecutionStore on a SQLite file; `clock` is injectable so KV expiry can be tested."""

    def __init__(
        self, path: str | Path, clock: Callable[[], datetime] = utcnow, flow_blobs: BlobStore | None = None
    ) -> None:
        """`flow_blobs`: where flow records too large for a row go, as in the cloud store
        (`store.flow_objects`); None keeps them all in the database."""
        self.path = Path(path)
        self._clock = clock
        self._flow_objects = FlowObjects(flow_blobs)
        self._lock = threading.RLock()
        self._executions: set[str] = set()  # ids known to exist: a task run's insert need not check
        # Autocommit mode: transactions are opened explicitly where a change spans statements.
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as error:
            raise storage_error(error, self.path) or error from None
        with self._write():
            migrate(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteExecutionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                mapped = storage_error(error, self.path)
                if mapped is None:
                    raise
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise mapped from error

    def _one(self, sql: str, params: Sequence[Any]) -> Any:
        with self._lock:
            return self._db.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- flows (sqlite_flows) -------------------------------------------------------------------

    def put_flow(self, record: FlowRecord, guard: KvGuard | None = None) -> None:
        data = flows.row_data(self._flow_objects.keep(record))
        with self._write() as db:
            if guard is not None and not kv.holds(db, guard.namespace, guard.key, guard.value, self._clock()):
                raise ConflictError(
                    f"flow {record.namespace}.{record.flow_id}: a newer upload of its file was seen"
                )
            flows.insert_revision(db, record, data, self._clock())

    def get_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> FlowRecord | None:
        with self._lock:
            if revision is None:
                head = flows.get_head(self._db, namespace, flow_id)
                if head is None or head.status == "DELETED" or head.deployed_revision is None:
                    return None
                revision = head.deployed_revision
            data = flows.get_revision(self._db, namespace, flow_id, revision)
        return self._flow_objects.load(flows.row_kept(data)) if data is not None else None

    def list_flows(self, namespace: str | None = None) -> list[FlowRecord]:
        with self._lock:
            rows = flows.live_revisions(self._db, namespace)
        return [self._flow_objects.load(flows.row_kept(data)) for data in rows]

    def get_flow_head(self, namespace: str, flow_id: str) -> FlowHead | None:
        with self._lock:
            return flows.get_head(self._db, namespace, flow_id)

    def list_flow_heads(self, namespace: str | None = None) -> list[FlowHead]:
        with self._lock:
            return flows.list_heads(self._db, namespace)

    def set_flow_status(
        self, namespace: str, flow_id: str, status: str, errors: Sequence[str] = ()
    ) -> FlowHead:
        rules.check_flow_key(namespace, flow_id)
        rules.check_flow_status(status)
        with self._write() as db:
            return flows.set_status(db, namespace, flow_id, status, errors, self._clock())

    # --- executions ----------------------------------------------------------------------------

    def create_execution(self, execution: Execution) -> None:
        rules.check_flow_key(execution.namespace, execution.flow_id)
        data = execution.model_dump_json(by_alias=True)
        rules.check_size("execution", execution.id, data)
        row = (
            execution.id,
            execution.namespace,
            execution.flow_id,
            execution.state.value,
            rules.sortable_time(execution.start_date),
            data,
        )
        try:
            with self._write() as db:
                db.execute("INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?)", row)
        except sqlite3.IntegrityError:
            raise ConflictError(f"execution {execution.id} already exists") from None

    def get_execution(self, execution_id: str) -> Execution | None:
        row = self._one("SELECT data FROM executions WHERE id = ?", (execution_id,))
        return Execution.model_validate_json(row[0]) if row else None

    def execution_ids_starting_with(self, prefix: str, limit: int = 10) -> list[str]:
        """Ids of executions that start with `prefix`, in id order (a range on the primary key)."""
        rows = self._all(
            "SELECT id FROM executions WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            [prefix, prefix + "\U0010ffff", limit],
        )
        return [row[0] for row in rows]

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
        with self._write() as db:
            row = db.execute("SELECT data FROM executions WHERE id = ?", (execution_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"execution {execution_id} does not exist")
            execution = Execution.model_validate_json(row[0])
            if rules.check_update(execution_id, execution.state, state, expected_states):
                assert state is not None
                execution.state = state
                execution.state_history.append(StateChange(state=state, date=self._clock()))
            if outputs is not None:
                execution.outputs = outputs
            if labels:
                execution.labels = {**execution.labels, **rules.check_labels(labels)}
            if error is not None:
                execution.error = error
            if end_date is not None:
                execution.end_date = end_date
            if exit_state is not None:
                execution.exit_state = State(exit_state)
            if restarts is not None:
                execution.restarts = restarts
            if secret_names:
                execution.secret_names = sorted({*(execution.secret_names or []), *secret_names})
            data = execution.model_dump_json(by_alias=True)
            rules.check_size("execution", execution_id, data)
            db.execute(
                "UPDATE executions SET state = ?, data = ? WHERE id = ?",
                (execution.state.value, data, execution_id),
            )
        return execution

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
        if flow_id is not None and namespace is None:
            raise ValueError("list_executions: flow_id needs namespace")
        clauses: list[str] = []
        params: list[Any] = []
        if before is not None:  # a row value: the (start_key, id) indexes serve it as one range
            start_key, _, execution_id = before.partition("#")
            clauses.append("(start_key, id) < (?, ?)")
            params.extend([start_key, execution_id])
        for clause, value in (
            ("namespace = ?", namespace),
            ("flow_id = ?", flow_id),
            # A plain string ("FAILED") is taken too: State is a StrEnum, and callers pass either.
            ("state = ?", State(state).value if state else None),
            ("start_key >= ?", rules.sortable_time(since) if since else None),
            ("start_key < ?", rules.sortable_time(until) if until else None),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._all(
            f"SELECT data FROM executions {where} ORDER BY start_key DESC, id DESC LIMIT ?", [*params, limit]
        )
        return [Execution.model_validate_json(row[0]) for row in rows]

    # --- task runs -----------------------------------------------------------------------------

    def save_task_run(self, task_run: TaskRun, expected_states: Collection[State] | None = None) -> TaskRun:
        key = (task_run.execution_id, task_run.id)
        if task_run.seq and self._update_task_run(task_run, expected_states):
            return task_run
        with self._write() as db:
            row = db.execute(
                "SELECT seq, data FROM task_runs WHERE execution_id = ? AND id = ?", key
            ).fetchone()
            if expected_states is not None:
                current = TaskRun.model_validate_json(row[1]).state if row is not None else None
                rules.check_task_run_state(task_run.id, current, expected_states)
            if row is not None:
                stored = task_run.model_copy(update={"seq": row[0]})
                data = _task_run_json(stored)
                db.execute(
                    "UPDATE task_runs SET task_id = ?, data = ? WHERE execution_id = ? AND id = ?",
                    (stored.task_id, data, *key),
                )
                return stored
            if key[0] not in self._executions:
                if db.execute("SELECT 1 FROM executions WHERE id = ?", key[:1]).fetchone() is None:
                    raise NotFoundError(f"execution {task_run.execution_id} does not exist")
                self._remember_execution(key[0])
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM task_runs WHERE execution_id = ?", key[:1]
            ).fetchone()
            # The clock's time, as in the cloud store; raised past the last one when the clock has not
            # moved (or went back), so local inserts stay in their exact order.
            seq = max(rules.task_run_seq(self._clock()), last + 1)
            stored = task_run.model_copy(update={"seq": seq})
            db.execute(
                "INSERT INTO task_runs (execution_id, id, seq, task_id, data) VALUES (?, ?, ?, ?, ?)",
                (*key, stored.seq, stored.task_id, _task_run_json(stored)),
            )
            return stored

    def _update_task_run(self, task_run: TaskRun, expected_states: Collection[State] | None) -> bool:
        """Replace a task run read from this store (its `seq` is the stored one) in one statement, the
        common case of a second save (its end): False when no such row is there to replace, or (for a
        conditional save) not in an expected state; the transactional path then says which."""
        data = _task_run_json(task_run)
        sql = "UPDATE task_runs SET task_id = ?, data = ? WHERE execution_id = ? AND id = ? AND seq = ?"
        params: list[Any] = [task_run.task_id, data, task_run.execution_id, task_run.id, task_run.seq]
        if expected_states is not None:
            sql += f" AND json_extract(data, '$.state') IN ({', '.join('?' * len(expected_states))})"
            params += [State(state).value for state in expected_states]
        with self._lock:
            try:
                cursor = self._db.execute(sql, params)
            except sqlite3.Error as error:
                raise storage_error(error, self.path) or error from None
        return cursor.rowcount == 1

    def _remember_execution(self, execution_id: str) -> None:
        # Executions are never deleted while their task runs are written: one check per process.
        if len(self._executions) >= 10_000:
            self._executions.clear()
        self._executions.add(execution_id)

    def get_task_run(self, execution_id: str, task_run_id: str) -> TaskRun | None:
        row = self._one(
            "SELECT data FROM task_runs WHERE execution_id = ? AND id = ?", (execution_id, task_run_id)
        )
        return TaskRun.model_validate_json(row[0]) if row else None

    def get_task_runs(self, execution_id: str, task_run_ids: Sequence[str]) -> list[TaskRun]:
        wanted = list(dict.fromkeys(task_run_ids))
        runs: list[TaskRun] = []
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows = self._all(
                f"SELECT data FROM task_runs WHERE execution_id = ? AND id IN ({', '.join('?' * len(chunk))})",
                (execution_id, *chunk),
            )
            runs.extend(TaskRun.model_validate_json(row[0]) for row in rows)
        return sorted(runs, key=rules.task_run_order)

    def list_task_runs(self, execution_id: str, task_id: str | None = None) -> list[TaskRun]:
        sql, params = "SELECT data FROM task_runs WHERE execution_id = ?", [execution_id]
        if task_id is not None:
            sql += " AND task_id = ?"
            params.append(task_id)
        return [TaskRun.model_validate_json(row[0]) for row in self._all(sql + " ORDER BY seq", params)]

    def iter_task_runs(self, execution_id: str, page: int = 1_000) -> Iterator[TaskRun]:
        """Every task run in creation order, read a page at a time (a large execution's report never
        holds all of them at once)."""
        after = -1
        while True:
            rows = self._all(
                "SELECT seq, data FROM task_runs WHERE execution_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (execution_id, after, page),
            )
            for _, data in rows:
                yield TaskRun.model_validate_json(data)
            if len(rows) < page:
                return
            after = rows[-1][0]

    # --- logs ----------------------------------------------------------------------------------

    def append_logs(self, entries: Sequence[LogEntry]) -> None:
        rows = []
        for entry in entries:
            entry = entry.model_copy(update={"message": rules.truncate_message(entry.message)})
            time_key = rules.sortable_time(entry.timestamp)
            rows.append((entry.execution_id, entry.task_id, time_key, entry.model_dump_json(by_alias=True)))
        if rows:
            with self._write() as db:
                db.executemany(
                    "INSERT INTO logs (execution_id, task_id, time_key, data) VALUES (?, ?, ?, ?)", rows
                )

    def list_logs(
        self,
        execution_id: str,
        task_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        sql = "SELECT data FROM logs WHERE execution_id = ?"
        params: list[Any] = [execution_id]
        if task_id is not None:
            sql += " AND task_id = ?"
            params.append(task_id)
        if since is not None:
            sql += " AND time_key >= ?"
            params.append(rules.sortable_time(since))
        sql += " ORDER BY time_key, id LIMIT ?"
        params.append(-1 if limit is None else limit)
        return [LogEntry.model_validate_json(row[0]) for row in self._all(sql, params)]

    # --- KV (sqlite_kv) ----------------------------------------------------------------------

    def kv_set(self, namespace: str, key: str, value: JsonValue, ttl_seconds: int | None = None) -> None:
        rules.check_kv_key(namespace, key)
        data = rules.dump_json(value)
        rules.check_size("KV value", f"{namespace}/{key}", data)
        expires = rules.kv_expiry(self._clock(), ttl_seconds)
        with self._write() as db:
            kv.put(db, namespace, key, data, expires)

    def kv_swap(
        self,
        namespace: str,
        key: str,
        value: JsonValue,
        expected: JsonValue = None,
        ttl_seconds: int | None = None,
    ) -> bool:
        rules.check_kv_key(namespace, key)
        data = rules.dump_json(value)
        rules.check_size("KV value", f"{namespace}/{key}", data)
        expires = rules.kv_expiry(self._clock(), ttl_seconds)
        with self._write() as db:
            if not kv.holds(db, namespace, key, expected, self._clock()):
                return False
            kv.put(db, namespace, key, data, expires)
        return True

    def kv_get(self, namespace: str, key: str) -> tuple[bool, JsonValue]:
        with self._lock:
            return kv.get(self._db, namespace, key, self._clock())

    def kv_delete(self, namespace: str, key: str) -> bool:
        with self._write() as db:
            return kv.delete(db, namespace, key, self._clock())

    def kv_list(self, namespace: str) -> list[str]:
        with self._lock:
            return kv.keys(self._db, namespace, self._clock())

    # --- concurrency slots (sqlite_coordination) ---------------------------------------------

    def take_slot(self, execution: Execution, limit: int, *, from_queue: bool = False) -> SlotOutcome:
        with self._write() as db:
            return coordination.take_slot(db, execution, limit, from_queue, self._clock())

    def release_slot(self, namespace: str, flow_id: str, execution_id: str) -> bool:
        with self._write() as db:
            return coordination.release_slot(db, namespace, flow_id, execution_id)

    def slot_holders(self, namespace: str, flow_id: str) -> list[str]:
        with self._lock:
            return coordination.slot_holders(self._db, namespace, flow_id)

    def enqueue_execution(self, execution: Execution) -> None:
        with self._write() as db:
            coordination.enqueue(db, execution)

    def queued_executions(self, namespace: str, flow_id: str, limit: int = 100) -> list[str]:
        with self._lock:
            return coordination.queued(self._db, namespace, flow_id, limit)

    # --- local owners (stratoflow.local.leases): the process running each execution ----------------

    def own_execution(self, execution_id: str, owner: str) -> None:
        with self._write() as db:
            coordination.own(db, execution_id, owner)

    def disown_execution(self, execution_id: str) -> None:
        with self._write() as db:
            coordination.disown(db, execution_id)

    def execution_owners(self) -> dict[str, list[str]]:
        """Owner -> the executions it recorded and has not disowned yet."""
        with self._lock:
            return coordination.owners(self._db)

    # --- trigger state -------------------------------------------------------------------------

    def get_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> TriggerState | None:
        with self._lock:
            return coordination.get_trigger_state(self._db, namespace, flow_id, trigger_id)

    def put_trigger_state(self, state: TriggerState, expected_version: int | None = None) -> TriggerState:
        with self._write() as db:
            return coordination.put_trigger_state(db, state, expected_version, self._clock())

    def list_trigger_states(
        self, namespace: str | None = None, flow_id: str | None = None
    ) -> list[TriggerState]:
        with self._lock:
            return coordination.list_trigger_states(self._db, namespace, flow_id)

    def delete_trigger_state(self, namespace: str, flow_id: str, trigger_id: str) -> bool:
        with self._write() as db:
            return coordination.delete_trigger_state(db, namespace, flow_id, trigger_id)


def _task_run_json(task_run: TaskRun) -> str:
    data = task_run.model_dump_json(by_alias=True)
    rules.check_size("task run", task_run.id, data)
    return data
