"""Debian packages a test setup needs (chromium, PostgreSQL), installed with apt when missing: as root
(CI runs as root), once per machine. Skips only where they cannot be installed (not root, no apt)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

# One lock for every install: pytest-xdist workers may get here together on a fresh machine, for the
# same package or another one, and two apt-get runs at once fail on dpkg's lock.
LOCK = os.path.join(tempfile.gettempdir(), "stratoflow-apt-install.lock")


def installed(find: Callable[[], T | None], packages: list[str], what: str) -> T:
    """`find()`'s answer, after installing `packages` with apt-get if it found nothing."""
    found = find()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{what} is not installed and cannot be (needs root and apt-get)")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find()
        if found is not None:
            return found
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "check": True}
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], env=env, **quiet)  # type: ignore[call-overload]
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *packages], env=env, **quiet)  # type: ignore[call-overload]
    found = find()
    assert found is not None, f"apt-get installed {' '.join(packages)} but {what} was not found"
    return found
