"""The SQLite schema, as numbered migrations: a database records the version it is at."""

from __future__ import annotations

import sqlite3

from stratoflow.errors import StratoflowError

# Index i holds the script that takes a database from version i to i + 1. Never edit a released
# script: append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE flows (
        namespace TEXT NOT NULL, flow_id TEXT NOT NULL, revision INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (namespace, flow_id, revision)
    ) WITHOUT ROWID;
    CREATE TABLE flow_heads (
        namespace TEXT NOT NULL, flow_id TEXT NOT NULL, status TEXT NOT NULL, errors TEXT NOT NULL,
        deployed_revision INTEGER, latest_revision INTEGER NOT NULL, updated TEXT NOT NULL,
        PRIMARY KEY (namespace, flow_id)
    ) WITHOUT ROWID;
    CREATE TABLE executions (
        id TEXT PRIMARY KEY, namespace TEXT NOT NULL, flow_id TEXT NOT NULL, state TEXT NOT NULL,
        start_key TEXT NOT NULL, data TEXT NOT NULL
    );
    CREATE INDEX executions_by_start ON executions (start_key, id);
    CREATE INDEX executions_by_flow ON executions (namespace, flow_id, start_key, id);
    CREATE INDEX executions_by_namespace ON executions (namespace, start_key, id);
    CREATE INDEX executions_by_state ON executions (state, start_key, id);
    CREATE TABLE task_runs (
        execution_id TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, task_id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (execution_id, id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX task_runs_by_seq ON task_runs (execution_id, seq);
    CREATE TABLE logs (
        id INTEGER PRIMARY KEY, execution_id TEXT NOT NULL, task_id TEXT, time_key TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX logs_by_execution ON logs (execution_id, time_key, id);
    CREATE TABLE kv (
        namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, expires INTEGER,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;
    """,
    """
    CREATE TABLE concurrency_slots (
        namespace TEXT NOT NULL, flow_id TEXT NOT NULL, execution_id TEXT NOT NULL, taken TEXT NOT NULL,
        PRIMARY KEY (namespace, flow_id, execution_id)
    ) WITHOUT ROWID;
    CREATE TABLE concurrency_queue (
        namespace TEXT NOT NULL, flow_id TEXT NOT NULL, queue_key TEXT NOT NULL, execution_id TEXT NOT NULL,
        PRIMARY KEY (namespace, flow_id, queue_key)
    ) WITHOUT ROWID;
    CREATE TABLE trigger_states (
        namespace TEXT NOT NULL, flow_id TEXT NOT NULL, trigger_id TEXT NOT NULL, version INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (namespace, flow_id, trigger_id)
    ) WITHOUT ROWID;
    """,
    # The local process running each execution (stratoflow.local.leases): a crashed one's are failed.
    """
    CREATE TABLE execution_owners (
        execution_id TEXT PRIMARY KEY, owner TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX execution_owners_by_owner ON execution_owners (owner, execution_id);
    """,
    # Task runs grouped under their parent task run: a loop's end reads its own children by a range of
    # this index instead of every task run of the execution. Older rows get the column from their JSON.
    """
    ALTER TABLE task_runs ADD COLUMN parent_id TEXT;
    UPDATE task_runs SET parent_id = json_extract(data, '$.parentTaskRunId');
    CREATE INDEX task_runs_by_parent ON task_runs (execution_id, parent_id, seq);
    """,
    # No reader of task runs by parent is left (a loop's end reads its iterations' runs by key): the
    # index goes, so an insert no longer maintains it. The column stays, unwritten (NULL from now on):
    # SQLite before 3.35 cannot drop a column.
    """
    DROP INDEX IF EXISTS task_runs_by_parent;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> None:
    """Bring the database to SCHEMA_VERSION; call inside a write transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = db.execute("SELECT version FROM schema_version").fetchone()
    version = row[0] if row else 0
    if version > SCHEMA_VERSION:
        raise StratoflowError(
            f"this store was written by a newer Stratoflow (schema {version}, this one knows {SCHEMA_VERSION})"
        )
    for script in MIGRATIONS[version:]:
        # executescript() would commit the open transaction: run the statements one by one instead.
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    if row is None:
        db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
    elif version != SCHEMA_VERSION:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
