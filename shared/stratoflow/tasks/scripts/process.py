"""Run one command in its own process group, stream its output line by line, and kill the whole
group on timeout.

A script may start children of its own (a shell pipeline, `python -m pip`, a background job): they
share the process group, so a timeout, or the end of the script, leaves nothing running behind it.
The group's first process dies with its runner (a parent-death signal), and the group is recorded
while it runs (`groups`) so that the recovery of a killed runner ends what is left of it.

Who starts the process is a `Launcher`: a plain fork and exec (`spawn`), or a warm template
process that forks a child per task (`stratoflow.tasks.scripts.warm`).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

from stratoflow.tasks.errors import TaskFailed, TaskTimeout
from stratoflow.tasks.scripts import groups

# Longer lines are cut into pieces of this size: a log line must not hold megabytes.
MAX_LINE_BYTES = 64 * 1024
# How long the readers may take to drain the pipes once the process group is gone.
DRAIN_SECONDS = 5.0

LineHandler = Callable[[str, str], None]
"""Called with ("stdout" | "stderr", line without its newline), one line at a time."""


class Started(Protocol):
    """A started process: the leader of its own process group."""

    @property
    def pid(self) -> int: ...

    def wait(self, timeout: float | None) -> int | None:
        """Its exit code (negative: killed by that signal), or None when `timeout` passed first."""


class Launcher(Protocol):
    def start(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: int, stderr: int
    ) -> Started:
        """Start `argv` in a new process group with stdout/stderr on the given descriptors and stdin
        on /dev/null; raises TaskFailed when it cannot start."""


class _Spawned:
    def __init__(self, process: subprocess.Popen[bytes]):
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float | None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class Spawn:
    """Fork and exec from this process (pip, another interpreter, a shell without a template)."""

    def start(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: int, stderr: int
    ) -> Started:
        parent = os.getpid()
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                # The thread calling this waits for the process: it dies with the runner, not before.
                preexec_fn=lambda: groups.die_with_parent(parent),
            )
        except OSError as error:
            raise TaskFailed(f"cannot start {argv[0]!r}: {error.strerror or error}") from None
        return _Spawned(process)


SPAWN = Spawn()


class OutputTooLarge(TaskFailed):
    """A line that must arrive whole (an outputs line) is larger than the limit."""


class _Reader:
    """Reads one stream line by line. Lines starting with `whole` are kept whole up to `limit`
    bytes (outputs lines); other long lines are cut into MAX_LINE_BYTES pieces."""

    def __init__(
        self, name: str, on_line: LineHandler, lock: threading.Lock, whole: bytes | None, limit: int
    ):
        self.name, self.on_line, self.lock = name, on_line, lock
        self.whole, self.limit = whole, limit
        self.too_large = False

    def pump(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
                piece: bytes | None = raw
                if self.whole and raw.startswith(self.whole) and not raw.endswith(b"\n"):
                    piece = self._rest_of_line(stream, raw)
                if piece is None:
                    continue
                line = piece.decode("utf-8", errors="replace").rstrip("\r\n")
                with self.lock:
                    self.on_line(self.name, line)

    def _rest_of_line(self, stream: IO[bytes], first: bytes) -> bytes | None:
        parts, size = [first], len(first)
        while not parts[-1].endswith(b"\n"):
            more = stream.readline(MAX_LINE_BYTES)
            if not more:
                break
            size += len(more)
            if size > self.limit:
                self.too_large = True
                while more and not more.endswith(b"\n"):  # drop the rest: no megabytes of log lines
                    more = stream.readline(MAX_LINE_BYTES)
                return None
            parts.append(more)
        return b"".join(parts)


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
    on_line: LineHandler,
    launcher: Launcher = SPAWN,
    whole_lines: bytes | None = None,
    whole_limit: int = MAX_LINE_BYTES,
) -> int:
    """Run `argv` to its end and return its exit code; raises TaskTimeout after `timeout` seconds
    (the process group is killed first). Lines starting with `whole_lines` reach `on_line` whole up
    to `whole_limit` bytes; a longer one raises OutputTooLarge once the process has ended."""
    lock = threading.Lock()
    readers = [_Reader(name, on_line, lock, whole_lines, whole_limit) for name in ("stdout", "stderr")]
    pipes = [os.pipe() for _ in readers]
    try:
        started = launcher.start(argv, cwd, env, pipes[0][1], pipes[1][1])
    except BaseException:
        for read_end, write_end in pipes:
            os.close(read_end)
            os.close(write_end)
        raise
    for _, write_end in pipes:
        os.close(write_end)  # the child holds them now: the readers see EOF when it ends
    groups.started(started.pid)
    threads = [
        threading.Thread(target=reader.pump, args=(os.fdopen(read_end, "rb"),), daemon=True)
        for reader, (read_end, _) in zip(readers, pipes, strict=True)
    ]
    for thread in threads:
        thread.start()
    code: int | None = None
    try:
        code = started.wait(timeout)
    finally:
        # Also after a normal exit: background children must not outlive the task (nor keep its
        # pipes open, which would block the readers).
        groups.kill_group(started.pid)
        if code is None:
            code = started.wait(None)
            timed_out = True
        else:
            timed_out = False
        groups.ended(started.pid)
        for thread in threads:
            thread.join(DRAIN_SECONDS)
    if timed_out:
        raise TaskTimeout(f"the command ran longer than its timeout ({timeout:g} s) and was killed")
    if any(reader.too_large for reader in readers):
        raise OutputTooLarge(
            f"an outputs line is larger than the output size limit ({_size(whole_limit)}): "
            "write large data to a file and list it in outputFiles"
        )
    assert code is not None
    return code


def _size(count: int) -> str:
    return f"{count // 1024**2} MiB" if count % 1024**2 == 0 else f"{count} bytes"
