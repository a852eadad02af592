"""Which local process runs which execution, and whether that process is still alive.

Every process that runs executions on a local home (`strato run`, `strato server`, `strato restart`)
holds a lease: an exclusive `flock` on `<home>/leases/<owner>.lock`, where the owner names the host,
the pid and a random part. The operating system drops the lock when the process ends, however it ends
(kill -9, a crash, a reboot), and a new process with the same pid has another owner name: a lease that
can be locked by somebody else belongs to a process that is gone. An owner of another host is never
judged (a lock on a shared folder does not say whether a process of another machine is alive).

While a lease is held, the process groups of the scripts its process runs are recorded beside it
(`<owner>.groups`: a line `+<pgid> <mark>` when one starts, `-<pgid>` when it ended; the mark is what
the scripts carry, see `stratoflow.tasks.scripts.groups`; appending is two small writes per script):
the recovery of a gone owner ends what is left of them (`end_groups`) before it fails the executions,
so that a restart never runs a task while its first run goes on.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import threading
from pathlib import Path

from stratoflow.store.sqlite import SqliteExecutionStore
from stratoflow.tasks.scripts import groups

try:
    import fcntl
except ImportError:  # no flock (Windows): no lease is taken, and no process is ever judged gone
    fcntl = None  # type: ignore[assignment]

LEASES = "leases"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def host_name() -> str:
    """This machine's name as owners carry it: file-name safe, at most 40 characters."""
    return _UNSAFE.sub("_", socket.gethostname())[:40] or "localhost"


class ProcessLease:
    """This process's lease on a home: taken on first use, held until the process ends or `release`."""

    def __init__(self, home: Path | str) -> None:
        self.folder = Path(home) / LEASES
        self.owner = f"{host_name()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._fd: int | None = None
        # Two threads taking the lease first at once would open the file twice, and flock refuses the
        # second open file (a burst of webhooks on a fresh server lost a request to that).
        self._lock = threading.Lock()
        self._groups_fd: int | None = None
        self._groups_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.folder / f"{self.owner}.lock"

    @property
    def groups_path(self) -> Path:
        return _groups_path(self.folder, self.owner)

    def _record(self, line: str) -> None:
        with self._groups_lock:
            if self._groups_fd is None:
                self._groups_fd = os.open(self.groups_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(self._groups_fd, line.encode())

    def started(self, pgid: int) -> None:
        """A script's process group started (`groups.GroupRecorder`)."""
        self._record(f"+{pgid} {groups.MARK}\n")

    def ended(self, pgid: int) -> None:
        self._record(f"-{pgid}\n")

    def take(self) -> str:
        """Hold the lease (idempotent, thread-safe); returns the owner name to record with each execution."""
        with self._lock:
            if self._fd is None and fcntl is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh random name: nobody else holds it
                self._fd = fd
                groups.add_recorder(self)
        return self.owner

    def release(self) -> None:
        """Give the lease up: call only once no execution it recorded is still running."""
        with self._lock:
            if self._fd is not None:
                groups.remove_recorder(self)
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                with self._groups_lock:
                    if self._groups_fd is not None:
                        os.close(self._groups_fd)
                        self._groups_fd = None
                        with contextlib.suppress(FileNotFoundError):
                            self.groups_path.unlink()  # its scripts ended with its executions
                os.close(self._fd)
                self._fd = None


def owner_pid(owner: str) -> int | None:
    """The pid an owner name carries (for messages)."""
    parts = owner.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def owner_gone(home: Path | str, owner: str) -> bool:
    """True when the process of `owner` (of this host) has ended; False while it lives, and for an
    owner of another host. A gone owner's lease file is removed."""
    if fcntl is None or not owner.startswith(f"{host_name()}-") or _UNSAFE.search(owner):
        return False
    path = Path(home) / LEASES / f"{owner}.lock"
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:  # released (its process ended cleanly), or removed by another sweep
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True
    finally:
        os.close(fd)


def _groups_path(leases: Path, owner: str) -> Path:
    return leases / f"{owner}.groups"


def recorded_groups(path: Path) -> dict[int, str]:
    """The groups a record file says were started and not ended: `{pgid: mark}`."""
    running: dict[int, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return running
    for line in text.splitlines():
        with contextlib.suppress(ValueError, IndexError):
            if line.startswith("+"):
                pgid, mark = line[1:].split(" ", 1)
                running[int(pgid)] = mark
            elif line.startswith("-"):
                running.pop(int(line[1:]), None)
    return running


def end_groups(home: Path | str, owner: str) -> list[int]:
    """Kill the script process groups the gone `owner` recorded that still run (and carry its
    mark); returns their ids. Call only for an owner `owner_gone` judged gone."""
    path = _groups_path(Path(home) / LEASES, owner)
    ended = [pgid for pgid, mark in recorded_groups(path).items() if groups.end_group(pgid, mark)]
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return ended


def gone_owners(store: SqliteExecutionStore, home: Path | str) -> dict[str, list[str]]:
    """The owners of this host whose process has ended, with the executions they recorded and did not
    disown (`LocalPlatform.recover_orphans` fails them; the history marks them meanwhile)."""
    return {owner: ids for owner, ids in store.execution_owners().items() if owner_gone(home, owner)}
