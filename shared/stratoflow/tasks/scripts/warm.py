"""Warm interpreters: script processes forked from a template process instead of started cold.

Starting Python costs ~20 ms before a script's first line runs; forking a template that has already
started (and imported what scripts commonly use, see `template.py`) costs about one millisecond, and
the template forks each task's child ahead of its request, while the previous task runs.
Each task still gets a process of its own, in its own process group, working directory and
environment, and its output arrives through pipes exactly as from a cold process (`process`).

One template serves the shell commands (it forks and execs `/bin/sh`: cheaper than forking this
large, threaded process) and the Python scripts without `dependencies`; a task whose `dependencies`
put an install on its PYTHONPATH gets a template started with that PYTHONPATH (one per cached
install, at most `MAX_TEMPLATES` kept), so that anything the template imports comes from the task's
own environment. The templates live as long as this process: a warm Lambda keeps them between
invocations. `STRATOFLOW_WARM_SCRIPTS=0` turns them off (every script starts cold);
`STRATOFLOW_WARM_IMPORTS=pandas,requests` makes the templates import more (a module that fails to
import is skipped: a script importing it then fails as it would cold). A template also learns: the
standard-library modules a script imported that it had not, it imports for the children it forks
after that (`template.py`), so that only the first two scripts of a flow to import `sqlite3` pay for
it (the second one's child was forked ahead already).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.scripts.environment import LIBRARY, base_environment

TEMPLATE_FILE = Path(__file__).with_name("template.py")
SWITCH = "STRATOFLOW_WARM_SCRIPTS"
EXTRA_IMPORTS = "STRATOFLOW_WARM_IMPORTS"  # more modules for the template to import: "pandas,requests"
MAX_TEMPLATES = 4
READY_SECONDS = 60.0
_HEADER = 4


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") not in ("0", "false", "no")


class _Started:
    """A task's child of the template, watched through two sockets: the task's status socket from
    the template, which says `X<exit code>` once it reaped the child (EOF without that means the
    template died, and the child with it), and the child's own request socket, on which a Python
    script's child says `X<exit code>` itself as it exits (EOF there is no news: the child became
    a program with exec, or was killed). The first exit code heard is the one. Both are watched
    through one epoll descriptor (`status_fd`; without epoll, macOS, the template's word only).
    The child speaks only when it never started a process (`template.py`): then its group holds
    nothing to kill, and the runner need not wait for the group to end (it is the child alone,
    exiting). Before that line, a child may name the modules its script imported that the template
    had not (`I<names>`): they are passed on to the template (`Template.learn`)."""

    def __init__(self, template: Template, sock: socket.socket, pid: int, child: socket.socket):
        self.template, self.sock = template, sock
        self._watch = select.epoll() if hasattr(select, "epoll") else None
        self._sources: dict[int, socket.socket] = {}
        self._buffers: dict[int, bytes] = {}
        self._code: int | None = None
        self._alone = False
        self._pid = pid
        for source in (sock, child) if self._watch is not None else (sock,):
            source.setblocking(False)
            self._sources[source.fileno()] = source
            self._buffers[source.fileno()] = b""
            if self._watch is not None:
                self._watch.register(source.fileno(), select.EPOLLIN)
        if self._watch is None:
            child.close()

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def status_fd(self) -> int | None:
        if self._watch is None:
            return None if self.sock.fileno() < 0 else self.sock.fileno()
        return None if self._watch.closed else self._watch.fileno()

    @property
    def ended_alone(self) -> bool:
        return self._alone

    def poll(self) -> int | None:
        if self._code is None:
            for source in list(self._sources.values()):
                self._receive(source)
        return self._code

    def wait(self) -> int:
        """The template's word (it reaps every child; called once the group is killed)."""
        if self._code is None and self.sock.fileno() >= 0:
            self.sock.setblocking(True)
            while self._code is None and self.sock.fileno() in self._sources:
                self._receive(self.sock)
        if self._code is None:
            self._code = -signal.SIGKILL
        return self._code

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            if self._watch is not None:
                self._watch.close()
            for source in self._sources.values():
                source.close()
            self._sources.clear()
            self.sock.close()
            self.template.done()

    def _receive(self, source: socket.socket) -> None:
        fd = source.fileno()
        try:
            data = source.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if self._watch is not None:
                self._watch.unregister(fd)
            del self._sources[fd]
            if source is self.sock and self._code is None:
                # The template ended: its children died with it (parent-death signal).
                self._code = -signal.SIGKILL
            elif source is not self.sock:
                source.close()
            return
        self._buffers[fd] += data
        while b"\n" in self._buffers[fd]:
            line, self._buffers[fd] = self._buffers[fd].split(b"\n", 1)
            if line[:1] == b"I":  # modules the script imported that the template had not
                self.template.learn(line[1:].decode(errors="replace").split(","))
            elif line[:1] == b"X" and self._code is None:
                self._code = int(line[1:])
                self._alone = source is not self.sock


class Template:
    """One template process and the socket that asks it for children; thread-safe.

    The template forks each child ahead of its task (`template.py`): one is always asked for in
    advance, so that a task finds its child forked and sends its request straight to it."""

    def __init__(self, env: Mapping[str, str]):
        # Sequenced packets: each offer of a child arrives whole, with its own descriptors.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [sys.executable, str(TEMPLATE_FILE), str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=dict(env),
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C of the terminal is for the runner, which then ends it
            )
        finally:
            theirs.close()
        self.sock = ours
        self._lock = threading.Lock()
        self._ready = False
        self._asked = 0  # children asked for and not offered yet
        self._children: list[tuple[int, socket.socket, socket.socket]] = []  # pid, request, status
        self._learned: set[str] = set()
        self.active = 0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _wait_ready(self) -> None:
        """The template says `R` once it imported its modules (called under the lock)."""
        if self._ready:
            return
        self.sock.settimeout(READY_SECONDS)
        try:
            ready = self.sock.recv(1) == b"R"
        except OSError:
            ready = False
        if not ready:
            raise TaskFailed(
                "the warm Python interpreter did not start (set STRATOFLOW_WARM_SCRIPTS=0 to run cold)"
            )
        self._ready = True

    def learn(self, names: list[str]) -> None:
        """Have the template import `names` (standard-library modules a script imported; the
        template checks) for the children it forks from now on; each name is passed on once."""
        with self._lock:
            new = [name for name in names if name and name not in self._learned]
            if not new:
                return
            self._learned.update(new)
            with contextlib.suppress(OSError):  # a template gone: the next start says so
                self.sock.send(b"I" + ",".join(new).encode())

    def _ask(self) -> None:
        self.sock.send(b"F")
        self._asked += 1

    def _child(self) -> tuple[int, socket.socket, socket.socket]:
        """A child forked ahead, waiting for its task (called under the lock)."""
        while not self._children:
            if not self._asked:
                self._ask()
            message, fds, _, _ = socket.recv_fds(self.sock, 1024, 2)
            if not message:
                for fd in fds:
                    os.close(fd)
                raise OSError("the warm interpreter ended")
            self._asked -= 1
            if message[:1] != b"S" or len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                raise OSError(message[1:].decode(errors="replace") or "no child")
            request, status = (socket.socket(fileno=fd) for fd in fds)
            self._children.append((int(message[1:]), request, status))
        return self._children.pop(0)

    def start(
        self, mode: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], fds: list[int]
    ) -> _Started:
        body = json.dumps({"mode": mode, "argv": list(argv), "cwd": str(cwd), "env": dict(env)}).encode()
        for _ in range(2):  # a child killed while it waited: the next one, once
            try:
                with self._lock:
                    self._wait_ready()
                    pid, request, status = self._child()
                    self.active += 1
            except OSError as error:
                raise TaskFailed(f"cannot start {argv[0]!r} from the warm interpreter: {error}") from None
            try:
                socket.send_fds(request, [len(body).to_bytes(_HEADER, "big")], fds)
                request.sendall(body)  # a large environment may take several writes
            except OSError:
                request.close()
                status.close()
                self.done()
                continue
            finally:
                self._ask_ahead()
            return _Started(self, status, pid, child=request)
        raise TaskFailed(f"cannot start {argv[0]!r}: the warm interpreter's children end at once")

    def _ask_ahead(self) -> None:
        """Ask for the next task's child, forked while this one runs: after this task's request is
        sent (waking the template first would delay it)."""
        with self._lock, contextlib.suppress(OSError):  # a template gone: the next start says so
            if not self._children and not self._asked:
                self._ask()

    def done(self) -> None:
        with self._lock:
            self.active -= 1

    def close(self) -> None:
        """End the template (its children die with it)."""
        with self._lock:
            for _, request, status in self._children:
                request.close()
                status.close()
            self._children.clear()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


