"""Lowering: each task type -> ASL states, dispatched through one table on the canonical type name.

A runnable task is one runner call (below); a flowable task is lowered in the frame of
`stratoflow.compiler.frame` by its family: `structure` (blocks, branches, loops) or `waits` (timers,
`strato resume`, conditions, child executions). A task type may also lower itself (`lower_native`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.frame import SKIP_RULE_VARIABLE, Flowable, timeout_seconds_of
from stratoflow.compiler.retry import retriers
from stratoflow.flow.task import RunnableTask, Task

Lowerer = Callable[[Builder, Any, Scope, "str | None"], str]


def state_machine_placeholder(namespace: str, flow_id: str) -> str:
    """The `${...}` placeholder standing for another flow's state machine ARN."""
    return "${StateMachine." + namespace + "." + flow_id + "}"


def lower_block(builder: Builder, tasks: list[Task], scope: Scope, next_: str | None) -> str | None:
    """Lower tasks that run one after another; returns the entry state (or `next_` when all are disabled)."""
    entry = next_
    for task in reversed([t for t in tasks if not t.disabled]):
        entry = lower_task(builder, task, scope, entry)
    return entry


def lower_task(builder: Builder, task: Task, scope: Scope, next_: str | None) -> str:
    lowerer = LOWERERS.get(type(task).type_name)
    if lowerer is not None:
        return lowerer(builder, task, scope, next_)
    native = getattr(task, "lower_native", None)
    if native is not None:
        result: str = native(builder, scope, next_)
        return result
    if isinstance(task, RunnableTask):
        return lower_runnable(builder, task, scope, next_)
    raise TypeError(f"no lowering for task type {type(task).type_name}")


# Step Functions' own timeout is a backstop a little after the task's: the runner enforces `timeout`
# itself so that it can record the timed-out attempt (a state timed out by Step Functions cannot).
TIMEOUT_BACKSTOP_SECONDS = 10


def timeout_seconds(task: Task) -> int | None:
    if task.timeout is None:
        return None
    return max(1, math.ceil(task.timeout.total_seconds())) + TIMEOUT_BACKSTOP_SECONDS


def lower_runnable(builder: Builder, task: Task, scope: Scope, next_: str | None) -> str:
    return builder.runner_call(
        builder.names.claim(task.id),
        "run",
        task.id,
        scope,
        next_,
        retry=retriers(builder.retry_of(task), task.id, builder.warnings),
        timeout=timeout_seconds(task),
        comment=f"{type(task).type_name}",
    )


# The families lower their children through `lower_block`, so they are imported once it is defined.
from stratoflow.compiler import structure, waits  # noqa: E402

LOWERERS: dict[str, Lowerer] = {
    "Sequential": structure.lower_sequential,
    "WorkingDirectory": structure.lower_sequential,
    "AllowFailure": structure.lower_allow_failure,
    "Parallel": structure.lower_parallel,
    "ForEach": structure.lower_each,
    "EachSequential": structure.lower_each,
    "EachParallel": structure.lower_each,
    "If": structure.lower_if,
    "Switch": structure.lower_switch,
    "Dag": structure.lower_dag,
    "Sleep": waits.lower_sleep,
    "Pause": waits.lower_pause,
    "Subflow": waits.lower_subflow,
    "WaitFor": waits.lower_wait_for,
}

__all__ = [
    "LOWERERS",
    "SKIP_RULE_VARIABLE",
    "Flowable",
    "lower_block",
    "lower_task",
    "state_machine_placeholder",
    "timeout_seconds_of",
]
