"""Warm interpreters: script processes forked from a template process instead of started cold.

Starting Python costs ~20 ms before a script's first line runs; forking a template that has already
started (and imported what scripts commonly use, see `template.py`) costs about one millisecond.
Each task still gets a process of its own, in its own process group, working directory and
environment, and its output arrives through pipes exactly as from a cold process (`process`).

One template serves the shell commands (it forks and execs `/bin/sh`: cheaper than forking this
large, threaded process) and the Python scripts without `dependencies`; a task whose `dependencies`
put an install on its PYTHONPATH gets a template started with that PYTHONPATH (one per cached
install, at most `MAX_TEMPLATES` kept), so that anything the template imports comes from the task's
own environment. The templates live as long as this process: a warm Lambda keeps them between
invocations. `STRATOFLOW_WARM_SCRIPTS=0` turns them off (every script starts cold);
`STRATOFLOW_WARM_IMPORTS=pandas,requests` makes the templates import more (a module that fails to
import is skipped: a script importing it then fails as it would cold).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.scripts.environment import LIBRARY

TEMPLATE_FILE = Path(__file__).with_name("template.py")
SWITCH = "STRATOFLOW_WARM_SCRIPTS"
EXTRA_IMPORTS = "STRATOFLOW_WARM_IMPORTS"  # more modules for the template to import: "pandas,requests"
MAX_TEMPLATES = 4
READY_SECONDS = 60.0
_HEADER = 4


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") not in ("0", "false", "no")


class _Pending:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.exited = threading.Event()
        self.pid: int | None = None
        self.error: str | None = None
        self.code: int | None = None


class _Started:
    def __init__(self, template: Template, pending: _Pending):
        self.template, self.pending = template, pending
        assert pending.pid is not None
        self._pid = pending.pid
        self._counted = False

    @property
    def pid(self) -> int:
        return self._pid

    def wait(self, timeout: float | None) -> int | None:
        if not self.pending.exited.wait(timeout):
            return None
        if not self._counted:
            self._counted = True
            self.template.done()
        return self.pending.code


class Template:
    """One template process and the socket to it; thread-safe."""

    def __init__(self, env: Mapping[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
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
        self._send_lock = threading.Lock()
        self._state = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self.alive = True
        self.active = 0
        threading.Thread(target=self._read, name="stratoflow-warm-template", daemon=True).start()

    def wait_ready(self) -> None:
        if not self._ready.wait(READY_SECONDS) or not self.alive:
            raise TaskFailed(
                "the warm Python interpreter did not start (set STRATOFLOW_WARM_SCRIPTS=0 to run cold)"
            )

    def start(
        self, mode: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], fds: list[int]
    ) -> _Started:
        self.wait_ready()
        pending = _Pending()
        with self._state:
            request_id = next(self._ids)
            self._pending[request_id] = pending
            self.active += 1
        body = json.dumps(
            {"id": request_id, "mode": mode, "argv": list(argv), "cwd": str(cwd), "env": dict(env)}
        ).encode()
        try:
            with self._send_lock:
                socket.send_fds(self.sock, [len(body).to_bytes(_HEADER, "big")], fds)
                self.sock.sendall(body)
        except OSError:
            self._vanished()
        pending.started.wait()
        if pending.pid is None:
            self.done()
            raise TaskFailed(f"cannot start {argv[0]!r}: {pending.error or 'the warm interpreter ended'}")
        return _Started(self, pending)

    def done(self) -> None:
        with self._state:
            self.active -= 1

    def close(self) -> None:
        """End the template (its children die with it)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def _read(self) -> None:
        buffer = b""
        try:
            while True:
                more = self.sock.recv(65536)
                if not more:
                    break
                buffer += more
                while len(buffer) >= _HEADER:
                    size = int.from_bytes(buffer[:_HEADER], "big")
                    if len(buffer) < _HEADER + size:
                        break
                    self._receive(json.loads(buffer[_HEADER : _HEADER + size]))
                    buffer = buffer[_HEADER + size :]
        except OSError:
            pass
        self._vanished()

    def _receive(self, message: dict[str, Any]) -> None:
        if message.get("ready"):
            self._ready.set()
            return
        with self._state:
            pending = self._pending.get(message["id"])
            if pending is not None and "exit" in message:
                del self._pending[message["id"]]
        if pending is None:
            return
        if "exit" in message:
            pending.code = message["exit"]
            pending.exited.set()
        else:
            pending.pid, pending.error = message.get("pid"), message.get("error")
            pending.started.set()

    def _vanished(self) -> None:
        """The template ended: its children died with it (parent-death signal)."""
        self.alive = False
        self._ready.set()
        with self._state:
            pending, self._pending = list(self._pending.values()), {}
        for waiting in pending:
            waiting.error = waiting.error or "the warm interpreter ended"
            waiting.code = -signal.SIGKILL
            waiting.started.set()
            waiting.exited.set()


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
        if template is not None and not (template.alive and template.process.poll() is None):
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


def launcher(mode: str, env: Mapping[str, str], installed: Path | None) -> WarmLauncher:
    """A launcher for a script with environment `env`; `installed` (its dependencies' folder)
    picks the template: one per cached install, so that what it imports comes from there."""
    template_env = {k: v for k, v in env.items() if k in ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")}
    pythonpath = os.pathsep.join(str(p) for p in (installed, LIBRARY) if p is not None)
    extra = os.environ.get(EXTRA_IMPORTS, "")
    if extra:
        template_env[EXTRA_IMPORTS] = extra
    return WarmLauncher(mode, template_for(pythonpath, template_env, key=f"{pythonpath}|{extra}"))
