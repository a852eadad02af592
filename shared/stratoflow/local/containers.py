"""`arn:aws:states:::ecs:runTask.sync` on the local engine: a container-run task (`taskRunner:
aws.runner.Fargate`) runs as a process of this machine, through the same entrypoint the container
runs (`execution.runner.container`), and answers as Step Functions does once the ECS task stopped:
its description on success, `States.TaskFailed` with the description as Cause on failure.
"""

from __future__ import annotations

from typing import Any

from stratoflow.engine import TaskCall, TaskError, UnknownResource
from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.runner.container import (
    INVALID_PARAMETER,
    TASK_FAILED,
    failure_cause,
    overridden_environment,
    override_problem,
    run_container,
    stopped_task,
)
from stratoflow.runner_call import TASK_ID_VARIABLE

RUN_CONTAINER = "arn:aws:states:::ecs:runTask.sync"


class LocalContainers:
    """Runs each container-run task in this process, as its container would in the cloud."""

    def __init__(self, runner: TaskRunner):
        self.runner = runner

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        environment = overridden_environment(parameters)
        if resource != RUN_CONTAINER or TASK_ID_VARIABLE not in environment:
            # An `aws.ecs.RunTask` of the user's: its image exists only in their account.
            raise UnknownResource(
                f"no handler for the resource '{resource}' here: the local engine runs the containers of "
                "script tasks with a Fargate taskRunner, not other ECS tasks (they need a deployed stack)"
            )
        refused = override_problem(parameters)
        if refused is not None:  # RunTask refused: no container started, as on AWS
            raise TaskError(INVALID_PARAMETER, refused)
        outcome = run_container(self.runner, environment)
        description = stopped_task(parameters, outcome)
        if outcome.code != 0:
            raise TaskError(TASK_FAILED, failure_cause(description))
        return description
