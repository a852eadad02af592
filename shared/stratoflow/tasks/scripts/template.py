"""The warm template process: started once as `python template.py <socket fd>`, it imports what script
tasks commonly need, then forks a fresh child per task on request (`stratoflow.tasks.scripts.warm`).

This file runs as a plain script, not as part of the `stratoflow` package: the template imports
nothing of Stratoflow, so that a script sees the interpreter as a fresh `python script.py` would.

Each child gets a process group of its own, dies with the template (parent-death signal), gets the
task's stdout/stderr (descriptors passed over the socket), /dev/null as stdin, the task's working
directory and environment, and then either runs the Python script as `__main__` (mode "python"),
or replaces itself with the command (mode "exec": a shell). When the socket closes (its runner has
ended, however it ended), the template kills every child's group and exits.

Children are forked ahead of their tasks: the runner asks for one (`F` on the template's socket,
a sequenced-packet socket), and the template forks it at once and hands it over (`S<pid>` with two
descriptors: the child's request socket and the task's status socket). The child is then already
in its own process group, detached from the template's descriptors, waiting on its request socket;
the runner sends the task straight to it, and asks for the next one while the task runs. The fork
(copying the template's page tables, ~1 ms) and a wake-up of the template are then off the path
between one task's end and the next one's start. A fork that fails answers `E<why>`.

The template writes `R` on its socket once ready. A request, on the child's request socket, is a
4-byte big-endian length, then that many bytes of JSON `{"mode", "argv", "cwd", "env"}`, with two
descriptors attached: the task's stdout and stderr. The template writes `X<exit code>\n` on the
status socket once the child is reaped, then closes it; a child whose request socket closes
unused exits. A Python script's child also writes `X<exit code>\n` on its request socket itself
once the script is done and its output flushed, just before it exits: the runner need not wait for
the kernel to tear the child down, nor for the template to wake and reap it (a child killed, or
one that became a program with exec, says nothing there: the template's word stands).

What the template imports is paid by every child: the kernel copies the template's page tables at
each fork and frees them at each exit (a few tenths of a microsecond a page), so the
template imports only small, common modules (`COMMON_MODULES`) and then learns: a Python script's
child names, on its request socket (`I<name>,<name>...\n`, before its `X` line), the standard-library
modules it imported that the template had not, and the runner passes them on to the template
(`I<names>` on the template's socket), which imports them for the children it forks after that
(the one already forked ahead has not). A flow whose scripts use `sqlite3` pays for its import in its
first two tasks, not in every task. Only standard-library modules
are learned (importing one starts no thread; `LEARN_NEVER` lists the few whose import does something
a script would see); anything else is imported only if asked (`STRATOFLOW_WARM_IMPORTS`).
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
import locale
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import types
from typing import Any, NoReturn

# Imported once here, shared by every child (copy-on-write): small modules script tasks commonly use.
# Larger ones (sqlite3, hashlib with OpenSSL, urllib.request, dataclasses with inspect, ...) cost
# every child 1-8 MiB of page tables copied and freed: they are learned once a script imports them.
COMMON_MODULES = [
    "argparse",
    "base64",
    "collections",
    "csv",
    "datetime",
    "decimal",
    "functools",
    "glob",
    "itertools",
    "json",
    "logging",
    "math",
    "pathlib",
    "random",
    "re",
    "string",
    "textwrap",
    "time",
    "typing",
    "urllib.parse",
    "uuid",
    "kestra",
]
# Standard-library modules never learned: importing them does something a script would see (prints,
# opens a browser, reads the environment), or they are test and demo code.
LEARN_NEVER = frozenset(
    {
        "this",
        "antigravity",
        "__hello__",
        "__phello__",
        "idlelib",
        "turtledemo",
        "test",
        "zoneinfo",
        "readline",
        "rlcompleter",
    }
)
STANDARD_LIBRARY = frozenset(sys.stdlib_module_names) - LEARN_NEVER
EXTRA_MODULES = "STRATOFLOW_WARM_IMPORTS"  # more (comma separated), e.g. "pandas,requests"
PR_SET_PDEATHSIG = 1
# What Python reads its LC_CTYPE from at start (the first one set wins).
LOCALE_VARIABLES = ("LC_ALL", "LC_CTYPE", "LANG")
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
        self.startup_path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        # What every script finds after its own folder and PYTHONPATH: the interpreter's own path.
        self.base_path = [p for p in sys.path if p not in self.startup_path]
        self.prctl = getattr(ctypes.CDLL(None), "prctl", None)  # Linux; looked up once, not per child
        self.locale_vars = {name: os.environ.get(name) for name in LOCALE_VARIABLES}
        os.environ.clear()  # once here, not in each child: every task brings its own
        self.known = frozenset(sys.modules)  # what a child finds imported

    def serve(self) -> None:
        self.sock.sendall(b"R")
        while True:
            ready, _, _ = select.select([self.sock.fileno(), self.wake_read], [], [])
            if self.wake_read in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_read, 512)
                self.reap()
            if self.sock.fileno() in ready:
                try:
                    asked = self.sock.recv(65536)
                except OSError:
                    asked = b""
                if not asked:
                    self.end()
                if asked[:1] == b"I":  # a packet of its own: its names may hold an "F"
                    self.learn(asked[1:].decode(errors="replace").split(","))
                    continue
                for _ in range(asked.count(b"F")):
                    self.fork_child()

    def learn(self, names: list[str]) -> None:
        """Import the standard-library modules a script's child imported, for the next children."""
        for name in names:
            if name not in sys.modules and name.partition(".")[0] in STANDARD_LIBRARY:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
        self.known = frozenset(sys.modules)
        gc.freeze()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            task = self.children.pop(pid, None)
            if task is not None:
                _tell(task, f"X{os.waitstatus_to_exitcode(status)}")
                task.close()

    def end(self) -> NoReturn:
        """The runner is gone: nothing it started may go on."""
        for pid in self.children:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        os._exit(0)

    def fork_child(self) -> None:
        """Fork a child ahead of its task and hand the runner its request and status sockets."""
        request, request_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        status, status_runner = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = os.fork()
        except OSError as error:
            for end in (request, request_child, status, status_runner):
                end.close()
            self._offer(f"Ecannot fork: {error}", [])
            return
        if pid == 0:
            try:
                for end in (request, status, status_runner):
                    end.close()
                self.child(request_child)
            finally:
                os._exit(127)
        request_child.close()
        self.children[pid] = status
        try:
            self._offer(f"S{pid}", [request.fileno(), status_runner.fileno()])
        finally:
            request.close()
            status_runner.close()

    def _offer(self, message: str, fds: list[int]) -> None:
        try:
            socket.send_fds(self.sock, [message.encode()], fds)
        except OSError:  # the runner is gone
            self.end()

    def child(self, sock: socket.socket) -> None:
        """Detach from the template now, then wait for the task on `sock` and run it."""
        os.setsid()
        if self.prctl is not None:  # Linux; elsewhere the template's end kills the groups
            self.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
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
        try:
            body, fds = _receive(sock, 2)
        except (EOFError, OSError):  # not used: the runner ended or dropped it
            os._exit(0)
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
        own_locale = any(env.get(name) != value for name, value in self.locale_vars.items())
        run_python(argv[1:], env, self, sock, own_locale)


