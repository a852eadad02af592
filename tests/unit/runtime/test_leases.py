"""Process leases: a lease is held while its process lives, and judged gone once it ended, however."""

from __future__ import annotations

import os
from pathlib import Path

from stratoflow.local.leases import LEASES, ProcessLease, host_name, owner_gone, owner_pid


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
