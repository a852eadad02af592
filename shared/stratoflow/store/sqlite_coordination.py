"""Concurrency slots, the queue of waiting executions, trigger state and the local owners of
executions (`stratoflow.local.leases`), on SQLite.

Functions take the connection of a transaction the store opened (`BEGIN IMMEDIATE` for writes), so a
count and the insert that depends on it cannot interleave with another writer, thread or process.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from stratoflow.domain import Execution
from stratoflow.store import rules
from stratoflow.store.base import SlotOutcome, TriggerState


def take_slot(
    db: sqlite3.Connection, execution: Execution, limit: int, from_queue: bool, now: datetime
) -> SlotOutcome:
    rules.check_limit(limit)
    flow = (execution.namespace, execution.flow_id)
    queued = (*flow, rules.queue_key(execution.start_date, execution.id))
    held = db.execute(
        "SELECT 1 FROM concurrency_slots WHERE namespace = ? AND flow_id = ? AND execution_id = ?",
        (*flow, execution.id),
    ).fetchone()
    # Only the caller that finds the queue entry promotes: a promotion happens once.
    if from_queue and not _queued(db, queued):
        return SlotOutcome.NOT_QUEUED
    if held is None:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM concurrency_slots WHERE namespace = ? AND flow_id = ?", flow
        ).fetchone()
        if count >= limit:
            return SlotOutcome.FULL
        db.execute(
            "INSERT INTO concurrency_slots VALUES (?, ?, ?, ?)", (*flow, execution.id, now.isoformat())
        )
    if from_queue:
        db.execute(
            "DELETE FROM concurrency_queue WHERE namespace = ? AND flow_id = ? AND queue_key = ?", queued
        )
    return SlotOutcome.TAKEN


def _queued(db: sqlite3.Connection, queued: tuple[str, str, str]) -> bool:
    row = db.execute(
        "SELECT 1 FROM concurrency_queue WHERE namespace = ? AND flow_id = ? AND queue_key = ?", queued
    ).fetchone()
    return row is not None


def release_slot(db: sqlite3.Connection, namespace: str, flow_id: str, execution_id: str) -> bool:
    cursor = db.execute(
        "DELETE FROM concurrency_slots WHERE namespace = ? AND flow_id = ? AND execution_id = ?",
        (namespace, flow_id, execution_id),
    )
    return cursor.rowcount > 0


def slot_holders(db: sqlite3.Connection, namespace: str, flow_id: str) -> list[str]:
    rows = db.execute(
        "SELECT execution_id FROM concurrency_slots WHERE namespace = ? AND flow_id = ? ORDER BY execution_id",
        (namespace, flow_id),
    ).fetchall()
    return [row[0] for row in rows]


def enqueue(db: sqlite3.Connection, execution: Execution) -> None:
    rules.check_flow_key(execution.namespace, execution.flow_id)
    db.execute(
        "INSERT OR IGNORE INTO concurrency_queue VALUES (?, ?, ?, ?)",
        (
            execution.namespace,
            execution.flow_id,
            rules.queue_key(execution.start_date, execution.id),
            execution.id,
        ),
    )


def queued(db: sqlite3.Connection, namespace: str, flow_id: str, limit: int) -> list[str]:
    rows = db.execute(
        "SELECT execution_id FROM concurrency_queue WHERE namespace = ? AND flow_id = ?"
        " ORDER BY queue_key LIMIT ?",
        (namespace, flow_id, limit),
    ).fetchall()
    return [row[0] for row in rows]


# --- trigger state -----------------------------------------------------------------------------


def get_trigger_state(
    db: sqlite3.Connection, namespace: str, flow_id: str, trigger_id: str
) -> TriggerState | None:
    row = db.execute(
        "SELECT data FROM trigger_states WHERE namespace = ? AND flow_id = ? AND trigger_id = ?",
        (namespace, flow_id, trigger_id),
    ).fetchone()
    return TriggerState.model_validate_json(row[0]) if row else None


def put_trigger_state(
    db: sqlite3.Connection, state: TriggerState, expected_version: int | None, now: datetime
) -> TriggerState:
    key = (state.namespace, state.flow_id, state.trigger_id)
    rules.check_trigger_key(*key)
    current = get_trigger_state(db, *key)
    stored_version = current.version if current else 0
    rules.check_version("trigger state", "/".join(key), stored_version, expected_version)
    stored = state.model_copy(update={"version": stored_version + 1, "updated": now})
    data = stored.model_dump_json(by_alias=True)
    rules.check_size("trigger state", "/".join(key), data)
    db.execute("INSERT OR REPLACE INTO trigger_states VALUES (?, ?, ?, ?, ?)", (*key, stored.version, data))
    return stored


def list_trigger_states(
    db: sqlite3.Connection, namespace: str | None, flow_id: str | None
) -> list[TriggerState]:
    if flow_id is not None and namespace is None:
        raise ValueError("list_trigger_states: flow_id needs namespace")
    clauses = [c for c, v in (("namespace = ?", namespace), ("flow_id = ?", flow_id)) if v is not None]
    params = [v for v in (namespace, flow_id) if v is not None]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = db.execute(
        f"SELECT data FROM trigger_states {where} ORDER BY namespace, flow_id, trigger_id", params
    ).fetchall()
    return [TriggerState.model_validate_json(row[0]) for row in rows]


def delete_trigger_state(db: sqlite3.Connection, namespace: str, flow_id: str, trigger_id: str) -> bool:
    cursor = db.execute(
        "DELETE FROM trigger_states WHERE namespace = ? AND flow_id = ? AND trigger_id = ?",
        (namespace, flow_id, trigger_id),
    )
    return cursor.rowcount > 0


def own(db: sqlite3.Connection, execution_id: str, owner: str) -> None:
    db.execute("INSERT OR REPLACE INTO execution_owners VALUES (?, ?)", (execution_id, owner))


def disown(db: sqlite3.Connection, execution_id: str) -> None:
    db.execute("DELETE FROM execution_owners WHERE execution_id = ?", (execution_id,))


def owners(db: sqlite3.Connection) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    rows = db.execute("SELECT owner, execution_id FROM execution_owners ORDER BY owner, execution_id")
    for owner, execution_id in rows.fetchall():
        found.setdefault(owner, []).append(execution_id)
    return found
