"""Wake whoever waits for an execution's end the moment the platform records it.

A waited webhook (`?wait=true`) and a stopping server wait for ends; polling the store would answer a
4 ms flow no sooner than the next poll. The platform calls `ended` right after it records an end; a
waiter that arrives after the end finds the id among the recent ends and returns at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

RECENT_ENDS = 4096  # enough for every request that can still be waiting on one of them


class ExecutionEnds:
    def __init__(self, recent: int = RECENT_ENDS) -> None:
        self._changed = threading.Condition()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._limit = recent
        self._closed = False

    def ended(self, execution_id: str) -> None:
        """Record that `execution_id` ended and wake its waiters."""
        with self._changed:
            self._recent[execution_id] = None
            while len(self._recent) > self._limit:
                self._recent.popitem(last=False)
            self._changed.notify_all()

    def has_ended(self, execution_id: str) -> bool:
        with self._changed:
            return execution_id in self._recent

    def wait(self, execution_id: str, seconds: float) -> bool:
        """Wait up to `seconds` for the end of `execution_id`; False once `close` was called (the
        platform is stopping: the waiter should answer with what it has instead of waiting on)."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or execution_id in self._recent, max(seconds, 0.0))
            return not self._closed

    def wait_any(self, seconds: float) -> None:
        """Wait up to `seconds` for the next end of any execution."""
        with self._changed:
            self._changed.wait(max(seconds, 0.0))

    def close(self) -> None:
        """Wake every waiter now, and let no later one wait."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
