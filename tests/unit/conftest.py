"""The unit layer is hermetic: a unit test that opens a socket, starts a process or starts moto fails.

Those belong to tests/integration (STYLE.md's test layers): they are slower, depend on the machine
(free ports, a Python on PATH, moto's version) and hide their bug behind a layer that a unit test
does not need. `socket.socketpair()` stays allowed: it is in-process plumbing (asyncio's self-pipe,
selectors) that never binds or connects, so no other process can reach it.

The guard raises `pytest.fail` where the forbidden call happens (a `BaseException`, so code that
catches `Exception` cannot swallow it) and records the call, so a call made in another thread, or
caught anyway, still fails the test when it returns.
"""

from __future__ import annotations

import importlib.abc
import os
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import croniter  # noqa: F401 (imported before any guard, see below)
import pytest
import urllib3  # noqa: F401 (imported before any guard, see below)

# croniter's first import asks `platform.architecture()`, which runs `file -b <python>`, and urllib3's
# (boto3's) binds a socket to ::1 to learn whether the machine has IPv6: libraries' one-time probes,
# not boundaries of the code under test, so they happen here, outside every test (else the first
# test of a worker to import boto3 fails, whichever it is).

ROOT = Path(__file__).resolve().parents[2]
MOVE_HINT = "a unit test stays in the process: move it to tests/integration, or fake the boundary"

# os-level ways to start a process that do not go through subprocess.Popen.
PROCESS_STARTERS = ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp")


@dataclass
class HermeticGuard:
    """What a unit test tried to do outside its process (empty when it stayed hermetic)."""

    violations: list[str] = field(default_factory=list)

    def refuse(self, what: str) -> NoReturn:
        self.violations.append(f"{what}{_caller()}")
        pytest.fail(f"hermetic unit test: {self.violations[-1]}; {MOVE_HINT}", pytrace=False)

    def report(self) -> str:
        return f"hermetic unit test: {'; '.join(dict.fromkeys(self.violations))}; {MOVE_HINT}"


def _caller() -> str:
    """` (from FILE:LINE)`: the innermost frame of the repository (library or test) that made the call.

    The call may come from a thread, or be caught by the code under test: the message is then the
    only trace of where it came from.
    """
    here = Path(__file__)
    for frame in reversed(traceback.extract_stack()[:-3]):
        path = Path(frame.filename)
        if path != here and ROOT in path.parents and ".venv" not in path.parts:
            return f" (from {path.relative_to(ROOT)}:{frame.lineno})"
    return ""


class _MotoBlocker(importlib.abc.MetaPathFinder):
    """Refuses the first import of moto during a unit test (stratoflow.cloudsim imports it too)."""

    def __init__(self, guard: HermeticGuard) -> None:
        self.guard = guard

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.split(".")[0] == "moto":
            self.guard.refuse(f"imports {fullname}")
        return None


def _refusing(guard: HermeticGuard, what: str) -> Callable[..., NoReturn]:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        guard.refuse(what.format(args=args))

    return refuse


def _guard_sockets(guard: HermeticGuard, monkeypatch: pytest.MonkeyPatch) -> None:
    for method in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, method, _refusing(guard, "opens a connection to {args[1]!r}"))
    monkeypatch.setattr(socket.socket, "bind", _refusing(guard, "binds a socket to {args[1]!r}"))


def _guard_processes(guard: HermeticGuard, monkeypatch: pytest.MonkeyPatch) -> None:
    def popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> NoReturn:
        guard.refuse(f"starts a subprocess {args!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    for name in PROCESS_STARTERS:
        if hasattr(os, name):
            monkeypatch.setattr(os, name, _refusing(guard, f"starts a process with os.{name}"))


def _guard_moto(guard: HermeticGuard, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another layer's modules may have imported moto already in this worker (pytest imports every
    # collected module first): then starting one of its mocks is what fails.
    models = sys.modules.get("moto.core.models")
    if models is not None:
        monkeypatch.setattr(models.MockAWS, "start", _refusing(guard, "starts moto"))
    blocker = _MotoBlocker(guard)
    monkeypatch.setattr(sys, "meta_path", [blocker, *sys.meta_path])


GUARD = pytest.StashKey[HermeticGuard]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    # Fixtures of a wider scope start in the setup of their first test: they are guarded too.
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    if nextitem is None:
        # The end of the session (of this xdist worker): the session fixtures of every layer end in
        # the teardown of whichever test ran last, e.g. the integration layer's PostgreSQL server.
        return (yield)
    return (yield from _guarded(item))


def _guarded(item: pytest.Item) -> Generator[None, None, None]:
    """Run one phase of a unit test with sockets, processes and moto refused; fail it on any attempt."""
    guard = item.stash.setdefault(GUARD, HermeticGuard())
    before = len(guard.violations)
    with pytest.MonkeyPatch.context() as patch:
        _guard_sockets(guard, patch)
        _guard_processes(guard, patch)
        _guard_moto(guard, patch)
        result = yield
    # A forbidden call swallowed by the code under test, or made in another thread, fails it here.
    if len(guard.violations) > before:
        pytest.fail(guard.report(), pytrace=False)
    return result


@pytest.fixture
def hermetic(request: pytest.FixtureRequest) -> HermeticGuard:
    """The guard of the running test (what it attempted), for the tests of the guard itself."""
    return request.node.stash[GUARD]
