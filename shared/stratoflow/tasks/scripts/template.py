"""The warm template process: started once as `python template.py <socket fd>`, it imports what script
tasks commonly need, then forks a fresh child per task on request (`stratoflow.tasks.scripts.warm`).

This file runs as a plain script, not as part of the `stratoflow` package: the template imports
nothing of Stratoflow, so that a script sees the interpreter as a fresh `python script.py` would.

Each child gets a process group of its own, dies with the template (parent-death signal), gets the
task's stdout/stderr (descriptors passed over the socket), /dev/null as stdin, the task's working
directory and environment, and then either runs the Python script as `__main__` (mode "python"),
or replaces itself with the command (mode "exec": a shell). When the socket closes (its runner has
ended, however it ended), the template kills every child's group and exits.

The template keeps one child forked ahead of the next request (the spare), already in its own
process group and detached from the template's descriptors: a request goes to the spare, which only
has to take the task's descriptors, working directory and environment, and the next spare is forked
while the task runs. The fork (copying the template's page tables, ~1 ms) is then off the path
between one task's end and the next one's start.

The template writes `R` on its socket once ready. A request is a 4-byte big-endian length, then
that many bytes of JSON `{"mode", "argv", "cwd", "env"}`, with three descriptors attached: the
task's stdout and stderr, and the task's own socket, on which the template answers `P<pid>\n` once
the child is forked (or `E<why>\n`), and `X<exit code>\n` once it is reaped; then it closes it.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import ctypes
import gc
import importlib
import io
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import traceback
import types
from typing import Any, NoReturn

# Imported once here, shared by every child (copy-on-write): what script tasks commonly use.
COMMON_MODULES = [
    "argparse",
    "base64",
    "collections",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "functools",
    "glob",
    "gzip",
    "hashlib",
    "itertools",
    "json",
    "logging",
    "math",
    "pathlib",
    "random",
    "re",
    "shutil",
    "sqlite3",
    "statistics",
    "string",
    "subprocess",
    "tempfile",
    "textwrap",
    "time",
    "typing",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "zipfile",
    "kestra",
]
EXTRA_MODULES = "STRATOFLOW_WARM_IMPORTS"  # more (comma separated), e.g. "pandas,requests"
PR_SET_PDEATHSIG = 1
HEADER = struct.Struct(">I")


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        more = sock.recv(count - len(data))
        if not more:
            raise EOFError
        data += more
    return data


def _tell(sock: socket.socket, line: str) -> None:
    with contextlib.suppress(OSError):  # the runner gave up on the task (it is killed anyway)
        sock.sendall(line.encode() + b"\n")


def _receive(sock: socket.socket, fd_count: int) -> tuple[bytes, list[int]]:
    """One request: its JSON body (not parsed) and the descriptors that came with it."""
    header, fds, _, _ = socket.recv_fds(sock, HEADER.size, fd_count)
    if not header:
        for fd in fds:
            os.close(fd)
        raise EOFError
    header += _read_exactly(sock, HEADER.size - len(header))
    return _read_exactly(sock, HEADER.unpack(header)[0]), fds


class Spare:
    """A child forked ahead of its request, waiting on its own socket for it (`Template.fork_spare`)."""

    def __init__(self, pid: int, sock: socket.socket):
        self.pid, self.sock = pid, sock

    def hand(self, body: bytes, fds: list[int]) -> None:
        """Give it the request and the task's stdout and stderr; raises OSError when it is gone."""
        socket.send_fds(self.sock, [HEADER.pack(len(body)) + body], fds)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Template:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.pid = os.getpid()
        self.children: dict[int, socket.socket] = {}  # pid -> the task's socket
        self.wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop
        self.wake_write = wake_write
        startup_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        # What every script finds after its own folder and PYTHONPATH: the interpreter's own path.
        self.base_path = [p for p in sys.path if p not in startup_path]
        self.libc = ctypes.CDLL(None)
        self.spare: Spare | None = None

    def serve(self) -> None:
        self.spare = self.fork_spare()
        self.sock.sendall(b"R")
        while True:
            ready, _, _ = select.select([self.sock.fileno(), self.wake_read], [], [])
            if self.wake_read in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_read, 512)
                self.reap()
            if self.sock.fileno() in ready:
                try:
                    body, fds = _receive(self.sock, 3)
                except (EOFError, OSError):
                    self.end()
                self.start(body, fds)

    def reap(self) -> None:
        while True:  # its tasks, and a spare that died waiting
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.spare is not None and pid == self.spare.pid:  # it died waiting (killed)
                self.spare.close()
                self.spare = None
                continue
            task = self.children.pop(pid, None)
            if task is not None:
                _tell(task, f"X{os.waitstatus_to_exitcode(status)}")
                task.close()

    def end(self) -> NoReturn:
        """The runner is gone: nothing it started may go on."""
        pids = [*self.children, *([self.spare.pid] if self.spare is not None else [])]
        for pid in pids:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        os._exit(0)

    def start(self, body: bytes, fds: list[int]) -> None:
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            return
        task = socket.socket(fileno=fds.pop())
        error: OSError | None = None
        for _ in range(2):  # a spare killed while it waited: a fresh one, once
            try:
                spare = self.spare or self.fork_spare()
            except OSError as failed:
                error = failed
                break
            self.spare = None
            try:
                spare.hand(body, fds)
            except OSError as failed:
                error = failed
                with contextlib.suppress(OSError):
                    os.kill(spare.pid, signal.SIGKILL)  # reaped with the others
                spare.close()
                continue
            spare.close()
            for fd in fds:
                os.close(fd)
            self.children[spare.pid] = task
            _tell(task, f"P{spare.pid}")
            with contextlib.suppress(OSError):  # none now: the next request forks one
                self.spare = self.fork_spare()
            return
        for fd in fds:
            os.close(fd)
        _tell(task, f"Ecannot fork: {error}")
        task.close()

    def fork_spare(self) -> Spare:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            raise
        if pid == 0:
            try:
                ours.close()
                self.child(theirs)
            finally:
                os._exit(127)
        theirs.close()
        return Spare(pid, ours)

    def child(self, sock: socket.socket) -> None:
        """A spare: detached from the template now, then waits for its request."""
        os.setsid()
        if hasattr(self.libc, "prctl"):  # Linux; elsewhere the template's end kills the groups
            self.libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != self.pid:
            os._exit(137)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd in (devnull, self.wake_read, self.wake_write, self.sock.fileno()):
            with contextlib.suppress(OSError):
                os.close(fd)
        for other in self.children.values():  # the other tasks' sockets are theirs
            other.close()
        standard_streams()
        try:
            body, fds = _receive(sock, 2)
        except (EOFError, OSError):  # the template ended
            os._exit(0)
        sock.close()
        if len(fds) != 2:
            os._exit(127)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for fd in fds:
            os.close(fd)
        request: dict[str, Any] = json.loads(body)
        env: dict[str, str] = request["env"]
        argv: list[str] = request["argv"]
        try:
            os.chdir(request["cwd"])
        except OSError as error:
            os.write(2, f"cannot enter {request['cwd']}: {error}\n".encode())
            os._exit(127)
        if request["mode"] == "exec":
            for number in (signal.SIGPIPE, signal.SIGXFSZ):  # as subprocess does: defaults for programs
                signal.signal(number, signal.SIG_DFL)
            try:
                os.execvpe(argv[0], argv, env)
            except OSError as error:
                os.write(2, f"cannot start {argv[0]!r}: {error.strerror or error}\n".encode())
                os._exit(127)
        run_python(argv[1:], env, self.base_path)


