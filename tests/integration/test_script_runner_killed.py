"""`kill -9` of the `strato run` running a script task: nothing of the script runs on.

The script's first process dies with its runner (parent-death signal; with the warm template, the
template ends every task's group when its runner's socket closes). What the script started in the
background stays in the script's process group, which the runner recorded beside its lease: the
recovery in the next process ends it before it fails the execution, so that `strato restart` can
never run the task a second time beside the first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State

STRATO = Path(sys.executable).with_name("strato")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_for(condition: object, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("warm", ["1", "0"])
def test_a_killed_runner_leaves_no_script_running(tmp_path: Path, warm: str) -> None:
    # Given: `strato run` of a script whose shell waits on a background child of its own
    home, pids = tmp_path / "home", tmp_path / "pids"
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        textwrap.dedent(
            f"""\
            id: killed
            namespace: tests.scripts
            tasks:
              - id: work
                type: scripts.Commands
                commands:
                  - sleep 300 &
                  - echo "$$ $!" > {pids}.tmp && mv {pids}.tmp {pids}
                  - wait
            """
        )
    )
    env = {**os.environ, "STRATOFLOW_WARM_SCRIPTS": warm}
    runner = subprocess.Popen(
        [str(STRATO), "run", str(flow), "--home", str(home), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(pids.exists, "the script to start")
        shell, background = (int(p) for p in pids.read_text().split())

        # When: the runner is killed with no chance to clean up
        runner.send_signal(signal.SIGKILL)
        runner.wait()

        # Then: the script's shell dies with it
        _wait_for(lambda: not _running(shell), "the script's shell to die with its runner")
        if warm == "0":
            # only the recovery can end the background child (it never had a parent-death signal)
            assert _running(background)
        platform = LocalPlatform(home)
        try:
            recovered = platform.recover_orphans()
        finally:
            platform.close()
        assert not _running(background)
        assert [e.state for e in recovered] == [State.FAILED]
        assert not list((home / "leases").glob("*.groups"))  # the record went with its owner
    finally:
        runner.kill()
        if pids.exists():
            for pid in (int(p) for p in pids.read_text().split()):
                if _running(pid):
                    os.kill(pid, signal.SIGKILL)


def test_recovery_ends_only_a_group_that_carries_the_runners_mark(tmp_path: Path) -> None:
    # Given: a recorded group whose process carries the mark, and one with the same kind of record
    # whose process does not (a later group that got a reused id)
    from stratoflow.local.leases import end_groups
    from stratoflow.tasks.scripts import groups

    marked = subprocess.Popen(
        ["sleep", "60"], start_new_session=True, env={**os.environ, groups.MARK_VARIABLE: "gone-runner-1"}
    )
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    leases = tmp_path / "leases"
    leases.mkdir()
    (leases / "host-1-ab.groups").write_text(
        f"+{marked.pid} gone-runner-1\n+{other.pid} gone-runner-1\n+999999 gone-runner-1\n-999999\n"
    )
    try:
        # When
        ended = end_groups(tmp_path, "host-1-ab")

        # Then
        assert ended == [marked.pid]
        marked.wait(10)
        assert other.poll() is None
        assert not (leases / "host-1-ab.groups").exists()
    finally:
        for process in (marked, other):
            process.kill()
            process.wait()
