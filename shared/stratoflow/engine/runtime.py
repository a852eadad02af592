"""What the states of one execution share while it runs: cancellation, time, events, counters and limits."""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stratoflow.engine.clock import Clock
from stratoflow.engine.errors import DATA_LIMIT_EXCEEDED, RUNTIME, TIMEOUT, Cancelled, StateFailure
from stratoflow.engine.events import EngineEvent, Listener
from stratoflow.engine.resources import ResourceHandler

log = logging.getLogger(__name__)

PAYLOAD_LIMIT = 256 * 1024
"""Step Functions' limit on a state's input or output, in bytes of UTF-8 JSON."""

HISTORY_EVENT_LIMIT = 25_000
"""Step Functions' hard limit on the history events of one Standard execution; the next event fails it."""

HISTORY_LIMIT_CAUSE = (
    f"The execution reached the limit of {HISTORY_EVENT_LIMIT:,} history events of a Step Functions "
    "Standard execution; split the work into child executions (a Subflow, or fewer iterations per loop)."
)

_NEVER = threading.Event()  # a cancel event nobody sets

MAX_THREADS_PER_EXECUTION = 256
"""Worker threads an execution may start at once; Map iterations beyond it run on the threads it has."""


class CancelScope:
    """A cancellation flag that cancels its child scopes and wakes waiters registered on it."""

    __slots__ = ("_callbacks", "_lock", "_parent", "deadline", "event")
    deadline: datetime | None

    def __init__(self, parent: CancelScope | None = None, deadline: datetime | None = None):
        self.event = threading.Event()
        # A virtual-clock time at which this scope stops (a timeout race, stratoflow.engine.race):
        # sleeps inside it end there, as a discrete event would; the nearest deadline of its parents.
        inherited = parent.deadline if parent is not None else None
        self.deadline = (
            min(d for d in (inherited, deadline) if d is not None) if (inherited or deadline) else None
        )
        self._callbacks: dict[Callable[[], None], None] = {}
        self._lock = threading.Lock()
        self._parent = parent
        if parent is not None:
            parent.add_callback(self.cancel)

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

    def add_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self.event.is_set():
                self._callbacks[callback] = None
                return
        callback()

    def remove_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._callbacks.pop(callback, None)

    def cancel(self) -> None:
        with self._lock:
            if self.event.is_set():
                return
            self.event.set()
            callbacks, self._callbacks = list(self._callbacks), {}
        for callback in callbacks:
            callback()

    def close(self) -> None:
        """Detach from the parent scope (this scope is done)."""
        if self._parent is not None:
            self._parent.remove_callback(self.cancel)


def iso(moment: datetime) -> str:
    """A timestamp as Step Functions writes it in the context object: millisecond precision, `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def payload_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON; raises TypeError when it is not JSON."""
    text = json.dumps(value, separators=(",", ":"))
    if len(text) <= PAYLOAD_LIMIT:  # ASCII escapes are never shorter than UTF-8: this bound is exact enough
        return len(text)
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


