"""Run one command in its own process group, stream its output line by line, and kill the whole
group on timeout.

A script may start children of its own (a shell pipeline, `python -m pip`, a background job): they
share the process group, so a timeout, or the end of the script, leaves nothing running behind it.
The group's first process dies with its runner (a parent-death signal), and the group is recorded
while it runs (`groups`) so that the recovery of a killed runner ends what is left of it.

Who starts the process is a `Launcher`: a plain fork and exec (`spawn`), or a warm template
process that forks a child per task (`stratoflow.tasks.scripts.warm`).

A script is also stopped when its task no longer matters (an enclosing flowable timed out, the
execution was killed): whoever runs the task installs a check with `stopped_when`, which the loop
asks every STOP_CHECK_SECONDS while the command runs; a reason ends the group and raises TaskStopped.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import selectors
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from stratoflow.tasks.errors import TaskFailed, TaskStopped, TaskTimeout
from stratoflow.tasks.scripts import groups

# Longer lines are cut into pieces of this size: a log line must not hold megabytes.
MAX_LINE_BYTES = 64 * 1024
# How long the pipes may take to drain once the process group is gone.
DRAIN_SECONDS = 5.0
# How often the end of the process is checked where nothing signals it (no pidfd: macOS).
POLL_SECONDS = 0.05
READ_BYTES = 256 * 1024
# How often a running command asks whether its task must stop (the checks rate-limit their own reads).
STOP_CHECK_SECONDS = 0.2

StopCheck = Callable[[], str | None]
"""Returns why the running task must stop now, or None to let it run on."""

_stop_checks: contextvars.ContextVar[tuple[StopCheck, ...]] = contextvars.ContextVar(
    "stratoflow_stop_checks", default=()
)


@contextlib.contextmanager
def stopped_when(check: StopCheck) -> Iterator[None]:
    """While inside, the commands this thread runs stop when `check` gives a reason (checks nest)."""
    token = _stop_checks.set((*_stop_checks.get(), check))
    try:
        yield
    finally:
        _stop_checks.reset(token)


def stop_reason() -> str | None:
    """The first reason a check installed by `stopped_when` gives, or None."""
    return _first_reason(_stop_checks.get())


def installed_check() -> StopCheck | None:
    """The checks this thread has installed now, as one check that another thread may call (a
    command running elsewhere, in a script sandbox, is watched from a thread of the runner), or None."""
    checks = _stop_checks.get()
    return (lambda: _first_reason(checks)) if checks else None


def _first_reason(checks: tuple[StopCheck, ...]) -> str | None:
    for check in checks:
        reason = check()
        if reason is not None:
            return reason
    return None


LineHandler = Callable[[str, str], None]
"""Called with ("stdout" | "stderr", line without its newline), one line at a time."""


class Started(Protocol):
    """A started process: the leader of its own process group."""

    @property
    def pid(self) -> int: ...

    @property
    def status_fd(self) -> int | None:
        """A descriptor that becomes readable when the process may have ended (None: poll)."""

    def poll(self) -> int | None:
        """Its exit code (negative: killed by that signal) once it ended, else None; never blocks."""

    def wait(self) -> int:
        """Its exit code, once it ended (call after killing its group)."""

    @property
    def ended_alone(self) -> bool:
        """Whether it said, as it ended, that it never started a process: its group holds nothing
        else to kill (it may still be exiting)."""

    def close(self) -> None:
        """Release what watching it took (descriptors)."""


class Launcher(Protocol):
    def start(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: int, stderr: int
    ) -> Started:
        """Start `argv` in a new process group with stdout/stderr on the given descriptors and stdin
        on /dev/null; raises TaskFailed when it cannot start."""


class _Spawned:
    def __init__(self, process: subprocess.Popen[bytes]):
        self.process = process
        self._pidfd: int | None = None
        with contextlib.suppress(AttributeError, OSError):  # Linux 5.3+: its end wakes the select
            self._pidfd = os.pidfd_open(process.pid)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def status_fd(self) -> int | None:
        return self._pidfd

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self) -> int:
        return self.process.wait()

    @property
    def ended_alone(self) -> bool:
        return False

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


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


class _Lines:
    """Splits one stream's bytes into lines. Lines starting with `whole` are kept whole up to `limit`
    bytes (outputs lines; a longer one is dropped and marks `too_large`); other long lines are cut
    into MAX_LINE_BYTES pieces (a log line must not hold megabytes)."""

    def __init__(self, name: str, on_line: LineHandler, whole: bytes | None, limit: int):
        self.name, self.on_line, self.whole, self.limit = name, on_line, whole, limit
        self.buffer = bytearray()
        self.dropping = False  # inside a too large whole line: its bytes go nowhere
        self.too_large = False

    def _whole(self, start: bytes | bytearray) -> bool:
        return self.whole is not None and start[: len(self.whole)] == self.whole

    def _starts_whole(self) -> bool:
        """Whether the buffered line is (or, still too short to tell, may be) a whole line."""
        if self.whole is None:
            return False
        head = bytes(self.buffer[: len(self.whole)])  # a few bytes: never a copy of the whole buffer
        return head == self.whole or (len(head) < len(self.whole) and self.whole.startswith(head))

    def _emit(self, raw: bytes | bytearray) -> None:
        self.on_line(self.name, bytes(raw).decode("utf-8", errors="replace").rstrip("\r\n"))

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            end = self.buffer.find(b"\n")
            if self.dropping:
                if end < 0:
                    self.buffer.clear()
                    return
                del self.buffer[: end + 1]
                self.dropping = False
                continue
            if self._starts_whole():
                if end < 0:
                    if len(self.buffer) > self.limit:
                        self.too_large, self.dropping = True, True
                        self.buffer.clear()
                    return  # the rest of the line is still to come
                line = self.buffer[: end + 1]
                del self.buffer[: end + 1]
                if len(line) > self.limit + 1:
                    self.too_large = True
                else:
                    self._emit(line)
                continue
            cut = (
                end + 1
                if 0 <= end < MAX_LINE_BYTES
                else (MAX_LINE_BYTES if len(self.buffer) >= MAX_LINE_BYTES else 0)
            )
            if not cut:
                return
            self._emit(self.buffer[:cut])
            del self.buffer[:cut]

    def close(self) -> None:
        """The stream ended: its last line may lack a newline."""
        if self.buffer and not self.dropping:
            if self._whole(self.buffer) and len(self.buffer) > self.limit:
                self.too_large = True
            else:
                self._emit(self.buffer)
        self.buffer.clear()


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
    to `whole_limit` bytes; a longer one raises OutputTooLarge once the process has ended.

    The calling thread reads both pipes itself (no reader threads to start per task)."""
    pipes = [os.pipe(), os.pipe()]
    try:
        started = launcher.start(argv, cwd, env, pipes[0][1], pipes[1][1])
    except BaseException:
        for read_end, write_end in pipes:
            os.close(read_end)
            os.close(write_end)
        raise
    for _, write_end in pipes:
        os.close(write_end)  # the child holds them now: EOF comes when it (and its children) end
    groups.started(started.pid)
    lines = {
        pipes[0][0]: _Lines("stdout", on_line, whole_lines, whole_limit),
        pipes[1][0]: _Lines("stderr", on_line, whole_lines, whole_limit),
    }
    deadline = None if timeout is None else time.monotonic() + timeout
    checked = bool(_stop_checks.get())
    code: int | None = None
    timed_out = False
    stopped: str | None = None
    selector = selectors.DefaultSelector()
    status = started.status_fd
    try:
        for fd in lines:
            selector.register(fd, selectors.EVENT_READ)
        if status is not None:
            selector.register(status, selectors.EVENT_READ)
        # Until it ends: its output as it comes. Its pipes may stay open after it ended (a background
        # child of its own holds them): they are drained once its group is killed.
        while (code := started.poll()) is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                timed_out = True
                break
            wait_s = (
                left if status is not None else min(POLL_SECONDS, left if left is not None else POLL_SECONDS)
            )
            if checked:
                wait_s = STOP_CHECK_SECONDS if wait_s is None else min(wait_s, STOP_CHECK_SECONDS)
            for key, _ in selector.select(wait_s):
                if key.fd != status:
                    _read(selector, key.fd, lines)
            if checked and (stopped := stop_reason()) is not None:
                break
    finally:
        # Also after a normal exit: background children must not outlive the task (nor keep its
        # pipes open).
        if code is None or not started.ended_alone:
            groups.kill_group(started.pid)
        if code is None:
            code = started.wait()
        groups.ended(started.pid)
        if status is not None:
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(status)
        started.close()
        _drain(selector, lines)
    if timed_out:
        raise TaskTimeout(f"the command ran longer than its timeout ({timeout:g} s) and was killed")
    if stopped is not None:
        raise TaskStopped(f"the command was killed: {stopped}")
    if any(reader.too_large for reader in lines.values()):
        raise OutputTooLarge(
            f"an outputs line is larger than the output size limit ({_size(whole_limit)}): "
            "write large data to a file and list it in outputFiles"
        )
    assert code is not None
    return code


def _read(selector: selectors.BaseSelector, fd: int, lines: dict[int, _Lines]) -> None:
    data = os.read(fd, READ_BYTES)
    if data:
        lines[fd].feed(data)
    else:
        selector.unregister(fd)
        lines[fd].close()


def _drain(selector: selectors.BaseSelector, lines: dict[int, _Lines]) -> None:
    """Read what is left in the pipes (the group is gone: they end soon), then close them."""
    deadline = time.monotonic() + DRAIN_SECONDS
    with selector:
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
                _read(selector, key.fd, lines)
    for fd in lines:
        os.close(fd)


def _size(count: int) -> str:
    return f"{count // 1024**2} MiB" if count % 1024**2 == 0 else f"{count} bytes"
