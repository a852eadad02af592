"""A real PostgreSQL for the SQL task tests, from Debian's packages: installed with apt when missing
(as root; CI runs as root), initialised in a temporary folder and run by a non-root user on
loopback, stopped and removed afterwards. Skips only where it cannot be installed (not root, no apt)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.debian_packages import installed

PASSWORD = "s3cret-pw"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://{self.host}:{self.port}/postgres"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _install() -> Path:
    return installed(_bin_dir, ["postgresql"], "PostgreSQL")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user (or `nobody`)."""
    if os.geteuid() != 0:
        return None
    known = subprocess.run(["id", "postgres"], capture_output=True).returncode == 0
    return "postgres" if known else "nobody"


def _as_server_user(command: list[str]) -> list[str]:
    user = _server_user()
    return command if user is None else ["runuser", "-u", user, "--", *command]


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    bin_dir = _install()
    root = Path(tempfile.mkdtemp(prefix="stratoflow-pg-"))
    root.chmod(0o755)
    data, password_file = root / "data", root / "pw"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        user = (
            "postgres"
            if subprocess.run(["id", "postgres"], capture_output=True).returncode == 0
            else "nobody"
        )
        shutil.chown(root, user)
        shutil.chown(password_file, user)
    port = _free_port()
    run = {"check": True, "capture_output": True}
    try:
        subprocess.run(  # type: ignore[call-overload]
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={password_file}",
                    "--encoding=UTF8",
                    "--locale=C",
                ]
            ),
            **run,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root}"
        subprocess.run(  # type: ignore[call-overload]
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(root / "log"),
                    "-w",
                    "start",
                ]
            ),
            **run,
        )
        try:
            yield Postgres("127.0.0.1", port, "postgres", PASSWORD)
        finally:
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
