"""Run one command in its own process group, stream its output line by line, and kill the whole
group on timeout.

A script may start children of its own (a shell pipeline, `python -m pip`, a background job): they
share the process group, so a timeout, or the end of the script, leaves nothing running behind it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from stratoflow.tasks.errors import TaskFailed, TaskTimeout

# Longer lines are cut into pieces of this size: a log line must not hold megabytes.
MAX_LINE_BYTES = 64 * 1024
# How long a killed process group may take to go.
KILL_WAIT_SECONDS = 2.0
# How long the readers may take to drain the pipes once the process group is gone.
DRAIN_SECONDS = 5.0

LineHandler = Callable[[str, str], None]
"""Called with ("stdout" | "stderr", line without its newline), one line at a time."""


def _pump(stream: IO[bytes], name: str, on_line: LineHandler, lock: threading.Lock) -> None:
    with stream:
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with lock:
                on_line(name, line)


def _group_running(pgid: int) -> bool:
    """True while a process of the group is still running (zombies, killed and waiting to be
    reaped by init, do not count)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    proc = Path("/proc")
    if not proc.is_dir():  # no /proc (macOS): the group still has members
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # `pid (comm) state ppid pgrp ...`: comm may hold spaces, so split after its ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process of the child's group, and wait (briefly) until none of them runs."""
    # The group id is the child's pid (start_new_session): killing it reaches every descendant that
    # did not leave the session on purpose.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while _group_running(process.pid) and time.monotonic() < deadline:
        time.sleep(0.005)  # SIGKILL is delivered asynchronously: the kernel takes a moment


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
    on_line: LineHandler,
) -> int:
    """Run `argv` to its end and return its exit code; raises TaskTimeout after `timeout` seconds
    (the process group is killed first)."""
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        raise TaskFailed(f"cannot start {argv[0]!r}: {error.strerror or error}") from None
    lock = threading.Lock()
    assert process.stdout is not None and process.stderr is not None
    readers = [
        threading.Thread(target=_pump, args=(stream, name, on_line, lock), daemon=True)
        for stream, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        # Also after a normal exit: background children must not outlive the task (nor keep its
        # pipes open, which would block the readers).
        _kill_group(process)
        process.wait()
        for reader in readers:
            reader.join(DRAIN_SECONDS)
    if timed_out:
        raise TaskTimeout(f"the command ran longer than its timeout ({timeout:g} s) and was killed")
    return process.returncode
