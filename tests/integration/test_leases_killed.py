"""A lease held by a process that is killed: it is gone, and its file removed (a real process)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from stratoflow.local.leases import LEASES, owner_gone, owner_pid

HOLDER = """
import sys, time
from stratoflow.local.leases import ProcessLease
print(ProcessLease(sys.argv[1]).take(), flush=True)
time.sleep(60)
"""


def test_the_lease_of_a_killed_process_is_gone_and_its_file_removed(tmp_path: Path) -> None:
    # Given another process holding a lease
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        owner = holder.stdout.readline().strip()
        assert owner_pid(owner) == holder.pid
        assert not owner_gone(tmp_path, owner)
    finally:
        # When it is killed without a chance to clean up
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    # Then its lease is judged gone, and the lock file it left behind is removed
    assert (tmp_path / LEASES / f"{owner}.lock").exists()
    assert owner_gone(tmp_path, owner)
    assert not (tmp_path / LEASES / f"{owner}.lock").exists()
