"""A Parallel that races its other branches against a timer, on a virtual clock.

A timer branch is a Wait of fixed seconds followed by a Fail, nothing else (what the compiler emits
for a flowable's `timeout`). On the wall clock it runs like any branch. On a virtual clock a Wait
returns at once, so the timer would always fail first: there the race runs as a discrete event would.
The other branches run alone in a scope whose deadline is the timer's end: a wait inside ends at the
deadline and stops the body there; a body that ends (by failing, as the compiler's bodies do) before
it keeps its outcome; otherwise the timer's error is the outcome, as on Step Functions. Like a task's
timeout on a virtual clock, in-process work that takes no virtual time is not interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timer:
    index: int
    seconds: int
    error: str
    cause: str | None


def timer_branch(branches: list[dict[str, Any]]) -> Timer | None:
    """The last branch when it is a timer (and there is another branch to race it), else None."""
    if len(branches) < 2:
        return None
    branch = branches[-1]
    states = branch.get("States", {})
    wait = states.get(branch.get("StartAt"), {})
    fail = states.get(wait.get("Next"), {}) if isinstance(wait.get("Next"), str) else {}
    if len(states) != 2 or wait.get("Type") != "Wait" or fail.get("Type") != "Fail":
        return None
    seconds, error = wait.get("Seconds"), fail.get("Error")
    if not isinstance(seconds, int) or not isinstance(error, str):
        return None
    return Timer(len(branches) - 1, seconds, error, fail.get("Cause"))