class WarmLauncher:
    """A `process.Launcher` forking from a template: mode "python" runs argv[1] as a script in the
    child itself, mode "exec" execs argv."""

    def __init__(self, mode: str, template: Template):
        self.mode, self.template = mode, template

    def start(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: int, stderr: int
    ) -> _Started:
        return self.template.start(self.mode, argv, cwd, env, [stdout, stderr])


_templates: OrderedDict[str, Template] = OrderedDict()
_templates_lock = threading.Lock()


def template_for(pythonpath: str, env: Mapping[str, str], key: str) -> Template:
    """The template `key` whose interpreter starts with `pythonpath`, started with `env` when new."""
    with _templates_lock:
        template = _templates.get(key)
        if template is not None and not template.alive:
            del _templates[key]
            template = None
        if template is None:
            template = Template({**env, "PYTHONPATH": pythonpath})
            _templates[key] = template
        _templates.move_to_end(key)
        idle = [other for other, t in _templates.items() if t.active == 0 and other != key]
        while len(_templates) > MAX_TEMPLATES and idle:
            _templates.pop(idle.pop(0)).close()
    return template


# One is in the type of every script task (`scripts.Python`, `io.kestra.plugin.scripts.python.Script`,
# `io.kestra.plugin.aws.cli.AwsCLI`, ...).
SCRIPT_TYPE_MARKS = (b"scripts.", b"cli.AwsCLI")


def start_ahead(flow_source: bytes) -> None:
    """Start the shared template (the one of scripts without `dependencies`) now if the flow's source
    names a script task type and it is not running: it imports while the caller deploys the flow and
    sets the execution up, instead of when the first script task asks for a child (~60-130 ms of
    that task's time). Its environment is what every script's starts from; each child then takes
    its own task's. (A flow whose scripts all have `dependencies` leaves it idle until the end.)"""
    if enabled() and any(mark in flow_source for mark in SCRIPT_TYPE_MARKS):
        launcher("exec", base_environment(), None)


def launcher(mode: str, env: Mapping[str, str], installed: Path | None) -> WarmLauncher:
    """A launcher for a script with environment `env`; `installed` (its dependencies' folder)
    picks the template: one per cached install, so that what it imports comes from there."""
    template_env = {k: v for k, v in env.items() if k in ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")}
    pythonpath = os.pathsep.join(str(p) for p in (installed, LIBRARY) if p is not None)
    extra = os.environ.get(EXTRA_IMPORTS, "")
    if extra:
        template_env[EXTRA_IMPORTS] = extra
    return WarmLauncher(mode, template_for(pythonpath, template_env, key=f"{pythonpath}|{extra}"))