def standard_streams() -> None:
    """The script's sys.stdin/stdout/stderr on descriptors 0, 1 and 2 (made by the template: each
    child puts the task's descriptors in place under the same numbers)."""
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )


def run_python(
    argv: list[str], env: dict[str, str], template: Template, report: socket.socket, own_locale: bool
) -> None:
    """Run the script `argv[0]` as `python script args...` would, then exit with its code (said on
    `report` first: the runner goes on while this process is torn down). `own_locale`: the task's
    locale variables differ from the template's."""
    os.environ.update(env)
    time.tzset()  # the C library read TZ when the template started: the task's TZ, as a fresh start reads
    if own_locale:
        _start_locale(env)
    script = os.path.abspath(argv[0])
    own = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [os.path.dirname(script), *own, *template.base_path]
    _forget_shadowed(
        [os.path.dirname(script), *(p for p in own if p not in template.startup_path)], template.known
    )
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
    learned = _learned(template.known, template.base_path)
    if learned:
        with contextlib.suppress(OSError):
            report.send(f"I{','.join(learned)}\n".encode())
    if _alone():  # else its group may have processes left to kill: the template's word, once reaped
        with contextlib.suppress(OSError):
            # The task's pipes end here (/dev/null, read-only, in their place): their readers need not
            # wait for the exit either.
            os.dup2(0, 1)
            os.dup2(0, 2)
            report.send(f"X{code}\n".encode())
    os._exit(code)


