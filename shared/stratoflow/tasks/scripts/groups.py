"""The process groups of running scripts: recorded while they run, ended when their runner is gone.

Every script runs in its own process group (its id is the pid of the script's first process). The
first process dies with its runner (a parent-death signal), but what it started may not: a shell
pipeline, a background job. So the runner records each group while it runs (`recorders`: the local
platform writes them beside its lease), and the recovery of a gone runner ends the groups it left
before it records the failure, so that a restart never runs a task while its first run goes on.

A group id can be reused once every process of the group has ended. Each script's environment
carries `MARK_VARIABLE` with this runner's mark, and a recorded group is ended only while one of its
processes still carries that mark: a later group that happens to get the same id is left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Protocol

MARK_VARIABLE = "STRATOFLOW_SCRIPT_OF"
# This process's mark: the host, the pid and a random part (a later process with the same pid differs).
MARK = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
# How long a killed process group may take to go.
KILL_WAIT_SECONDS = 2.0
PR_SET_PDEATHSIG = 1


class GroupRecorder(Protocol):
    def started(self, pgid: int) -> None: ...

    def ended(self, pgid: int) -> None: ...


_recorders: list[GroupRecorder] = []
_recorders_lock = threading.Lock()


def add_recorder(recorder: GroupRecorder) -> None:
    with _recorders_lock:
        _recorders.append(recorder)


def remove_recorder(recorder: GroupRecorder) -> None:
    with _recorders_lock, contextlib.suppress(ValueError):
        _recorders.remove(recorder)


def started(pgid: int) -> None:
    with _recorders_lock:
        recorders = list(_recorders)
    for recorder in recorders:
        recorder.started(pgid)


def ended(pgid: int) -> None:
    with _recorders_lock:
        recorders = list(_recorders)
    for recorder in recorders:
        recorder.ended(pgid)


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()  # loaded before any fork: the child must not load libraries


def die_with_parent(parent_pid: int) -> None:
    """In a new child: be killed when the parent (thread) that started it ends. Exits at once when
    the parent is already gone (it ended between the fork and this call). Linux only (prctl)."""
    if _LIBC is None or not hasattr(_LIBC, "prctl"):
        return
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(137)


def _members(pgid: int) -> list[int]:
    """The running (not zombie) processes of group `pgid`; [] without /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # `pid (comm) state ppid pgrp ...`: comm may hold spaces, so split after its ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def group_running(pgid: int) -> bool:
    """True while a process of the group is still running (zombies, killed and waiting to be
    reaped, do not count)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    if not Path("/proc").is_dir():  # no /proc (macOS): the group still has members
        return True
    return bool(_members(pgid))


def kill_group(pgid: int) -> None:
    """SIGKILL every process of the group, and wait (briefly) until none of them runs."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while group_running(pgid) and time.monotonic() < deadline:
        time.sleep(0.005)  # SIGKILL is delivered asynchronously: the kernel takes a moment


def _carries(pid: int, mark: str) -> bool:
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{MARK_VARIABLE}={mark}".encode() in environment.split(b"\0")


def end_group(pgid: int, mark: str) -> bool:
    """Kill the group `pgid` if one of its processes carries `mark` (the group a gone runner
    recorded, not a later one with the same id); True when it was ended."""
    if not any(_carries(pid, mark) for pid in _members(pgid)):
        return False
    kill_group(pgid)
    return True
