"""`arn:aws:states:::ecs:runTask.sync` on the local engine: a container-run task (`taskRunner:
aws.runner.Fargate`) runs as a process of this machine, through the same entrypoint the container
runs (`execution.runner.container`), and answers as Step Functions does once the ECS task stopped:
its description on success, `States.TaskFailed` with the description as Cause on failure.
"""

from __future__ import annotations

from typing import Any

from stratoflow.engine import TaskCall, TaskError
from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.runner.container import (
    TASK_FAILED,
    failure_cause,
    overridden_environment,
    run_container,
    stopped_task,
)

RUN_CONTAINER = "arn:aws:states:::ecs:runTask.sync"


class LocalContainers:
    """Runs each container-run task in this process, as its container would in the cloud."""

    def __init__(self, runner: TaskRunner):
        self.runner = runner

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        if resource != RUN_CONTAINER:
            raise TaskError("States.Runtime", f"only {RUN_CONTAINER} runs locally, not {resource}")
        outcome = run_container(self.runner, overridden_environment(parameters))
        description = stopped_task(parameters, outcome)
        if outcome.code != 0:
            raise TaskError(TASK_FAILED, failure_cause(description))
        return description