def _forget_shadowed(folders: list[str], known: frozenset[str]) -> None:
    """Forget a module the template imported when the script's own path has one of the same name
    (`csv.py` beside the script): the script imports its own, as in a fresh interpreter."""
    for folder in folders:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            name, dot, suffix = entry.partition(".")
            if name not in known:
                continue
            if dot:
                if not suffix.endswith(("py", "pyc", "so")):
                    continue
            elif not os.path.isfile(os.path.join(folder, entry, "__init__.py")):
                continue  # a plain folder: the template's regular package still wins
            for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                del sys.modules[module]


def _learned(known: frozenset[str], base_path: list[str]) -> list[str]:
    """The standard-library modules this script imported that the template had not (from the
    interpreter's own path, not a file of the script's that shadows one). Nothing to look for when
    the script imported nothing: the common case, told without going through the modules (going
    through them writes to each one's reference count, and so copies ~100 pages of the template's)."""
    if len(sys.modules) == len(known):
        return []
    learned = []
    for name, module in list(sys.modules.items()):
        if name in known or name.partition(".")[0] not in STANDARD_LIBRARY:
            continue
        origin = getattr(module, "__file__", None)
        if origin is None or any(origin.startswith(folder + os.sep) for folder in base_path):
            learned.append(name)
    return learned


def _alone() -> bool:
    """Whether this process never had a child: none now (running, or ended and not reaped: a
    zombie is reaped here, this process ends anyway), none reaped (any process makes page faults).
    Then its group holds nothing but itself. Two system calls: the /proc files that tell the same
    cost a fresh child ~0.06 ms more of its thread time, on the task's path."""
    if resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt:
        return False
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def _start_locale(env: dict[str, str]) -> None:
    """LC_CTYPE from the task's environment, as Python sets it when it starts (the template's was
    set from its own): the other categories stay "C", but a "C" locale becomes C.UTF-8 (PEP 538)
    unless LC_ALL is set or PYTHONCOERCECLOCALE=0, with every category then set from the
    environment, as CPython's coercion does. (Python's UTF-8 mode, which a fresh interpreter turns
    on in a "C" locale that stays "C", is fixed at the template's start.)"""
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:  # a locale this machine lacks: Python starts in "C"
        locale.setlocale(locale.LC_CTYPE, "C")
    if env.get("LC_ALL") or env.get("PYTHONCOERCECLOCALE") == "0":
        return
    if locale.setlocale(locale.LC_CTYPE) not in ("C", "POSIX"):
        return
    for target in ("C.UTF-8", "C.utf8", "UTF-8"):
        try:
            locale.setlocale(locale.LC_CTYPE, target)
        except locale.Error:
            continue
        os.environ["LC_CTYPE"] = target
        with contextlib.suppress(locale.Error):
            locale.setlocale(locale.LC_ALL, "")
        return


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


# Run once by the template, as a child runs a script: the first compile of a process sets the parser up
# (~1.2 ms), and the first run of the outputs line sets up JSON's encoder and the stream's codec.
REHEARSAL = """
from kestra import Kestra


class Point:
    def __init__(self, x: int, y: float = 0.5) -> None:
        self.x, self.y = x, y


def step(values: list[int], *, scale: int = 2) -> dict[str, object]:
    total = sum(v * scale for v in values if v >= 0)
    try:
        ratio = total / len(values)
    except ZeroDivisionError:
        ratio = 0.0
    return {"total": total, "ratio": ratio, "label": f"{total:>6} items", "x": Point(total).x}


Kestra.outputs({"value": step([1, 2, 3])})
"""


def _rehearse() -> None:
    """Compile and run `REHEARSAL` in a namespace of its own (its output goes to the template's
    /dev/null): what it sets up, each child finds set up instead of doing it again."""
    with contextlib.suppress(Exception):
        exec(compile(REHEARSAL, "<rehearsal>", "exec", dont_inherit=True), {"__name__": "__rehearsal__"})
    with contextlib.suppress(Exception):
        sys.stdout.flush()


def _warm_up() -> None:
    extra = [m.strip() for m in os.environ.get(EXTRA_MODULES, "").split(",") if m.strip()]
    for module in (*COMMON_MODULES, *extra):
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    _rehearse()
    gc.collect()
    gc.freeze()  # the imported objects stay out of the children's collections: fewer copied pages


def main() -> None:
    sys.path.pop(0)  # this file's folder: not a script's
    sock = socket.socket(fileno=int(sys.argv[1]))
    standard_streams()  # once here: each child puts the task's descriptors under them
    _warm_up()
    Template(sock).serve()


if __name__ == "__main__":
    main()
