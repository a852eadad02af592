"""Time for the engine: the wall clock, or a virtual clock that skips waits.

Wait states, Retry intervals, task and execution timeouts all read and wait on a `Clock`, so a test
(or `strato run`) can run a flow full of waits in milliseconds.
"""

from __future__ import annotations

import math
import threading
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    @property
    def virtual(self) -> bool:
        """True when time passes only through `sleep`: in-process work then takes no clock time, so
        the engine measures a task's timeout when its handler returns instead of interrupting it."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        """Return once `seconds` have passed on this clock or `cancel` is set; `math.inf` waits for `cancel`."""


class RealClock:
    """The wall clock; sleeping blocks the calling thread."""

    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        if seconds > 0:
            cancel.wait(None if math.isinf(seconds) else seconds)


class VirtualClock:
    """A clock that moves only when someone sleeps on it: `sleep` returns at once and advances time.

    Thread-safe. Each context (a thread, and the threads the engine starts from it with
    `contextvars.copy_context()`) keeps its own timeline, so concurrent branches do not add up their
    waits: two parallel branches that wait 10 s each take 10 s, as on Step Functions, and a task's
    timeout counts only its own virtual time. `now()` in a context that never slept is the latest
    time any context reached.

    A context's timeline starts the first time it sleeps (`sleep(0)` starts it without moving it);
    the engine does so when an execution starts and before it starts worker threads, so that each
    branch continues from the time its parent reached. A sleep whose `cancel` is already set returns
    without moving the clock, and an infinite sleep blocks (for real) until `cancel` is set, since
    nothing else could end it.
    """

    virtual = True

    def __init__(self, start: datetime | None = None):
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start time")
        self._latest = start
        self._lock = threading.Lock()
        self._timeline: ContextVar[datetime] = ContextVar(f"virtual-clock-{id(self)}")

    def now(self) -> datetime:
        local = self._timeline.get(None)
        if local is not None:
            return local
        with self._lock:
            return self._latest

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        if math.isinf(seconds):
            cancel.wait()
            return
        if cancel.is_set():
            return
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        """Move this context's timeline forward, as if `seconds` passed."""
        with self._lock:
            local = self._timeline.get(None) or self._latest
            local += timedelta(seconds=seconds)
            self._timeline.set(local)
            self._latest = max(self._latest, local)