class Run:
    """The shared state of one execution."""

    def __init__(
        self,
        *,
        clock: Clock,
        resources: ResourceHandler,
        listener: Listener | None,
        record_history: bool,
        name: str,
        execution_arn: str,
        state_machine_arn: str,
        state_machine_name: str,
        execution_input: Any,
        timeout_seconds: int | None,
        tokens: TokenRegistry,
    ):
        self.clock = clock
        self.resources = resources
        self.listener = listener
        self.history: list[EngineEvent] | None = [] if record_history else None
        self.emitting = record_history or listener is not None
        self.name = name
        self.execution_arn = execution_arn
        self.state_machine_arn = state_machine_arn
        self.state_machine_name = state_machine_name
        self.input = execution_input
        self.tokens = tokens
        self.root = CancelScope()
        self.start = clock.now()  # set again when the execution starts running (`begin`)
        self.timeout_seconds = timeout_seconds or 0
        self.deadline = None if timeout_seconds is None else self.start.timestamp() + timeout_seconds
        self.finished = False
        # Why the root scope was cancelled: (status, error, cause), set once.
        self.outcome: tuple[str, str | None, str | None] | None = None
        self.transitions = 0
        self.events = 0
        self.largest_payload = 0
        self.token_owner = execution_arn  # whose task tokens this run's waiting tasks hold
        self._events = itertools.count(1)
        self._lock = threading.Lock()
        self._threads = ThreadBudget(MAX_THREADS_PER_EXECUTION)
        self._context: dict[str, Any] | None = None

    def child(self, name: str, execution_input: Any, scope: CancelScope) -> Run:
        """A child execution of a distributed Map: its own history and limits, the parent's resources.

        It stops with `scope` (the parent's), shares the parent's worker threads, and its waiting
        tasks count as the parent's (a paused child pauses the parent).
        """
        child = Run(
            clock=self.clock,
            resources=self.resources,
            listener=None,
            record_history=False,
            name=name,
            execution_arn=f"{self.execution_arn}/{name}",
            state_machine_arn=self.state_machine_arn,
            state_machine_name=self.state_machine_name,
            execution_input=execution_input,
            timeout_seconds=None,
            tokens=self.tokens,
        )
        child.root = CancelScope(scope)
        child.token_owner = self.token_owner
        child._threads = self._threads
        child.start = self.clock.now()
        return child

    # --- bookkeeping -------------------------------------------------------------------------

    def join_timeline(self) -> None:
        """On a virtual clock, start this thread's timeline where its parent (or the clock) is."""
        if self.clock.virtual:
            self.clock.sleep(0, _NEVER)

    def begin(self) -> None:
        """Mark the start of the execution, on the thread that runs it."""
        self.join_timeline()
        self.start = self.clock.now()
        if self.deadline is not None:
            self.deadline = self.start.timestamp() + self.timeout_seconds

    def count_transition(self) -> None:
        with self._lock:
            self.transitions += 1

    def emit(self, event_type: str, state: str | None = None, **details: Any) -> int:
        """Count an event (record it when someone listens) and return its id.

        Every event counts towards Step Functions' history limit, recorded or not: the one past the
        limit fails the execution, as on AWS.
        """
        event_id = next(self._events)
        self.events = event_id
        if event_id > HISTORY_EVENT_LIMIT and not self.finished:
            self.end("FAILED", RUNTIME, HISTORY_LIMIT_CAUSE)
        if not self.emitting or self.finished:
            return event_id
        event = EngineEvent(event_id, event_type, self.clock.now(), state, details)
        if self.history is not None:
            with self._lock:
                self.history.append(event)
        if self.listener is not None:
            try:
                self.listener(event)
            except Exception:  # a broken listener must not break the execution
                log.exception("engine listener failed on %s", event_type)
        return event_id

    def reserve_threads(self, wanted: int) -> int:
        """Take up to `wanted` worker threads from the execution's budget (never blocks)."""
        return self._threads.reserve(wanted)

    def release_threads(self, count: int) -> None:
        self._threads.release(count)

    def execution_context(self) -> dict[str, Any]:
        """The `Execution` and `StateMachine` parts of the context object (built once)."""
        if self._context is None:
            self._context = {
                "Execution": {
                    "Id": self.execution_arn,
                    "Input": self.input,
                    "Name": self.name,
                    "RoleArn": "arn:aws:iam::000000000000:role/stratoflow-local",
                    "StartTime": iso(self.start),
                    "RedriveCount": 0,
                },
                "StateMachine": {"Id": self.state_machine_arn, "Name": self.state_machine_name},
            }
        return self._context

    # --- limits, time and cancellation -------------------------------------------------------

    def check_size(self, value: Any, state: str, what: str) -> None:
        try:
            size = payload_size(value)
        except (TypeError, ValueError) as error:
            raise StateFailure(RUNTIME, f"The {what} of the state '{state}' is not JSON: {error}") from None
        if size > self.largest_payload:
            self.largest_payload = size  # a racy max is fine: a report, never a decision
        if size > PAYLOAD_LIMIT:
            raise StateFailure(
                DATA_LIMIT_EXCEEDED,
                f"The state/task '{state}' returned a result with a size exceeding the maximum number of "
                f"bytes service limit ({what}: {size} bytes > {PAYLOAD_LIMIT}).",
            )

    def end(self, status: str, error: str | None, cause: str | None) -> None:
        """Stop everything still running for the reason given (ABORTED, TIMED_OUT, or FAILED by a limit)."""
        with self._lock:
            if self.outcome is None:
                self.outcome = (status, error, cause)
        self.root.cancel()

    def time_out(self) -> None:
        self.end("TIMED_OUT", TIMEOUT, "The execution exceeded the state machine's TimeoutSeconds.")

    def remaining(self) -> float:
        """Seconds left before the execution's timeout (infinity without one)."""
        if self.deadline is None:
            return math.inf
        return self.deadline - self.clock.now().timestamp()

    def check(self, scope: CancelScope) -> None:
        """Raise Cancelled when this branch or the execution must stop."""
        if scope.deadline is not None and self.clock.now() >= scope.deadline:
            scope.cancel()
        if scope.event.is_set():
            raise Cancelled()
        if self.deadline is not None and self.remaining() <= 0:
            self.time_out()
            raise Cancelled()

    def sleep(self, seconds: float, scope: CancelScope) -> None:
        """Sleep on the execution's clock; raises Cancelled when stopped or timed out meanwhile."""
        limit = self.remaining()
        if scope.deadline is not None:
            seconds = min(seconds, max((scope.deadline - self.clock.now()).total_seconds(), 0.0))
        self.clock.sleep(min(seconds, max(limit, 0.0)), scope.event)
        if self.deadline is not None and seconds >= limit and not scope.event.is_set():
            self.time_out()
        self.check(scope)


