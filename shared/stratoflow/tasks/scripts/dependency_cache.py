"""The entries of the `dependencies` cache: complete installs, held while in use, evicted when too many.

`<root>/<interpreter version>/<digest>/` is an entry: one install. Its file `.stratoflow-entry`, written
last, says it is complete and how many bytes it holds; a folder without a valid one (a crash, a copy
made by hand, an older Stratoflow) is not an entry: it is replaced by the next install of the same
requirements. `.<digest>-*` folders are installs under way (or left by a killed run), `.evicted-*`
folders are entries being deleted.

The cache holds at most `MAX_ENTRIES` entries and `MAX_BYTES`, or `DISK_SHARE` of the disk it is on if
that is less (Lambda's /tmp is 512 MB by default, and the task's own files share it). Each install
ends with `prune`, which deletes the least recently used entries until the cache is within bounds.

An entry in use is never deleted: a run holds a shared `flock` on the entry's folder from the moment it
picks it until its script ends, and `prune` takes an exclusive one without waiting, so it skips any
entry in use, in this process or another. It renames the entry out of the way before deleting it; a run
that opened the folder just before finds it gone once it has its lock, and installs again. A run sets
the entry's modification time when it picks it: that is what "least recently used" reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 2 * 1024**3
DISK_SHARE = 0.5
MAX_ENTRIES = 50
MARKER = ".stratoflow-entry"
EVICTED_PREFIX = ".evicted-"
# An install's folder is made, then locked: a folder that young is not taken for one a killed run left.
ABANDONED_AFTER_SECONDS = 60.0


def max_bytes(root: Path) -> int:
    """The cache's byte budget: `MAX_BYTES`, or `DISK_SHARE` of the disk holding `root` if less."""
    try:
        disk = shutil.disk_usage(root).total
    except OSError:
        return MAX_BYTES
    return min(MAX_BYTES, int(disk * DISK_SHARE))


def _open_folder(folder: Path) -> int | None:
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


def _still_at(fd: int, folder: Path) -> bool:
    """Whether `folder` is still the directory `fd` was opened on (not renamed away, not replaced)."""
    try:
        here, opened = os.stat(folder), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (opened.st_dev, opened.st_ino)


def entry_bytes(folder: Path) -> int | None:
    """The size its marker records, or None when `folder` is not a complete entry."""
    try:
        recorded = json.loads((folder / MARKER).read_text())["bytes"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return recorded if isinstance(recorded, int) and recorded >= 0 else None


class Lease:
    """A shared lock on an entry: while it is held, `prune` leaves the entry alone."""

    def __init__(self, fd: int):
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops its lock
            self._fd = None


def hold(folder: Path) -> Lease | None:
    """A lease on the complete entry `folder` (now its most recent use), or None when there is none."""
    fd = _open_folder(folder)
    if fd is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while `prune` renames the entry away
        if not _still_at(fd, folder) or entry_bytes(folder) is None:
            os.close(fd)
            return None
        with contextlib.suppress(OSError):
            os.utime(folder)
    except BaseException:
        os.close(fd)
        raise
    return Lease(fd)


@dataclass
class Staging:
    """A new install's folder, locked so that `prune` knows it is not abandoned."""

    folder: Path
    fd: int | None  # None once its lock became the new entry's lease

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        shutil.rmtree(self.folder, ignore_errors=True)  # gone already when it became the entry


def stage(target: Path) -> Staging:
    """A new folder beside `target` for its install."""
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return Staging(folder, fd)


def complete(staging: Staging, target: Path, requirements: Sequence[str]) -> Lease | None:
    """Make the finished install `staging` the entry `target`, and lease it. Returns None when
    another run completed `target` first (then `hold(target)` gives its entry) or when `prune`
    deleted the new entry before it could be leased."""
    assert staging.fd is not None
    marker = {"bytes": _tree_bytes(staging.folder), "requirements": sorted(set(requirements))}
    (staging.folder / MARKER).write_text(json.dumps(marker))
    if entry_bytes(target) is None:
        discard(target)  # a folder in the way that is not an entry (a crash, an older Stratoflow)
    try:
        staging.folder.rename(target)
    except OSError:
        if not target.is_dir():  # not a concurrent install that finished first
            raise
        return None
    # Exclusive to shared is not atomic in Linux: `prune` may take it in between, then it is gone.
    fcntl.flock(staging.fd, fcntl.LOCK_SH)
    if not _still_at(staging.fd, target):
        return None
    with contextlib.suppress(OSError):
        os.utime(target)
    lease, staging.fd = Lease(staging.fd), None
    return lease


def _tree_bytes(folder: Path) -> int:
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_size
    return total


def _evict(folder: Path) -> bool:
    """Delete `folder` unless a run holds it (or anyone holds it: an install under way)."""
    fd = _open_folder(folder)
    if fd is None:
        return False
    doomed: Path | None = None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not _still_at(fd, folder):
            return False
        doomed = Path(tempfile.mkdtemp(dir=folder.parent, prefix=EVICTED_PREFIX))
        folder.rename(doomed / folder.name)
        return True
    except OSError:  # held (BlockingIOError), or evicted meanwhile by another prune
        return False
    finally:
        os.close(fd)
        if doomed is not None:
            shutil.rmtree(doomed, ignore_errors=True)


def discard(folder: Path) -> None:
    """Remove `folder` if it is there and nobody holds it."""
    if folder.exists():
        _evict(folder)


@dataclass(frozen=True)
class Entry:
    folder: Path
    bytes: int
    used: float  # its modification time: set by every run that picks it


def entries(root: Path) -> list[Entry]:
    """The complete entries under `root`, least recently used first."""
    found: list[Entry] = []
    for version in _folders(root):
        for folder in _folders(version):
            size = entry_bytes(folder)
            if folder.name.startswith(".") or size is None:
                continue
            with contextlib.suppress(OSError):
                found.append(Entry(folder, size, folder.stat().st_mtime))
    return sorted(found, key=lambda entry: (entry.used, entry.folder.name))


def _folders(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def prune(root: Path, *, max_entries: int = MAX_ENTRIES, budget: int | None = None) -> list[Path]:
    """Delete what is not a held entry (leftovers of crashes), then the least recently used entries
    until at most `max_entries` and `budget` bytes remain (those in use stay); returns the evicted."""
    budget = max_bytes(root) if budget is None else budget
    now = time.time()
    for version in _folders(root):
        for folder in _folders(version):
            if folder.name.startswith(EVICTED_PREFIX):
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.name.startswith("."):
                with contextlib.suppress(OSError):
                    if now - folder.stat().st_mtime > ABANDONED_AFTER_SECONDS:
                        _evict(folder)  # a killed run's install: nobody holds it
            elif entry_bytes(folder) is None:
                _evict(folder)  # incomplete: never used, replaced when its requirements come again
    kept = entries(root)
    count, total = len(kept), sum(entry.bytes for entry in kept)
    evicted: list[Path] = []
    for entry in kept:
        if count <= max_entries and total <= budget:
            break
        if _evict(entry.folder):
            evicted.append(entry.folder)
            count, total = count - 1, total - entry.bytes
    return evicted
