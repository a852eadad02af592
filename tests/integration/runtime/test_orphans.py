"""A killed `strato run` leaves its execution running: the next run fails it and takes its slot (a real
process, killed with SIGKILL; the in-process cases are in tests/unit/runtime/test_orphans.py)."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from tests.unit.runtime.test_orphans import FLOW, _state_of_wait, _wait_for


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_strato_run_fails_what_a_killed_strato_run_left_running(home: Path) -> None:
    # Given `strato run` of a flow whose execution holds the only slot, killed with SIGKILL mid-run
    flow_file = home.parent / "limited.yaml"
    flow_file.write_text(FLOW)
    command = ["run", str(flow_file), "-i", "hold=true", "--json", "--home", str(home)]
    crashed = subprocess.Popen(
        [sys.executable, "-c", "from stratoflow.cli.main import main; main()", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _state_of_wait(home) in ("RUNNING", "PAUSED"), timeout=60)
    finally:
        crashed.send_signal(signal.SIGKILL)
        crashed.wait()

    # Then the history says its process is gone, before anything records it
    listed = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["executions", "list", "--home", str(home)])
    assert re.search(r"(RUNNING|PAUSED) \(process gone\)", listed.stdout), listed.stdout
    assert "the next `strato run`, `strato server` or `strato restart|kill` on this home" in listed.stdout

    # When the flow is run again
    result = CliRunner().invoke(cli, ["run", str(flow_file), "--json", "--home", str(home)])

    # Then the new run takes the slot and succeeds, and the killed one is reported FAILED
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "SUCCESS"
    assert "ended FAILED: the process running it (pid" in result.stderr
    with sqlite3.connect(home / "stratoflow.db") as db:
        states = sorted(row[0] for row in db.execute("SELECT state FROM executions"))
    assert states == ["FAILED", "SUCCESS"]
