"""Running an attempt so that the runner can stop waiting for it, as Step Functions abandons a Lambda
call it no longer waits for.

A task that does not stop itself (anything but a script, which kills its own process group) runs on a
worker thread while the runner joins it in short slices. Between slices the runner checks the task's
own `timeout` and the stop check installed around the attempt (`process.stopped_when`: locally the
engine's "stopped waiting for it", in the cloud `kill_flag`'s read of the record every 2 s). When
either fires the attempt is abandoned: the runner records its end and returns, and the worker thread
is left to finish on its own; whatever it returns then goes nowhere.

Only attempts that can be abandoned pay for the thread: a task with a `timeout` of its own or inside a
flowable with one (`needs_watching`); every other task runs on the runner's thread as before.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from stratoflow.flow import Flow
from stratoflow.flow.task import RunnableTask

T = TypeVar("T")

SLICE_SECONDS = 0.2
"""How often the waiting runner asks the stop check (each check rate-limits its own reads)."""


class Abandoned(Exception):
    """The runner stopped waiting for the attempt: its own timeout expired, or the stop check gave
    `reason`."""

    def __init__(self, reason: str, timed_out: bool):
        self.reason, self.timed_out = reason, timed_out
        super().__init__(reason)


def needs_watching(flow: Flow, task: RunnableTask) -> bool:
    """True when an attempt of `task` may have to be abandoned while it runs: it has a `timeout`, or a
    flowable around it has one, and it does not stop itself (scripts do)."""
    if task.enforces_timeout:
        return False
    return task.timeout is not None or any(
        parent.timeout is not None for parent in flow.task_parents(task.id)
    )


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.done = False
        self.result: tuple[T] | None = None  # a tuple: None may be a result
        self.error: BaseException | None = None


def run_abandonable(
    work: Callable[[], T], name: str, seconds: float | None, stop: Callable[[], str | None] | None
) -> T:
    """`work()`, run on a worker thread (in a copy of this thread's context); raises Abandoned once
    `seconds` have passed or `stop` gives a reason before it ends."""
    outcome: _Outcome[T] = _Outcome()

    def run() -> None:
        try:
            outcome.result = (work(),)
        except BaseException as error:  # handed to the runner's thread, which raises it
            outcome.error = error
        outcome.done = True

    worker = threading.Thread(target=contextvars.copy_context().run, args=(run,), name=name, daemon=True)
    worker.start()
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        left = (
            SLICE_SECONDS if deadline is None else min(SLICE_SECONDS, max(0.0, deadline - time.monotonic()))
        )
        worker.join(left)
        if outcome.done:
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise Abandoned("its timeout expired", timed_out=True)
        reason = stop() if stop is not None else None
        if reason is not None:
            raise Abandoned(reason, timed_out=False)
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    return outcome.result[0]
