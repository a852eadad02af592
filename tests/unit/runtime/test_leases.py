"""Process leases: a lease is held while its process lives, and judged gone once it ended, however."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from stratoflow.local.leases import LEASES, ProcessLease, host_name, owner_gone, owner_pid

HOLDER = """
import sys, time
from stratoflow.local.leases import ProcessLease
print(ProcessLease(sys.argv[1]).take(), flush=True)
time.sleep(60)
"""


def test_a_held_lease_is_alive_even_to_its_own_process(tmp_path: Path) -> None:
    lease = ProcessLease(tmp_path)
    owner = lease.take()
    assert lease.take() == owner  # idempotent: one lock file per process
    assert owner.startswith(f"{host_name()}-{os.getpid()}-")
    assert owner_pid(owner) == os.getpid()
    assert not owner_gone(tmp_path, owner)
    assert (tmp_path / LEASES / f"{owner}.lock").exists()


def test_a_released_lease_is_gone_and_leaves_no_file(tmp_path: Path) -> None:
    lease = ProcessLease(tmp_path)
    owner = lease.take()
    lease.release()
    assert owner_gone(tmp_path, owner)
    assert list((tmp_path / LEASES).iterdir()) == []


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


def test_an_owner_of_another_host_is_never_judged(tmp_path: Path) -> None:
    # No lease file at all would mean "gone" for an owner of this host
    assert owner_gone(tmp_path, f"{host_name()}-123-abcd")
    assert not owner_gone(tmp_path, "some-other-machine-123-abcd")
    assert not owner_gone(tmp_path, f"{host_name()}-123-../../etc")  # never a path outside the home


def test_threads_taking_a_fresh_lease_at_once_all_get_it(tmp_path: Path) -> None:
    # Given a fresh lease, and many threads that take it at the same moment (a burst of webhooks on a
    # server that has run nothing yet)
    import threading

    lease = ProcessLease(tmp_path)
    barrier = threading.Barrier(32)
    taken: list[str] = []
    failed: list[BaseException] = []

    def take() -> None:
        barrier.wait()
        try:
            taken.append(lease.take())
        except BaseException as error:  # what the race raised: BlockingIOError from flock
            failed.append(error)

    threads = [threading.Thread(target=take) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every one got the lease, and it is held once
    assert failed == []
    assert taken == [lease.owner] * 32
    assert not owner_gone(tmp_path, lease.owner)
    lease.release()
