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


def _with_scope(scope: str) -> dict[str, Any]:
    """PARAMETERS whose loop scope (the run call's STRATOFLOW_SCOPE) is `scope`."""
    parameters = json.loads(json.dumps(PARAMETERS))
    parameters["Overrides"]["ContainerOverrides"][0]["Environment"][2]["Value"] = scope
    return cast(dict[str, Any], parameters)


def _overrides_length(parameters: dict[str, Any]) -> int:
    overrides = parameters["Overrides"]["ContainerOverrides"]
    return len(json.dumps(overrides, separators=(",", ":"), ensure_ascii=False))


def test_overrides_over_ecs_limit_are_refused_before_any_container_starts() -> None:
    # Given a loop value that takes the run call's environment over ECS's 8,192 characters
    runner = FakeRunner()
    containers = LocalContainers(cast(TaskRunner, runner))
    parameters = _with_scope(
        json.dumps({"taskId": "each", "value": "x" * 9000, "iteration": 0, "parent": None})
    )

    # When the state runs
    with pytest.raises(TaskError) as raised:
        containers.invoke(RUN_CONTAINER, parameters, _call())

    # Then RunTask is refused as ECS refuses it, naming the task and the size, and nothing ran
    assert raised.value.error == "ECS.InvalidParameterException"
    size = _overrides_length(parameters)
    assert raised.value.cause == (
        f"Container Overrides length must be at most 8192 (task 'crunch' run in a container: {size} "
        "characters, mostly the values of the loops around it; loop over smaller values, such as keys or "
        "file URIs, and read the data in the task)"
    )
    assert runner.calls == []


def test_overrides_at_ecs_limit_counted_in_characters_start_the_container() -> None:
    # Given a non-ASCII loop value that takes the overrides to exactly 8,192 characters (more in bytes)
    runner = FakeRunner()
    containers = LocalContainers(cast(TaskRunner, runner))

    def scope(value: str) -> str:
        return json.dumps(
            {"taskId": "each", "value": value, "iteration": 0, "parent": None}, ensure_ascii=False
        )

    padding = 8192 - _overrides_length(_with_scope(scope("")))
    parameters = _with_scope(scope("é" * padding))
    assert _overrides_length(parameters) == 8192

    # When the state runs
    task = containers.invoke(RUN_CONTAINER, parameters, _call())

    # Then the container ran the task with that value
    [call] = runner.calls
    assert call.scope is not None and call.scope.value == "é" * padding
    assert task["Containers"][0]["ExitCode"] == 0
