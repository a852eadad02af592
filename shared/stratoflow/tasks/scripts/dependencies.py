"""`dependencies` of `scripts.Python`: pip requirements installed once, reused by later runs.

`python -m pip install --target <folder>` installs them into a folder of the dependency cache named
after the interpreter's version and the sorted requirements; the script finds them on its PYTHONPATH
(and their console scripts on its PATH). A later run with the same requirements on the same
interpreter finds the folder and calls no pip. The cache is `STRATOFLOW_DEPENDENCY_CACHE` if set,
else `/tmp/stratoflow/python-dependencies` in Lambda (/tmp survives the warm invocations of one
container), else `~/.cache/stratoflow/python-dependencies` (`XDG_CACHE_HOME` is honoured).

An install goes to a new folder that is renamed into place when complete: a run that fails or is
killed half-way leaves nothing that a later run would take for a complete install, and two runs
installing the same requirements at once both succeed (the second rename loses, and its copy is
dropped). A requirement that names a local path or a URL is cached by its text, not its content.
The cache is bounded: each install evicts the least recently used installs that no run is using
(`dependency_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from stratoflow.tasks.errors import TaskError
from stratoflow.tasks.scripts import dependency_cache
from stratoflow.tasks.scripts.dependency_cache import Lease
from stratoflow.tasks.scripts.process import run_process

CACHE_VARIABLE = "STRATOFLOW_DEPENDENCY_CACHE"
_VERSION_PROBE = "import sys; print(sys.implementation.cache_tag or sys.implementation.name)"
_REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


class DependencyInstallFailed(TaskError):
    """pip could not install a script's `dependencies`; the message names the requirement."""


def cache_root() -> Path:
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured)
    if "AWS_LAMBDA_FUNCTION_NAME" in os.environ:
        return Path(tempfile.gettempdir()) / "stratoflow" / "python-dependencies"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stratoflow" / "python-dependencies"


_versions: dict[str, str] = {}
_versions_lock = threading.Lock()


def interpreter_version(interpreter: str) -> str:
    """`cpython-311`: what the installed packages depend on (asked once per interpreter and process)."""
    if interpreter == sys.executable:
        return sys.implementation.cache_tag or sys.implementation.name
    with _versions_lock:
        if interpreter not in _versions:
            try:
                probe = subprocess.run(
                    [interpreter, "-c", _VERSION_PROBE],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                )
            except (OSError, subprocess.SubprocessError) as error:
                raise DependencyInstallFailed(
                    f"cannot run the interpreter {interpreter!r}: {error}"
                ) from None
            _versions[interpreter] = probe.stdout.strip() or "unknown"
        return _versions[interpreter]


def cache_folder(requirements: Sequence[str], version: str) -> Path:
    """The folder holding `requirements` installed for the interpreter `version`."""
    digest = hashlib.sha256(json.dumps(sorted(set(requirements))).encode()).hexdigest()[:24]
    return cache_root() / version / digest


class LogSink(Protocol):
    """Where the install's lines go: a task run's context, or the sandbox's answer."""

    def log(self, level: str, message: str) -> None: ...


# Another run may evict a new install before it is leased (only when one install exceeds the budget).
MAX_ATTEMPTS = 3


@contextmanager
def installed(
    ctx: LogSink,
    requirements: Sequence[str],
    interpreter: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
) -> Iterator[Path]:
    """The folder where `requirements` are installed for `interpreter`, kept in the cache until the
    block ends: the cached one, or a new install (run in `cwd`, so that `./package` means a folder of
    the working directory) whose output goes to the task's logs. Raises DependencyInstallFailed, or
    TaskTimeout after `timeout`."""
    target = cache_folder(requirements, interpreter_version(interpreter))
    lease = _lease(ctx, requirements, interpreter, target, cwd=cwd, env=env, timeout=timeout)
    try:
        yield target
    finally:
        lease.release()


def _lease(
    ctx: LogSink,
    requirements: Sequence[str],
    interpreter: str,
    target: Path,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
) -> Lease:
    for _ in range(MAX_ATTEMPTS):
        lease = dependency_cache.hold(target)
        if lease is not None:
            ctx.log("INFO", f"dependencies: reusing {', '.join(requirements)} installed in {target}")
            return lease
        lease = _install(ctx, requirements, interpreter, target, cwd=cwd, env=env, timeout=timeout)
        if lease is not None:
            evicted = dependency_cache.prune(target.parent.parent)  # the new entry is leased: it stays
            if evicted:
                ctx.log("INFO", f"dependencies: removed {len(evicted)} least recently used installs")
            return lease
    raise DependencyInstallFailed(
        f"the dependency cache lost the install of {', '.join(requirements)} as soon as it was made "
        f"{MAX_ATTEMPTS} times: is it larger than the cache's budget "
        f"({dependency_cache.max_bytes(target.parent.parent)} bytes)?"
    )


def _install(
    ctx: LogSink,
    requirements: Sequence[str],
    interpreter: str,
    target: Path,
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float | None,
) -> Lease | None:
    """Install into a new entry and lease it; None when another run completed `target` meanwhile."""
    staging = dependency_cache.stage(target)
    argv = [
        interpreter,
        *("-m", "pip", "install", "--target", str(staging.folder)),
        *("--disable-pip-version-check", "--no-input", "--no-warn-script-location"),
        *requirements,
    ]
    ctx.log("INFO", f"dependencies: installing {', '.join(requirements)}")
    errors: list[str] = []

    def on_line(stream: str, line: str) -> None:
        if stream == "stderr" and line.strip():
            errors.append(line)
            ctx.log("WARN", line)
        else:
            ctx.log("INFO", line)

    try:
        code = run_process(argv, cwd=cwd, env=env, timeout=timeout, on_line=on_line)
        if code != 0:
            raise DependencyInstallFailed(_failure_message(requirements, code, errors))
        return dependency_cache.complete(staging, target, requirements)
    finally:
        staging.close()


def _failure_message(requirements: Sequence[str], code: int, errors: list[str]) -> str:
    """Names the requirements pip's errors mention (all of them when it names none)."""
    text = "\n".join(errors).lower()
    named = [r for r in requirements if _name_of(r) in text] or list(requirements)
    last = next((line.strip() for line in reversed(errors) if line.strip().startswith("ERROR")), None)
    last = last or (errors[-1].strip() if errors else None)
    detail = f": {last}" if last else ""
    return f"cannot install the dependency {', '.join(named)} (pip exited with code {code}){detail}"


def _name_of(requirement: str) -> str:
    """`pandas>=2; python_version>'3'` -> `pandas`; a path or URL stays whole."""
    match = _REQUIREMENT_NAME.match(requirement.strip())
    if match is None or "/" in requirement or requirement.strip().startswith("."):
        return requirement.strip().lower()
    return match.group(0).lower()
