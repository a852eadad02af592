"""Faults of the machine, each reported in one line that names the cause: a flow file that is not
UTF-8, an unusable home, a file name too long for the storage, a full disk (modelled by ENOSPC and
SQLITE_FULL raised at the store and blob layer)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.errors import StorageError
from stratoflow.store.local import LocalBlobStore
from stratoflow.store.sqlite import SqliteExecutionStore

ROOT = Path(__file__).resolve().parents[3]
HELLO = ROOT / "examples" / "hello.yaml"
# A task whose output is large enough to go to blob storage.
BIG = """id: big
namespace: tests.faults
tasks:
  - id: numbers
    type: Return
    format: "{{ range(1, 40000) | join(',') }}"
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_run_gives_validates_located_error_for_a_non_utf8_file(tmp_path: Path) -> None:
    # Given a Latin-1 flow file
    flow_file = tmp_path / "latin.yaml"
    flow_file.write_bytes(b'id: x\nnamespace: t\ntasks:\n  - id: a\n    type: Log\n    message: "caf\xe9"\n')
    expected = f"{flow_file}:1:1: the file is not UTF-8 text: invalid continuation byte"

    # When validate and run read it
    _, validated, _ = invoke("validate", str(flow_file))
    code, _, err = invoke("run", str(flow_file), "--home", str(tmp_path / "home"))

    # Then run is refused with the same located line
    assert expected in validated
    assert code == 2
    assert err.strip() == expected


def test_a_home_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    # Given a home below a regular file
    (tmp_path / "file").write_text("")
    home = tmp_path / "file" / "home"

    code, _, err = invoke("run", str(HELLO), "--home", str(home))

    assert code == 1
    assert err.strip() == f"Error: cannot use {home} as the Stratoflow home: Not a directory"


def test_a_read_only_home_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a file system that refuses every new folder (root ignores permission bits, so it is faked)
    def read_only(self: Path, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)

    code, _, err = invoke("run", str(HELLO), "--home", str(tmp_path / "home"))

    assert code == 1
    assert (
        err.strip() == f"Error: cannot use {tmp_path / 'home'} as the Stratoflow home: Read-only file system"
    )


def test_a_read_only_history_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a history whose database refuses writes
    invoke("run", str(HELLO), "--home", str(tmp_path))
    refuse_writes(monkeypatch, code=8, message="attempt to write a readonly database", table="")

    code, _, err = invoke("run", str(HELLO), "--home", str(tmp_path))

    # Then nothing runs, and the line says why
    assert code == 2
    assert err.strip() == (
        f"error: the local history {tmp_path / 'stratoflow.db'} is read-only: check the permissions of its folder"
    )


def test_a_file_name_too_long_for_files_put_is_one_line(tmp_path: Path) -> None:
    # Given a file whose name fits the file system but not with the temporary suffix
    name = "n" * 240 + ".txt"
    (tmp_path / name).write_text("x")

    code, _, err = invoke("files", "put", "team.etl", str(tmp_path / name), "--home", str(tmp_path / "home"))

    assert code == 1
    assert err.strip() == (
        f"Error: file name too long for the storage: {name!r} has 244 bytes, at most 230 fit under "
        f"{tmp_path / 'home' / 'storage'}"
    )


def test_a_full_disk_under_the_blob_store_names_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a disk with no space left for blobs
    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalBlobStore, "_write_file", staticmethod(full))
    (tmp_path / "big.yaml").write_text(BIG)

    # When a task's large output must be stored
    code, _, err = invoke("run", str(tmp_path / "big.yaml"), "--home", str(tmp_path / "home"))

    # Then the run fails and its last line says the disk is full, and where
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        f"error: no space left on the device of {tmp_path / 'home' / 'storage'}: could not store "
    )


def test_a_full_disk_under_the_history_names_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database that cannot write task runs (SQLITE_FULL)
    refuse_writes(monkeypatch, code=13, message="database or disk is full", table="TASK_RUNS")

    # When a flow runs
    code, _, err = invoke("run", str(HELLO), "--home", str(tmp_path))

    # Then it says the disk is full, not only that the execution ended
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"error: no space left on the device of {tmp_path / 'stratoflow.db'}: the local history cannot be written"
    )


def test_the_store_maps_disk_errors_and_keeps_others() -> None:
    from stratoflow.store.sqlite import storage_error

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    syntax = sqlite3.OperationalError("near x: syntax error")
    syntax.sqlite_errorcode = 1  # type: ignore[attr-defined]

    assert isinstance(storage_error(full, Path("h.db")), StorageError)
    assert storage_error(syntax, Path("h.db")) is None


class _RefusingConnection:
    """A SQLite connection whose writes to one table (or every write) fail with a SQLite result code."""

    def __init__(self, db: sqlite3.Connection, code: int, message: str, table: str) -> None:
        self._db, self._code, self._message, self._table = db, code, message, table

    def execute(self, sql: str, *args: Any) -> Any:
        statement = sql.lstrip().upper()
        writes = statement.startswith(("INSERT", "UPDATE", "DELETE", "BEGIN"))
        if writes and (not self._table or self._table in statement):
            error = sqlite3.OperationalError(self._message)
            error.sqlite_errorcode = self._code  # type: ignore[attr-defined]
            raise error
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def refuse_writes(monkeypatch: pytest.MonkeyPatch, code: int, message: str, table: str) -> None:
    opened = SqliteExecutionStore.__init__

    def init(self: SqliteExecutionStore, *args: Any, **kwargs: Any) -> None:
        opened(self, *args, **kwargs)
        self._db = _RefusingConnection(self._db, code, message, table)  # type: ignore[assignment]

    monkeypatch.setattr(SqliteExecutionStore, "__init__", init)


def test_the_storage_fault_is_found_in_a_looping_exception_chain() -> None:
    from stratoflow.local.platform import _storage_fault

    # Given two errors that are each other's context (a retried task's chain can loop), and a full disk
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__context__, second.__context__ = second, first
    full = StorageError("no space left")
    failed = RuntimeError("task failed")
    failed.__cause__ = full

    assert _storage_fault(first) is None
    assert _storage_fault(failed) is full
