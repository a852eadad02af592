"""The peers' virtual environments and their one-time state, under a scratch folder (cached between runs).

    <peers-dir>/<peer>-venv      one venv per peer, from bench/peers/<peer>/requirements.txt
                                 (constrained to requirements-lock.txt: the exact set that was measured)
    <peers-dir>/prefect-home     Prefect's SQLite database for its temporary server
    <peers-dir>/airflow-home     Airflow's SQLite metadata database
    <peers-dir>/dagster-home     Dagster's persistent instance (the `dagster-persistent` variant)

A venv is reused while its stamp (a hash of the pins and the interpreter) matches; the state folders are
made once, as bench/peers/README.md says, and reset with `fresh_state` before a measured series so that
the databases start from the same size every time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PEERS_SOURCE = Path(__file__).resolve().parent / "peers"
DEFAULT_PEERS_DIR = Path("/tmp/stratoflow-peers")
INSTALLED_PEERS = ("prefect", "dagster", "airflow")
STAMP = ".stratoflow-stamp"
# Telemetry off everywhere: no network but the package index, and no phone-home cost in the figures.
QUIET_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


@dataclass(frozen=True)
class PeerRuntime:
    """How to run one peer variant: its interpreter, its scripts' folder and the environment it needs."""

    name: str
    python: Path
    scripts: Path
    env: dict[str, str] = field(default_factory=dict)


def base_python() -> str:
    """The real interpreter behind this venv (never a version-manager shim: it adds ~0.1 s per start)."""
    return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())


def _stamp(peer: str, python: str) -> str:
    digest = hashlib.sha256(python.encode())
    for name in ("requirements.txt", "requirements-lock.txt"):
        digest.update(b"\0" + (PEERS_SOURCE / peer / name).read_bytes())
    return digest.hexdigest()


def venv_python(peers_dir: Path, peer: str) -> Path:
    return peers_dir / f"{peer}-venv" / "bin" / "python"


def ensure_venv(peers_dir: Path, peer: str, python: str, log: TextLog) -> Path:
    """The peer's venv interpreter, created and installed first when it is missing or its pins changed."""
    venv = peers_dir / f"{peer}-venv"
    stamp = _stamp(peer, python)
    stamp_file = venv / STAMP
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return venv_python(peers_dir, peer)
    if venv.exists():
        shutil.rmtree(venv)
    started = time.monotonic()
    log(f"installing {peer} into {venv} (cached for later runs) ...")
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    source = PEERS_SOURCE / peer
    pip = [
        str(venv_python(peers_dir, peer)),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    command = [*pip, "-r", str(source / "requirements.txt"), "-c", str(source / "requirements-lock.txt")]
    done = subprocess.run(command, capture_output=True, text=True)  # pip's index warnings are noise
    if done.returncode != 0:
        raise RuntimeError(f"installing {peer} failed:\n{done.stderr[-3000:]}")
    stamp_file.write_text(stamp)
    log(f"installed {peer} in {time.monotonic() - started:.0f} s")
    return venv_python(peers_dir, peer)


def ensure_plain_venv(peers_dir: Path, python: str) -> Path:
    """A venv without packages: the no-orchestrator floor."""
    venv = peers_dir / "plain-venv"
    if not venv_python(peers_dir, "plain").exists():
        subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv_python(peers_dir, "plain")


class TextLog:
    """Progress lines on stderr, so stdout stays the report."""

    def __call__(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def fresh_state(peers_dir: Path, peer: str, python: Path) -> dict[str, str]:
    """(Re)create the peer's state folder as the README's one-time set-up does; returns its env vars."""
    env = {**os.environ, **QUIET_ENV}
    if peer == "prefect":
        home = peers_dir / "prefect-home"
        _reset(home)
        extra = {"PREFECT_HOME": str(home)}
        prefect = str(python.with_name("prefect"))
        subprocess.run(
            [prefect, "server", "database", "upgrade", "-y"],
            env={**env, **extra},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return extra
    if peer == "airflow":
        home = peers_dir / "airflow-home"
        _reset(home)
        extra = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        airflow = str(python.with_name("airflow"))
        subprocess.run(
            [airflow, "db", "migrate"], env={**env, **extra}, check=True, stdout=subprocess.DEVNULL
        )
        return extra
    if peer == "dagster-persistent":
        home = peers_dir / "dagster-home"
        _reset(home)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        return {"DAGSTER_HOME": str(home)}
    return {}


def _reset(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
