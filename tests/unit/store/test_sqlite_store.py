"""SQLite specifics: schema versioning, pragmas, reopening, the local store layout."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from stratoflow.domain import Execution, TaskRun
from stratoflow.errors import StratoflowError
from stratoflow.store import LocalBlobStore, SqliteExecutionStore, open_local_store
from stratoflow.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION


def test_schema_version_is_recorded_and_data_survives_reopening(tmp_path: Path) -> None:
    # Given a store with one execution, closed
    path = tmp_path / "s.db"
    with SqliteExecutionStore(path) as store:
        store.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))

    # When it is opened again
    with SqliteExecutionStore(path) as store:
        stored = store.get_execution("e1")

    # Then the data is there and the version is recorded once
    assert stored is not None and stored.id == "e1"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SqliteExecutionStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))

    with pytest.raises(StratoflowError, match="newer Stratoflow"):
        SqliteExecutionStore(path)


def test_a_failed_write_leaves_no_partial_change(tmp_path: Path) -> None:
    with SqliteExecutionStore(tmp_path / "s.db") as store:
        store.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
        with pytest.raises(StratoflowError):
            store.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=2))
        # The connection is usable afterwards (no transaction left open)
        store.kv_set("team", "k", 1)
        assert store.kv_get("team", "k") == (True, 1)


def test_open_local_store_creates_its_layout(tmp_path: Path) -> None:
    root = tmp_path / ".stratoflow"

    store, blobs = open_local_store(root)
    uri = blobs.put("team/etl/file.txt", b"x")
    store.close()

    assert (root / "stratoflow.db").is_file()
    assert (root / "storage" / "team" / "etl" / "file.txt").read_bytes() == b"x"
    assert isinstance(blobs, LocalBlobStore) and uri == "strato:///team/etl/file.txt"


def test_local_blob_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    for n in range(3):
        blobs.put("a/b.bin", bytes([n]) * 1000)

    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.bin"]


def test_two_connections_to_one_file_keep_seq_unique(tmp_path: Path) -> None:
    # Given two stores on one file, as two processes would have (each its own connection and lock)
    path = tmp_path / "s.db"
    first, second = SqliteExecutionStore(path), SqliteExecutionStore(path)
    first.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))

    # When 40 threads insert task runs through either of them
    def insert(n: int) -> int:
        store = first if n % 2 else second
        return store.save_task_run(TaskRun(id=f"tr{n}", execution_id="e1", task_id="t")).seq

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = list(pool.map(insert, range(40)))

    # Then BEGIN IMMEDIATE serialised them: every seq once, whatever the clock said
    assert len(set(seqs)) == 40
    assert [r.seq for r in first.list_task_runs("e1")] == sorted(seqs)
    first.close()
    second.close()


@pytest.mark.parametrize("version", [3, 4])
def test_older_histories_migrate_and_keep_their_task_runs_under_their_parents(
    tmp_path: Path, version: int
) -> None:
    # Given a history written at schema 3 (no parent column) or 4 (the parent index a loop's end
    # once read): a loop's run and two iterations' runs
    path = tmp_path / "s.db"
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("BEGIN")
        migrate_to(db, version)
        db.execute(
            "INSERT INTO executions VALUES ('e1', 'team', 'etl', 'RUNNING', '0', ?)",
            (Execution(id="e1", namespace="team", flow_id="etl", revision=1).model_dump_json(by_alias=True),),
        )
        for seq, run in enumerate(
            [
                TaskRun(id="loop", execution_id="e1", task_id="each"),
                TaskRun(id="i1", execution_id="e1", task_id="work", parent_task_run_id="loop"),
                TaskRun(id="i0", execution_id="e1", task_id="work", parent_task_run_id="loop"),
            ]
        ):
            data = run.model_copy(update={"seq": seq}).model_dump_json(by_alias=True)
            columns = (run.id, seq, run.task_id, data)
            if version == 3:
                db.execute("INSERT INTO task_runs VALUES ('e1', ?, ?, ?, ?)", columns)
            else:
                db.execute(
                    "INSERT INTO task_runs VALUES ('e1', ?, ?, ?, ?, ?)", (*columns, run.parent_task_run_id)
                )
        db.execute("COMMIT")

    # When the current store opens it, lists the task runs and reads the iterations by key
    with SqliteExecutionStore(path) as store:
        listed = store.list_task_runs("e1")
        by_key = store.get_task_runs("e1", ["i0", "i1"])
        indexes = store._all(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task_runs'", ()
        )

    # Then every run keeps its parent, and no index of task runs by parent is kept up any more
    assert [(run.id, run.parent_task_run_id) for run in listed] == [
        ("loop", None),
        ("i1", "loop"),
        ("i0", "loop"),
    ]
    assert [run.id for run in by_key] == ["i1", "i0"]
    assert "task_runs_by_parent" not in {row[0] for row in indexes}


def migrate_to(db: sqlite3.Connection, version: int) -> None:
    """A database as the schema stood at `version` (the migrations before it)."""
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for script in MIGRATIONS[:version]:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("INSERT INTO schema_version VALUES (?)", (version,))


def test_task_runs_are_read_a_page_at_a_time_in_creation_order(tmp_path: Path) -> None:
    # Given five task runs
    with SqliteExecutionStore(tmp_path / "s.db") as store:
        store.create_execution(Execution(id="e1", namespace="team", flow_id="etl", revision=1))
        for name in ("c", "a", "e", "b", "d"):
            store.save_task_run(TaskRun(id=name, execution_id="e1", task_id="t"))

        # When they are iterated in pages of two
        listed = [run.id for run in store.iter_task_runs("e1", page=2)]

        # Then every one comes once, in creation order, as list_task_runs gives them
        assert listed == ["c", "a", "e", "b", "d"] == [run.id for run in store.list_task_runs("e1")]
        assert list(store.iter_task_runs("e1", page=5)) == store.list_task_runs("e1")
