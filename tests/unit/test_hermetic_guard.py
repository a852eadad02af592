"""The guard of tests/unit/conftest.py: a unit test cannot open a socket, start a process or start moto."""

from __future__ import annotations

import ast
import importlib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.conftest import HermeticGuard

UNIT = Path(__file__).resolve().parent
HERE = Path(__file__).resolve().relative_to(UNIT.parents[1])
CONNECT_LINE = next(
    n
    for n, line in enumerate(Path(__file__).read_text().splitlines(), 1)
    if line.strip().startswith("sock.connect(")
)
# Modules a unit test must not import: moto and the layers built on it.
FORBIDDEN_IMPORTS = ("moto", "stratoflow.cloudsim", "tests.contract", "tests.integration", "tests.parity")


def test_connecting_a_socket_fails_the_test(hermetic: HermeticGuard) -> None:
    # Given a socket (below)
    # When a unit test connects it
    refused = pytest.raises(pytest.fail.Exception, match=re.escape("opens a connection to ('127.0.0.1', 9)"))
    with socket.socket() as sock, refused:
        sock.connect(("127.0.0.1", 9))
    # Then the attempt is recorded with where it came from, so the test fails even if it was swallowed
    assert hermetic.violations == [f"opens a connection to ('127.0.0.1', 9) (from {HERE}:{CONNECT_LINE})"]
    hermetic.violations.clear()


def test_binding_a_socket_fails_the_test(hermetic: HermeticGuard) -> None:
    with socket.socket() as sock, pytest.raises(pytest.fail.Exception, match="binds a socket"):
        sock.bind(("127.0.0.1", 0))
    assert len(hermetic.violations) == 1
    hermetic.violations.clear()


def test_a_socketpair_stays_allowed(hermetic: HermeticGuard) -> None:
    # Given in-process plumbing such as asyncio's self-pipe
    left, right = socket.socketpair()
    # When one end writes
    with left, right:
        left.sendall(b"ping")
        # Then the other reads, and nothing is recorded
        assert right.recv(4) == b"ping"
    assert hermetic.violations == []


@pytest.mark.parametrize(
    "start",
    [
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
        lambda: subprocess.Popen(["true"]),
        lambda: os.system("true"),
    ],
    ids=["subprocess.run", "Popen", "os.system"],
)
def test_starting_a_process_fails_the_test(hermetic: HermeticGuard, start: object) -> None:
    with pytest.raises(pytest.fail.Exception, match="starts a"):
        start()  # type: ignore[operator]
    assert len(hermetic.violations) == 1
    hermetic.violations.clear()


def test_importing_moto_fails_the_test(hermetic: HermeticGuard, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given moto not imported yet in this process (another layer's modules may have imported it)
    for name in [name for name in sys.modules if name.split(".")[0] == "moto"]:
        monkeypatch.delitem(sys.modules, name)
    # When a unit test imports it
    with pytest.raises(pytest.fail.Exception, match="imports moto"):
        importlib.import_module("moto")
    # Then the attempt is recorded
    assert hermetic.violations[0].startswith("imports moto (from ")
    hermetic.violations.clear()


def test_the_guard_report_names_each_attempt_once() -> None:
    guard = HermeticGuard(violations=["binds a socket to ('127.0.0.1', 0)"] * 2 + ["starts moto"])
    assert guard.report() == (
        "hermetic unit test: binds a socket to ('127.0.0.1', 0); starts moto; "
        "a unit test stays in the process: move it to tests/integration, or fake the boundary"
    )


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names


def test_no_unit_module_imports_moto_or_a_layer_built_on_it() -> None:
    # Given every module of the unit layer (an import at module level runs at collection, before the guard)
    offenders = [
        f"{path.relative_to(UNIT.parents[1])}: imports {name}"
        for path in sorted(UNIT.rglob("*.py"))
        for name in sorted(_imported_modules(path))
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN_IMPORTS)
    ]
    # Then none imports moto, the moto-based simulation or another layer's fixtures
    assert offenders == []
