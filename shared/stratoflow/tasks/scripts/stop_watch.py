"""Watch a task's stop checks while its command runs somewhere this thread cannot reach.

A command the runner runs itself is stopped by its own loop (`process.run_process` asks the checks
`stopped_when` installed). A command handed to a script sandbox runs in another function, while the
runner's thread waits on a synchronous invoke: `StopWatch` asks the same checks from another thread,
as often as that loop would (the checks rate-limit their own reads), and once one gives a reason it
`signal`s the sandbox (writes the task run's stop object). Its watching ends with the `with` block,
that is with the invoke, whatever its outcome: nothing is asked or written after it.

One thread of the process serves every watch, started with the first and kept (idle, waiting on a
condition, when nothing is watched): a warm task runner hands over one script after another, and a
thread started and joined per script cost ~0.5 ms of a hand-over that takes a few. The first round
of a watch comes `every` seconds after it began, so a script that ends sooner costs no check at all.
A round runs outside the watcher's lock but holds up the other watches' rounds while it lasts (a
read of the record, a write of the stop object): in a Lambda there is one watch at a time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

from stratoflow.tasks.scripts.process import STOP_CHECK_SECONDS, StopCheck

log = logging.getLogger(__name__)

THREAD_NAME = "stratoflow-stop-watch"


class StopWatch:
    """`with StopWatch(check, signal): <wait for the command>`; `reason` says why it was stopped."""

    def __init__(self, check: StopCheck, signal: Callable[[str], None], every: float = STOP_CHECK_SECONDS):
        self.check, self.signal, self.every = check, signal, every
        self.reason: str | None = None
        self.signalled = False
        # Held while a round runs: the block's end waits for a round under way, and none starts after.
        self._round = threading.Lock()
        self._ended = False

    def __enter__(self) -> StopWatch:
        _WATCHER.add(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        _WATCHER.remove(self)
        with self._round:
            self._ended = True

    @property
    def running(self) -> bool:
        """Whether its checks are still asked (inside the `with` block, until it signalled)."""
        return _WATCHER.watching(self)

    def round(self) -> bool:
        """Ask the check (or signal again after a failed write); whether to be asked again."""
        with self._round:
            if self._ended:
                return False
            try:
                if self.reason is None:
                    self.reason = self.check()
                if self.reason is not None:
                    self.signal(self.reason)
                    self.signalled = True
                    return False
            except Exception as error:  # a failed read or write: the next round tries again
                log.warning("stopping the sandboxed command: %s", error)
            return True


class _Watcher:
    """The one thread that runs the rounds of every watch of the process, each when it is due."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: dict[StopWatch, float] = {}  # each watch's next round (time.monotonic)
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, watch: StopWatch) -> None:
        with self._changed:
            self._due[watch] = time.monotonic() + watch.every
            # A forked child has the object, not the thread: it starts its own.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
                self._pid = os.getpid()
                self._thread.start()
            self._changed.notify()

    def remove(self, watch: StopWatch) -> None:
        with self._changed:
            self._due.pop(watch, None)

    def watching(self, watch: StopWatch) -> bool:
        with self._changed:
            return watch in self._due

    def count(self) -> int:
        with self._changed:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [watch for watch, at in self._due.items() if at <= now]
                if not due:
                    self._changed.wait(min(self._due.values(), default=now + 3600.0) - now)
                    continue
                for watch in due:
                    self._due[watch] = now + watch.every
            # Outside the lock: a check may read the table, a signal writes to S3.
            for watch in due:
                if not watch.round():
                    self.remove(watch)


_WATCHER = _Watcher()


def watched() -> int:
    """How many watches have their checks asked now (none once every `with` block has ended)."""
    return _WATCHER.count()
