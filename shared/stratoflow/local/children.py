"""End the process groups this process started, when it stops the executions that started them.

A script task runs its command as the leader of a new process group (`tasks/scripts/process.py`), so
stopping the execution alone would leave the command running until it ends by itself. Stopping every
execution (the server shutting down, Ctrl-C on `strato run`) therefore kills, with SIGKILL, every
process group led by a child of this process — the same kill a script's timeout uses. Needs `/proc`
(Linux); elsewhere nothing is found and the commands end on their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PROC = Path("/proc")


def child_group_leaders(parent: int | None = None) -> list[int]:
    """Pids of the children of `parent` (this process by default) that lead a process group of their own."""
    parent = os.getpid() if parent is None else parent
    own_group = os.getpgid(parent)
    leaders = []
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            # `pid (comm) state ppid pgrp ...`: comm may hold spaces, so split after its ')'.
            pid = int(stat.parent.name)
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        ppid, group = int(fields[1]), int(fields[2])
        if ppid == parent and group == pid and group != own_group and fields[0] != "Z":
            leaders.append(pid)
    return sorted(leaders)


def end_child_process_groups() -> list[int]:
    """SIGKILL every process group led by a child of this process; returns the group ids."""
    leaders = child_group_leaders()
    for group in leaders:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    return leaders
