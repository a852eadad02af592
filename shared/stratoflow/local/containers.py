"""`arn:aws:states:::ecs:runTask.sync` on the local engine: a container-run script task's container
(`taskRunner: aws.runner.Fargate`) runs as a process of this machine, the same program as on Fargate
(`cloud.runtime.container_sandbox`), with the local blob store's folder standing for the data bucket.
It answers as Step Functions does once the ECS task stopped: its description when the container
exited 0, else `States.TaskFailed` with the description as Cause. Should the engine stop waiting
(the execution killed, the state timed out, a failed branch beside it), the process group is killed,
as Step Functions stops the ECS task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stratoflow.engine import TaskCall, TaskError, UnknownResource
from stratoflow.local.ecs_tasks import (
    INVALID_PARAMETER,
    TASK_FAILED,
    failure_cause,
    overridden_environment,
    override_problem,
    run_sandbox_process,
    stopped_task,
)
from stratoflow.runner_call import JOB_FOLDER_VARIABLE, JOB_KEY_VARIABLE

RUN_CONTAINER = "arn:aws:states:::ecs:runTask.sync"


class LocalContainers:
    """Runs each container-run task's container as a local process, over the local blob store's folder."""

    def __init__(self, root: Path):
        self.root = root

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        environment = overridden_environment(parameters)
        if resource != RUN_CONTAINER or JOB_KEY_VARIABLE not in environment:
            # An `aws.ecs.RunTask` of the user's: its image exists only in their account.
            raise UnknownResource(
                f"no handler for the resource '{resource}' here: the local engine runs the containers of "
                "script tasks with a Fargate taskRunner, not other ECS tasks (they need a deployed stack)"
            )
        refused = override_problem(parameters)
        if refused is not None:  # RunTask refused: no container started, as on AWS
            raise TaskError(INVALID_PARAMETER, refused)
        outcome = run_sandbox_process(
            {JOB_KEY_VARIABLE: environment[JOB_KEY_VARIABLE], JOB_FOLDER_VARIABLE: str(self.root)},
            call.cancelled,
        )
        description = stopped_task(parameters, outcome)
        if outcome.code != 0:
            raise TaskError(TASK_FAILED, failure_cause(description))
        return description