def standard_streams() -> None:
    """The script's sys.stdin/stdout/stderr on descriptors 0, 1 and 2 (made before the task's
    descriptors arrive: they are put in place under the same numbers)."""
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )


def run_python(argv: list[str], env: dict[str, str], base_path: list[str]) -> None:
    """Run the script `argv[0]` as `python script args...` would, then exit with its code."""
    os.environ.clear()
    os.environ.update(env)
    script = os.path.abspath(argv[0])
    own = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [os.path.dirname(script), *own, *base_path]
    sys.argv = list(argv)
    code = 0
    try:
        _run_main(script)
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except BaseException as error:
        _print_error(error, script)
        code = 1
    with contextlib.suppress(BaseException):
        threading._shutdown()  # type: ignore[attr-defined]  # waits for the script's threads, as exit does
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    os._exit(code)


def _run_main(script: str) -> None:
    """Run the file as `python script.py` does: compiled, then executed as a new `__main__` module
    (what the template's own `__main__` was is of no concern to the script)."""
    with open(script, "rb") as file:
        source = file.read()
    code = compile(source, script, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__cached__ = None  # type: ignore[attr-defined]
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _print_error(error: BaseException, script: str) -> None:
    """The traceback a fresh interpreter prints: from the script's first frame on (this file's
    frames are ours, not the script's)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__)


def _warm_up() -> None:
    extra = [m.strip() for m in os.environ.get(EXTRA_MODULES, "").split(",") if m.strip()]
    for module in (*COMMON_MODULES, *extra):
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    gc.collect()
    gc.freeze()  # the imported objects stay out of the children's collections: fewer copied pages


def main() -> None:
    sys.path.pop(0)  # this file's folder: not a script's
    sock = socket.socket(fileno=int(sys.argv[1]))
    _warm_up()
    Template(sock).serve()


if __name__ == "__main__":
    main()
