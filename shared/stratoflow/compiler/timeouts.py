"""`timeout` on a flowable whose body is one Parallel or Map state (Parallel, Dag, ForEach and its
variants): Step Functions has no TimeoutSeconds on those states, so the body races a timer.

<id>.timeout   Parallel, two branches:
               - the body state, then a Fail with a private error: a branch that fails stops the
                 other one at once, so the timer stops as soon as the body ends;
               - a timer: Wait <timeout> seconds, then Fail with the task's timeout error, which stops
                 the body (the task runs still running in it are stopped with it).
               Catch: the private error -> the frame's end call (the body ended in time); every
               other error -> the frame's failure path (`errors`, allowFailure, the fail call).

The local engine recognises the timer branch (a Wait then a Fail, nothing else): on a virtual clock
it decides the race from the body's virtual duration, so `--skip-waits` does not let the timer win.
"""

from __future__ import annotations

import json
from datetime import timedelta

from stratoflow.compiler.asl import (
    DISCARD,
    Catcher,
    FailState,
    ParallelState,
    StateBase,
    WaitState,
    dump_state,
)
from stratoflow.compiler.frame import Flowable, timeout_seconds_of

BODY_ENDED = "Stratoflow.BodyEnded"
"""The private error the body branch ends with: the race's Catch turns it back into success."""
TIMED_OUT = "States.Timeout"
"""The error of a timed-out task, the same as a runnable task's (runner.run_with_timeout)."""


def timeout_message(task_id: str, timeout: timedelta) -> str:
    return f"task '{task_id}' timed out after {timeout} (timeout {timeout_seconds_of(timeout)}s)"


def race(frame: Flowable, body: str) -> str:
    """Put the body state `body` (Next: the frame's end) in a race with the task's timeout.

    Returns the state to enter instead of `body`; without a timeout, `body` itself (the ASL of a
    flow without timeouts is unchanged)."""
    task, builder = frame.task, frame.builder
    if task.timeout is None:
        return body
    seconds = timeout_seconds_of(task.timeout)
    state = builder.states.pop(body)
    assert isinstance(state, StateBase) and state.next == frame.end, f"{body} is not a flowable's body state"
    # Inside the race the body's failures propagate out of its branch; the race's Catch routes them.
    inner = state.model_copy(update={"catch": None, "next": None, "end": None})
    ended = builder.names.claim(f"{task.id}.ended")
    inner = inner.model_copy(update={"next": ended})
    timer = builder.names.claim(f"{task.id}.timer")
    timed_out = builder.names.claim(f"{task.id}.timedOut")
    message = timeout_message(task.id, task.timeout)
    name = builder.names.claim(f"{task.id}.timeout")
    builder.add(
        name,
        ParallelState(
            comment=f"{task.id}: the body races its timeout of {seconds}s",
            branches=[
                {
                    "StartAt": body,
                    "States": {
                        body: dump_state(inner),
                        ended: dump_state(FailState(error=BODY_ENDED, cause="the body ended in time")),
                    },
                },
                {
                    "StartAt": timer,
                    "States": {
                        timer: dump_state(WaitState(seconds=seconds, next=timed_out)),
                        timed_out: dump_state(FailState(error=TIMED_OUT, cause=_cause(message))),
                    },
                },
            ],
            result_path=DISCARD,
            catch=[Catcher(error_equals=[BODY_ENDED], next=frame.end, result_path="$.error")]
            + (frame.catchers() or []),
            next=frame.end,
        ),
    )
    return name


def _cause(message: str) -> str:
    return json.dumps({"errorMessage": message})
