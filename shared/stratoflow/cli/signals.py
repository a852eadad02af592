"""SIGINT and SIGTERM for the commands that run executions: the first one stops them cleanly, a
second one exits at once.

Ctrl-C must not raise KeyboardInterrupt into whatever the main thread waits on (a `join` it interrupts
can leave the process exiting before the executions are stopped), and SIGTERM — what `systemd`,
`docker stop` and most process managers send — must not end the process before they are. The handler
only hands the stop to a thread of its own: it may interrupt the main thread holding any lock.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """Within `with`, the first SIGINT/SIGTERM calls `on_stop(signal name)` on a new thread; a second
    one exits the process at once with 128 + its number (as a shell reports a death by signal)."""

    def __init__(self, on_stop: Callable[[str], None]) -> None:
        self._on_stop = on_stop
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # else Python refuses handlers
            for number in STOP_SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if self.received is not None:
            os.write(2, f"{name} again: exiting now, without waiting\n".encode())
            os._exit(128 + number)
        self.received = name
        threading.Thread(target=self._on_stop, args=(name,), name="strato-stop", daemon=True).start()
