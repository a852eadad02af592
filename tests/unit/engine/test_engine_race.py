"""A Parallel racing a timer branch (a Wait then a Fail) on the virtual clock: the timer's Wait
advances with the virtual clock like any wait instead of being skipped first."""

from __future__ import annotations

from typing import Any

from tests.unit.engine.engine_test_helpers import elapsed, run

TIMER = {
    "StartAt": "timer",
    "States": {
        "timer": {"Type": "Wait", "Seconds": 10, "Next": "timedOut"},
        "timedOut": {"Type": "Fail", "Error": "Timer.Expired", "Cause": "too slow"},
    },
}


def race(body_wait: int, body_error: str = "Body.Ended") -> dict[str, Any]:
    body = {
        "StartAt": "work",
        "States": {
            "work": {"Type": "Wait", "Seconds": body_wait, "Next": "ended"},
            "ended": {"Type": "Fail", "Error": body_error},
        },
    }
    return {
        "StartAt": "Race",
        "States": {"Race": {"Type": "Parallel", "Branches": [body, TIMER], "End": True}},
    }


def test_a_body_slower_than_the_timer_is_stopped_at_the_timer() -> None:
    # Given a body that waits 100 s against a 10 s timer
    # When it runs on the virtual clock
    result = run(race(100))

    # Then the timer's error ends it, 10 virtual seconds in (the body's wait was cut there)
    assert (result.status, result.error, result.cause) == ("FAILED", "Timer.Expired", "too slow")
    assert elapsed(result) == 10


def test_a_body_faster_than_the_timer_keeps_its_outcome() -> None:
    # Given a body that waits 3 s and then fails with its own error, against a 10 s timer
    result = run(race(3))

    # Then its error wins, at its own time
    assert (result.status, result.error) == ("FAILED", "Body.Ended")
    assert elapsed(result) == 3


def test_a_parallel_without_a_timer_branch_runs_its_waits_side_by_side() -> None:
    # Given two branches that only wait (no Fail after them: not a timer)
    branches = [
        {"StartAt": name, "States": {name: {"Type": "Wait", "Seconds": 5, "End": True}}}
        for name in ("a", "b")
    ]
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": branches, "End": True}}}

    # Then they succeed together after 5 s
    result = run(definition)
    assert result.status == "SUCCEEDED" and elapsed(result) == 5
