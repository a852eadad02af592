"""`timeout` on a flowable: Step Functions has no TimeoutSeconds on Parallel and Map states (nor on a
block of states), so the flowable's body races a timer. The body is its one Parallel or Map state
(Parallel, Dag, ForEach), each of its blocks (Sequential, AllowFailure, WorkingDirectory, If's
`then` and `else`, each Switch case), or its whole loop (WaitFor), lowered in a branch.

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
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from stratoflow.compiler.asl import (
    DISCARD,
    Catcher,
    FailState,
    ParallelState,
    StateBase,
    WaitState,
    dump_state,
)
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.frame import Flowable, timeout_seconds_of
from stratoflow.flow.task import Task

BODY_ENDED = "Stratoflow.BodyEnded"
"""The private error the body branch ends with: the race's Catch turns it back into success."""
TIMED_OUT = "Stratoflow.TimedOut"
"""The error of a timed-out flowable (a Fail state may not raise a `States.` error on AWS)."""


def timeout_message(task_id: str, timeout: timedelta) -> str:
    return f"task '{task_id}' timed out after {timeout} (timeout {timeout_seconds_of(timeout)}s)"


def race(frame: Flowable, body: str) -> str:
    """Put the body state `body` (Next: the frame's end) in a race with the task's timeout.

    Returns the state to enter instead of `body`; without a timeout, `body` itself (the ASL of a
    flow without timeouts is unchanged)."""
    task, builder = frame.task, frame.builder
    if task.timeout is None:
        return body
    state = builder.states.pop(body)
    assert isinstance(state, StateBase) and state.next == frame.end, f"{body} is not a flowable's body state"
    ended = _ended(builder, task.id)
    # Inside the race the body's failures propagate out of its branch; the race's Catch routes them.
    inner = state.model_copy(update={"catch": None, "next": ended, "end": None})
    return _race(frame, {"StartAt": body, "States": {body: dump_state(inner), ended: _ended_state()}})


def timed_block(frame: Flowable, tasks: list[Task]) -> str:
    """The entry of a block of the body (Sequential's tasks, an If's `then`...): without a timeout
    lowered in place (Next: the frame's end); with one, in a branch racing the task's timeout."""
    builder = frame.builder
    if frame.task.timeout is None or not any(not t.disabled for t in tasks):
        return builder.lower_block(tasks, frame.body_scope, frame.end) or frame.end
    branch = builder.branch()
    ended = _ended(builder, frame.task.id)
    branch.states[ended] = FailState(error=BODY_ENDED, cause="the body ended in time")
    # No Catch inside: a failure leaves the branch and the race's Catch routes it.
    entry = branch.lower_block(tasks, Scope(scope_path=frame.scope.scope_path), ended)
    assert entry is not None
    return _race(frame, branch.definition(entry))


def timed_loop(frame: Flowable, build: Callable[[Builder, Scope, str], str]) -> str:
    """A loop of states (WaitFor's body, check and interval) racing the task's timeout: `build(branch,
    scope, done)` lowers the loop into the branch (no Catch inside: `scope` has no error path), going
    to `done` when the loop is over, and returns its entry."""
    builder = frame.builder
    branch = builder.branch()
    ended = _ended(builder, frame.task.id)
    branch.states[ended] = FailState(error=BODY_ENDED, cause="the body ended in time")
    entry = build(branch, Scope(scope_path=frame.scope.scope_path), ended)
    return _race(frame, branch.definition(entry))


def _ended(builder: Builder, task_id: str) -> str:
    return builder.names.claim(f"{task_id}.ended")


def _ended_state() -> dict[str, Any]:
    return dump_state(FailState(error=BODY_ENDED, cause="the body ended in time"))


def _race(frame: Flowable, body: dict[str, Any]) -> str:
    task, builder = frame.task, frame.builder
    assert task.timeout is not None
    seconds = timeout_seconds_of(task.timeout)
    timer = builder.names.claim(f"{task.id}.timer")
    timed_out = builder.names.claim(f"{task.id}.timedOut")
    message = timeout_message(task.id, task.timeout)
    name = builder.names.claim(f"{task.id}.timeout")
    builder.add(
        name,
        ParallelState(
            comment=f"{task.id}: the body races its timeout of {seconds}s",
            branches=[
                body,
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
