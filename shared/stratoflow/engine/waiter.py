"""The outcome of a task attempt that can outlive its handler call: a token task, or a task with a timeout.

A `TaskWaiter` records the answer (a result or an error) and heartbeats, each at the clock time it
arrives, and judges lateness on that timeline: an answer that arrives after TimeoutSeconds, or after
HeartbeatSeconds without a heartbeat, is a timeout - also when it arrives on a virtual clock that
skipped past the deadline inside a handler.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from stratoflow.engine.clock import Clock
from stratoflow.engine.errors import HEARTBEAT_TIMEOUT, TIMEOUT, InvalidTaskToken
from stratoflow.engine.runtime import CancelScope, Run

_RESOLUTION = 1e-3


class TaskWaiter:
    def __init__(self, clock: Clock, timeout: float | None, heartbeat: float | None, owner: str = ""):
        self.clock = clock
        self.owner = owner  # the execution ARN
        self.start = clock.now().timestamp()
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.last_beat = self.start
        self.lock = threading.Lock()
        self.wake = threading.Event()
        # (succeeded, output or error name, cause, TaskFailed event already emitted)
        self.result: tuple[bool, Any, str | None, bool] | None = None
        self.violation: str | None = None  # States.Timeout or States.HeartbeatTimeout

    @property
    def done(self) -> bool:
        return self.result is not None or self.violation is not None

    def _deadlines(self) -> list[tuple[float, str]]:
        found = []
        if self.timeout is not None:
            found.append((self.start + self.timeout, TIMEOUT))
        if self.heartbeat is not None:
            found.append((self.last_beat + self.heartbeat, HEARTBEAT_TIMEOUT))
        return sorted(found)

    def deadline(self) -> float:
        deadlines = self._deadlines()
        return deadlines[0][0] if deadlines else math.inf

    def _expire(self, now: float) -> None:
        """Record the first deadline `now` is past, if any (call with the lock held)."""
        if self.done:
            return
        for at, error in self._deadlines():
            if now >= at:
                self.violation = error
                return

    def settle(self, ok: bool, value: Any, cause: str | None = None, reported: bool = False) -> bool:
        """Record the answer; False when the task was already answered or had timed out."""
        with self.lock:
            self._expire(self.clock.now().timestamp())
            if self.done:
                self.wake.set()
                return False
            self.result = (ok, value, cause, reported)
            self.wake.set()
            return True

    def beat(self) -> bool:
        """Record a heartbeat; False when the task is no longer waiting."""
        with self.lock:
            now = self.clock.now().timestamp()
            self._expire(now)
            self.wake.set()
            if self.done:
                return False
            self.last_beat = now
            return True

    def wait(self, run: Run, scope: CancelScope) -> None:
        """Block until answered or late; raises Cancelled when the branch or execution stops first."""
        while True:
            with self.lock:
                now = self.clock.now().timestamp()
                self._expire(now)
                if self.done:
                    return
                self.wake.clear()
                until = self.deadline()
            run.check(scope)
            if until - now <= _RESOLUTION:  # a clock's sleep cannot land closer than this
                with self.lock:
                    self._expire(until)
                continue
            run.clock.sleep(min(until - now, max(run.remaining(), 0.0)), self.wake)


def answer(waiter: Any, token: str, ok: bool, value: Any, cause: str | None = None) -> None:
    """send_task_success/failure: raises InvalidTaskToken when nothing waits on `token` any more."""
    if not isinstance(waiter, TaskWaiter) or not waiter.settle(ok, value, cause):
        raise InvalidTaskToken(f"task token '{token}' is unknown, already answered or timed out")


def heartbeat(waiter: Any, token: str) -> None:
    if not isinstance(waiter, TaskWaiter) or not waiter.beat():
        raise InvalidTaskToken(f"task token '{token}' is unknown, already answered or timed out")
