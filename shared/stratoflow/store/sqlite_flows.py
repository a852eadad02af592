"""Flow revisions and flow heads on SQLite (see `store.base` for the rules of revisions and heads).

Functions take a connection; the writes run inside the transaction the store opened.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stratoflow.domain import FlowRecord
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.store.base import FlowHead
from stratoflow.store.flow_objects import FlowPointer, Kept

_POINTER = "storedAt"

_HEAD_COLUMNS = "namespace, flow_id, status, errors, deployed_revision, latest_revision, updated"


def insert_revision(db: sqlite3.Connection, record: FlowRecord, data: str, now: datetime) -> None:
    """Store a new revision (ConflictError unless it is above every stored one) and move the head."""
    key = (record.namespace, record.flow_id)
    head = get_head(db, *key)
    latest = head.latest_revision if head else 0
    if record.revision <= latest:
        raise ConflictError(
            f"flow {record.namespace}.{record.flow_id}: revision {record.revision} is not above "
            f"the latest revision {latest}"
        )
    db.execute("INSERT INTO flows VALUES (?, ?, ?, ?)", (*key, record.revision, data))
    live = head.deployed_revision if head else None
    if record.status == "DEPLOYED":
        live = record.revision
    _write_head(db, *key, record.status, record.errors, live, record.revision, now)


def row_data(kept: Kept) -> str:
    """The `data` of a revision row: the record's JSON, or a pointer to the object that holds it."""
    if isinstance(kept, FlowPointer):
        return json.dumps({_POINTER: kept.uri, "sha256": kept.sha256})
    return zlib.decompress(kept).decode() if isinstance(kept, bytes) else kept


def row_kept(data: str) -> Kept:
    """What a revision row keeps (a record's JSON starts with its own fields, never the pointer's)."""
    if data.startswith('{"' + _POINTER + '"'):
        pointer = json.loads(data)
        return FlowPointer(pointer[_POINTER], pointer["sha256"])
    return data


def get_revision(db: sqlite3.Connection, namespace: str, flow_id: str, revision: int) -> str | None:
    """The revision row's `data` (see `row_kept`)."""
    row = db.execute(
        "SELECT data FROM flows WHERE namespace = ? AND flow_id = ? AND revision = ?",
        (namespace, flow_id, revision),
    ).fetchone()
    return str(row[0]) if row else None


def live_revisions(db: sqlite3.Connection, namespace: str | None) -> list[str]:
    sql = (
        "SELECT f.data FROM flow_heads h JOIN flows f ON f.namespace = h.namespace"
        " AND f.flow_id = h.flow_id AND f.revision = h.deployed_revision WHERE h.status != 'DELETED'"
    )
    params: list[Any] = []
    if namespace is not None:
        sql += " AND h.namespace = ?"
        params.append(namespace)
    rows = db.execute(sql + " ORDER BY h.namespace, h.flow_id", params).fetchall()
    return [str(row[0]) for row in rows]


def get_head(db: sqlite3.Connection, namespace: str, flow_id: str) -> FlowHead | None:
    row = db.execute(
        f"SELECT {_HEAD_COLUMNS} FROM flow_heads WHERE namespace = ? AND flow_id = ?",
        (namespace, flow_id),
    ).fetchone()
    return _head(row) if row else None


def list_heads(db: sqlite3.Connection, namespace: str | None) -> list[FlowHead]:
    where, params = ("WHERE namespace = ?", [namespace]) if namespace is not None else ("", [])
    rows = db.execute(
        f"SELECT {_HEAD_COLUMNS} FROM flow_heads {where} ORDER BY namespace, flow_id", params
    ).fetchall()
    return [_head(row) for row in rows]


def set_status(
    db: sqlite3.Connection, namespace: str, flow_id: str, status: str, errors: Sequence[str], now: datetime
) -> FlowHead:
    """Record an upload's outcome on the head (DEPLOYED needs a live revision: NotFoundError)."""
    head = get_head(db, namespace, flow_id)
    live = head.deployed_revision if head else None
    if status == "DEPLOYED" and live is None:
        raise NotFoundError(f"flow {namespace}.{flow_id} has no deployed revision")
    latest = head.latest_revision if head else 0
    _write_head(db, namespace, flow_id, status, list(errors), live, latest, now)
    written = get_head(db, namespace, flow_id)
    assert written is not None  # written just above, in the same transaction
    return written


def _write_head(
    db: sqlite3.Connection,
    namespace: str,
    flow_id: str,
    status: str,
    errors: list[str],
    live: int | None,
    latest: int,
    now: datetime,
) -> None:
    db.execute(
        f"INSERT OR REPLACE INTO flow_heads ({_HEAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (namespace, flow_id, status, json.dumps(errors), live, latest, now.isoformat()),
    )


def _head(row: tuple[Any, ...]) -> FlowHead:
    namespace, flow_id, status, errors, live, latest, updated = row
    return FlowHead(
        namespace=namespace,
        flow_id=flow_id,
        status=status,
        errors=json.loads(errors),
        deployed_revision=live,
        latest_revision=latest,
        updated=datetime.fromisoformat(updated),
    )
