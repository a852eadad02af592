"""Debian's chromium and chromium-driver, installed with apt when missing (as root; CI runs as root),
once per machine; skips only where they cannot be installed (not root, no apt)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import pytest

PACKAGES = ["chromium", "chromium-driver"]


@dataclass(frozen=True)
class Chromium:
    browser: str
    driver: str


def _found() -> Chromium | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return Chromium(browser, driver) if browser and driver else None


def install_chromium() -> Chromium:
    found = _found()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium and chromium-driver are not installed and cannot be (needs root and apt-get)")
    # pytest-xdist workers may get here together on a fresh machine: one installs, the others wait
    # (two apt-get runs at once fail on dpkg's lock).
    with open(os.path.join(tempfile.gettempdir(), "stratoflow-chromium-install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _found()
        if found is not None:
            return found
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, "check": True}
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], env=env, **quiet)  # type: ignore[call-overload]
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], env=env, **quiet)  # type: ignore[call-overload]
    found = _found()
    assert found is not None, "apt-get installed chromium but no chromium or chromedriver was found"
    return found
