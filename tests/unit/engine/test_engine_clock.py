import contextvars
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

from stratoflow.engine import RealClock, VirtualClock

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_virtual_sleep_returns_at_once_and_moves_time() -> None:
    clock = VirtualClock(START)
    clock.sleep(90, threading.Event())
    clock.sleep(10.5, threading.Event())
    assert clock.now() == START + timedelta(seconds=100.5)


def test_virtual_sleep_with_cancel_set_does_not_move_time() -> None:
    clock, cancel = VirtualClock(START), threading.Event()
    cancel.set()
    clock.sleep(90, cancel)
    assert clock.now() == START


def test_virtual_infinite_sleep_blocks_until_cancelled() -> None:
    # Given a thread sleeping forever on the virtual clock
    clock, cancel, woke = VirtualClock(START), threading.Event(), threading.Event()

    def sleeper() -> None:
        clock.sleep(math.inf, cancel)
        woke.set()

    thread = threading.Thread(target=sleeper)
    thread.start()
    assert not woke.wait(0.05)
    # When
    cancel.set()
    # Then
    assert woke.wait(10)
    thread.join()
    assert clock.now() == START


def test_each_context_keeps_its_own_timeline() -> None:
    # Given a parent that started its timeline, and two branches copied from it
    clock = VirtualClock(START)
    clock.sleep(0, threading.Event())
    ends: list[datetime] = []

    def branch(seconds: float) -> None:
        clock.sleep(seconds, threading.Event())
        ends.append(clock.now())

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(branch, s)) for s in (10, 20)]
    # When
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each branch counts from the parent's time, and a fresh context sees the latest time
    assert sorted(ends) == [START + timedelta(seconds=10), START + timedelta(seconds=20)]
    assert clock.now() == START
    assert contextvars.Context().run(clock.now) == START + timedelta(seconds=20)


def test_virtual_clock_is_thread_safe() -> None:
    # Given four threads continuing the same started timeline
    clock = VirtualClock(START)
    clock.sleep(0, threading.Event())
    ends: list[datetime] = []

    def sleep_many() -> None:
        for _ in range(1000):
            clock.sleep(1, threading.Event())
        ends.append(clock.now())

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(sleep_many,)) for _ in range(4)]
    # When
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each counted its own 1000 s, and the latest time is theirs
    assert ends == [START + timedelta(seconds=1000)] * 4
    assert contextvars.Context().run(clock.now) == START + timedelta(seconds=1000)


def test_virtual_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2024, 1, 1))


def test_advance_moves_the_callers_timeline() -> None:
    clock = VirtualClock(START)
    clock.advance(5)
    assert clock.now() == START + timedelta(seconds=5)


def test_real_clock_sleep_ends_when_cancelled() -> None:
    clock, cancel = RealClock(), threading.Event()
    cancel.set()
    clock.sleep(3600, cancel)
    clock.sleep(math.inf, cancel)
    assert clock.now().tzinfo is UTC
    assert not clock.virtual and VirtualClock(START).virtual
