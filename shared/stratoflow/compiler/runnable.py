"""Lowering of a runnable task: one call of the task runner, retried as the task's policy says."""

from __future__ import annotations

import math

from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.containers import lower_container
from stratoflow.compiler.retry import retriers
from stratoflow.flow.task import RunnableTask, Task

# Step Functions' own timeout is a backstop a little after the task's: the runner enforces `timeout`
# itself so that it can record the timed-out attempt (a state timed out by Step Functions cannot).
TIMEOUT_BACKSTOP_SECONDS = 10


def timeout_seconds(task: Task) -> int | None:
    if task.timeout is None:
        return None
    return max(1, math.ceil(task.timeout.total_seconds())) + TIMEOUT_BACKSTOP_SECONDS


def lower_runnable(builder: Builder, task: RunnableTask, scope: Scope, next_: str | None) -> str:
    container = task.container()
    if container is not None:  # `taskRunner`: an ECS Fargate container, not the task-runner Lambda
        return lower_container(builder, task, container, scope, next_)
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