class ThreadBudget:
    """Worker threads an execution (with its distributed Map children) may still start."""

    def __init__(self, threads: int):
        self._left = threads
        self._lock = threading.Lock()

    def reserve(self, wanted: int) -> int:
        with self._lock:
            granted = max(0, min(wanted, self._left))
            self._left -= granted
            return granted

    def release(self, count: int) -> None:
        with self._lock:
            self._left += count


class TokenRegistry:
    """Task tokens of an engine's running `.waitForTaskToken` tasks, shared by its executions."""

    def __init__(self) -> None:
        self._waiters: dict[str, Any] = {}  # token -> TaskWaiter
        self._lock = threading.Lock()

    def add(self, token: str, waiter: Any) -> None:
        with self._lock:
            self._waiters[token] = waiter

    def remove(self, token: str) -> None:
        with self._lock:
            self._waiters.pop(token, None)

    def get(self, token: str) -> Any:
        with self._lock:
            return self._waiters.get(token)

    def any_owned_by(self, owner: str) -> bool:
        """True while a task of the execution `owner` (its ARN) waits on a token."""
        with self._lock:
            return any(waiter.owner == owner for waiter in self._waiters.values())


class StateContext:
    """Builds the context object (`$$`) of one state attempt, only when a path reads it."""

    __slots__ = ("_document", "entered", "map_item", "retry_count", "run", "state", "token")

    def __init__(self, run: Run, state: str, entered: datetime, retry_count: int = 0):
        self.run = run
        self.state = state
        self.entered = entered
        self.retry_count = retry_count
        self.token: str | None = None
        self.map_item: tuple[int, Any] | None = None
        self._document: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        if self._document is None:
            document = dict(self.run.execution_context())
            document["State"] = {
                "EnteredTime": iso(self.entered),
                "Name": self.state,
                "RetryCount": self.retry_count,
            }
            if self.token is not None:
                document["Task"] = {"Token": self.token}
            if self.map_item is not None:
                document["Map"] = {"Item": {"Index": self.map_item[0], "Value": self.map_item[1]}}
            self._document = document
        return self._document
