"""`ecs:runTask.sync` on the local engine answers as Step Functions does once the ECS task stopped."""

from __future__ import annotations

import json
import threading
from typing import Any, cast

import pytest

from stratoflow.engine import TaskCall, TaskError, VirtualClock
from stratoflow.execution.runner import TaskRunner
from stratoflow.local.containers import RUN_CONTAINER, LocalContainers
from stratoflow.runner_call import RunCall
from stratoflow.tasks.aws.job_results import ecs_failure_summary, ecs_task_outputs

PARAMETERS = {
    "Cluster": "${ContainerClusterArn}",
    "TaskDefinition": "${ContainerTaskDefinition}",
    "LaunchType": "FARGATE",
    "Overrides": {
        "Cpu": "1024",
        "Memory": "2048",
        "ContainerOverrides": [
            {
                "Name": "runner",
                "Environment": [
                    {"Name": "STRATOFLOW_TASK_ID", "Value": "crunch"},
                    {
                        "Name": "STRATOFLOW_EXECUTION",
                        "Value": '{"id":"e1","namespace":"n","flowId":"f","revision":1}',
                    },
                    {"Name": "STRATOFLOW_SCOPE", "Value": "null"},
                ],
            }
        ],
    },
}


class FakeRunner:
    """Records the calls it answers; fails them when told to."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[Any] = []
        self.error = error

    def handle(self, call: Any) -> dict[str, Any]:
        self.calls.append(call)
        if self.error is not None:
            raise self.error
        return {"state": "SUCCESS"}


def _call() -> TaskCall:
    return TaskCall("e1", "e1", "crunch", 0, None, threading.Event(), VirtualClock())


def test_a_container_that_ran_the_task_answers_the_stopped_ecs_task() -> None:
    # Given the local containers with a runner that succeeds
    runner = FakeRunner()
    containers = LocalContainers(cast(TaskRunner, runner))

    # When the compiled state's resolved parameters are run
    task = containers.invoke(RUN_CONTAINER, PARAMETERS, _call())

    # Then the runner got the `run` call of the environment, and the answer is the stopped task
    [call] = runner.calls
    assert isinstance(call, RunCall) and (call.task_id, call.execution.id) == ("crunch", "e1")
    assert task["LastStatus"] == "STOPPED" and task["StopCode"] == "EssentialContainerExited"
    assert task["Containers"][0]["ExitCode"] == 0 and task["Cpu"] == "1024"


def test_a_failed_task_is_states_task_failed_with_the_stopped_task_as_cause() -> None:
    # Given a runner whose task fails
    containers = LocalContainers(cast(TaskRunner, FakeRunner(RuntimeError("exit code 3"))))

    # When the state runs
    with pytest.raises(TaskError) as raised:
        containers.invoke(RUN_CONTAINER, PARAMETERS, _call())

    # Then it fails as Step Functions fails a .sync ECS task: States.TaskFailed, the description as Cause
    assert raised.value.error == "States.TaskFailed"
    outputs = ecs_task_outputs(json.loads(raised.value.cause or ""))
    assert outputs["containers"][0]["exitCode"] == 1
    assert "container runner exit code 1 (RuntimeError: exit code 3)" in ecs_failure_summary(outputs)
