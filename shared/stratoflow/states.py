"""Execution and task-run states, as data: the enum, the terminal set and the allowed transitions."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CREATED = "CREATED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RETRYING = "RETRYING"
    RETRIED = "RETRIED"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLING = "KILLING"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_failure(self) -> bool:
        return self in FAILURE_STATES


TERMINAL_STATES: frozenset[State] = frozenset(
    {
        State.SUCCESS,
        State.WARNING,
        State.FAILED,
        State.KILLED,
        State.CANCELLED,
        State.SKIPPED,
        State.RETRIED,
    }
)

FAILURE_STATES: frozenset[State] = frozenset({State.FAILED, State.KILLED, State.CANCELLED})
# A task run's ends that let what follows it go on: done, never run again on a restart or a redelivery.
DONE_STATES: frozenset[State] = frozenset({State.SUCCESS, State.WARNING, State.SKIPPED})

# Which state may follow which. Terminal states only move on through an explicit restart
# (FAILED/KILLED -> RUNNING), which the execution-control commands perform, and a flow-level retry
# that creates a new execution (FAILED -> RETRIED: the original hands over to the new one).
ALLOWED_TRANSITIONS: dict[State, frozenset[State]] = {
    State.CREATED: frozenset({State.QUEUED, State.RUNNING, State.CANCELLED, State.FAILED, State.KILLED}),
    State.QUEUED: frozenset({State.RUNNING, State.CANCELLED, State.FAILED, State.KILLED}),
    State.RUNNING: frozenset(
        {
            State.PAUSED,
            State.CANCELLED,  # a Pause with `behavior: CANCEL` that was not resumed in time
            State.RETRYING,
            State.SUCCESS,
            State.WARNING,
            State.FAILED,
            State.KILLING,
            State.KILLED,
            State.SKIPPED,
            State.RETRIED,
        }
    ),
    State.PAUSED: frozenset(
        {State.RUNNING, State.FAILED, State.KILLING, State.KILLED, State.SUCCESS, State.CANCELLED}
    ),
    State.RETRYING: frozenset({State.RUNNING, State.FAILED, State.KILLED, State.WARNING, State.SUCCESS}),
    # A kill that came too late (the execution ended on its own first) records the real end.
    State.KILLING: frozenset({State.KILLED, State.SUCCESS, State.WARNING, State.FAILED}),
    State.SUCCESS: frozenset(),
    State.WARNING: frozenset(),
    # A restart runs again at once, or waits for a concurrency slot.
    State.FAILED: frozenset({State.RUNNING, State.QUEUED, State.RETRIED}),
    State.KILLED: frozenset({State.RUNNING, State.QUEUED}),
    State.CANCELLED: frozenset(),
    State.SKIPPED: frozenset(),
    State.RETRIED: frozenset(),
}


def can_transition(current: State, new: State) -> bool:
    """True when `new` may follow `current` (staying in the same state is always allowed)."""
    return current == new or new in ALLOWED_TRANSITIONS[current]


def worst(states: list[State]) -> State:
    """The combined outcome of finished children: FAILED over WARNING over SUCCESS (SKIPPED counts as success)."""
    if any(s.is_failure for s in states):
        return State.FAILED
    if any(s == State.WARNING for s in states):
        return State.WARNING
    return State.SUCCESS
