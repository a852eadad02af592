"""The peers' virtual environments and their one-time state, under a scratch folder (cached between runs).

    <peers-dir>/<peer>-venv      one venv per peer, from bench/peers/<peer>/requirements.txt
                                 (constrained to requirements-lock.txt: the exact set that was measured)
    <peers-dir>/prefect-home     Prefect's SQLite database for its temporary server
    <peers-dir>/airflow-home     Airflow's SQLite metadata database
    <peers-dir>/dagster-home     Dagster's persistent instance (the `dagster-persistent` variant)

A venv is reused while its stamp (a hash of the pins and the interpreter) matches. `fresh_state` gives
every measured series a state folder as the one-time set-up of bench/peers/README.md leaves it, so that
the databases start from the same size every time. The set-up itself (Prefect's and Airflow's database
migrations, ~20-30 s) runs once per venv into `<state>.pristine`, which later series copy: the same
files, without paying the migrations again in every benchmark.
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
        extra = {"PREFECT_HOME": str(home)}
        upgrade = [str(python.with_name("prefect")), "server", "database", "upgrade", "-y"]
        _restore(home, python, [upgrade], {**env, **extra})
        return extra
    if peer == "airflow":
        home = peers_dir / "airflow-home"
        extra = {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        _restore(home, python, [[str(python.with_name("airflow")), "db", "migrate"]], {**env, **extra})
        return extra
    if peer == "dagster-persistent":
        home = peers_dir / "dagster-home"
        _reset(home)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        return {"DAGSTER_HOME": str(home)}
    return {}


def _restore(home: Path, python: Path, set_up: list[list[str]], env: dict[str, str]) -> None:
    """Make `home` what the `set_up` commands leave in an empty folder: they run once per venv (its
    stamp), into `<home>.pristine`, and every later call copies that. The copy keeps the same path, so
    absolute paths the peer wrote into its files (Airflow's config) stay right."""
    pristine = home.with_name(f"{home.name}.pristine")
    stamp = (python.parent.parent / STAMP).read_text()
    if not ((pristine / STAMP).exists() and (pristine / STAMP).read_text() == stamp):
        _reset(home)
        for command in set_up:
            subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        _reset(pristine)
        shutil.copytree(home, pristine, dirs_exist_ok=True)
        (pristine / STAMP).write_text(stamp)
        return
    _reset(home)
    shutil.copytree(pristine, home, dirs_exist_ok=True, ignore=shutil.ignore_patterns(STAMP))


def _reset(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
