"""The per-namespace KV store on SQLite: JSON values with an optional expiry.

An expired entry is not found even before anything purges it. Functions take a connection; the
writes run inside the transaction the store opened, so a compare-and-swap is one atomic step.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from stratoflow.store import rules


def put(db: sqlite3.Connection, namespace: str, key: str, data: str, expires: int | None) -> None:
    db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?)", (namespace, key, data, expires))


def holds(db: sqlite3.Connection, namespace: str, key: str, expected: Any, now: datetime) -> bool:
    """Whether the live entry's value is `expected` (None: there is no live entry)."""
    row = db.execute(
        "SELECT value, expires FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
    ).fetchone()
    live = row is not None and not rules.kv_expired(row[1], now)
    if expected is None:
        return not live
    return live and row[0] == rules.dump_json(expected)


def get(db: sqlite3.Connection, namespace: str, key: str, now: datetime) -> tuple[bool, Any]:
    row = db.execute(
        "SELECT value, expires FROM kv WHERE namespace = ? AND key = ?", (namespace, key)
    ).fetchone()
    if row is None or rules.kv_expired(row[1], now):
        return False, None
    return True, json.loads(row[0])


def delete(db: sqlite3.Connection, namespace: str, key: str, now: datetime) -> bool:
    """Remove the entry; True when a live one existed."""
    row = db.execute(
        "DELETE FROM kv WHERE namespace = ? AND key = ? RETURNING expires", (namespace, key)
    ).fetchone()
    return row is not None and not rules.kv_expired(row[0], now)


def keys(db: sqlite3.Connection, namespace: str, now: datetime) -> list[str]:
    rows = db.execute(
        "SELECT key FROM kv WHERE namespace = ? AND (expires IS NULL OR expires > ?) ORDER BY key",
        (namespace, rules.as_utc(now).timestamp()),
    ).fetchall()
    return [row[0] for row in rows]
