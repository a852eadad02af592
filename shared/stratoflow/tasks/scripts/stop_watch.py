"""Watch a task's stop checks while its command runs somewhere this thread cannot reach.

A command the runner runs itself is stopped by its own loop (`process.run_process` asks the checks
`stopped_when` installed). A command handed to a script sandbox runs in another function, while the
runner's thread waits on a synchronous invoke: `StopWatch` asks the same checks from a thread of its
own, as often as that loop would (the checks rate-limit their own reads), and once one gives a reason
it `signal`s the sandbox (writes the task run's stop object). The thread ends with the `with` block,
that is with the invoke, whatever its outcome.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from stratoflow.tasks.scripts.process import STOP_CHECK_SECONDS, StopCheck

log = logging.getLogger(__name__)


class StopWatch:
    """`with StopWatch(check, signal): <wait for the command>`; `reason` says why it was stopped."""

    def __init__(self, check: StopCheck, signal: Callable[[str], None], every: float = STOP_CHECK_SECONDS):
        self.check, self.signal, self.every = check, signal, every
        self.reason: str | None = None
        self.signalled = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stratoflow-stop-watch", daemon=True)

    def __enter__(self) -> StopWatch:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _watch(self) -> None:
        while not self._done.wait(self.every):
            try:
                if self.reason is None:
                    self.reason = self.check()
                if self.reason is not None:
                    self.signal(self.reason)
                    self.signalled = True
                    return
            except Exception as error:  # a failed read or write: the next round tries again
                log.warning("stopping the sandboxed command: %s", error)
