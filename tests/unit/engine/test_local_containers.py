"""`ecs:runTask.sync` on the local engine: what it refuses before any container starts, and the
stopped ECS task it answers with (the container process itself: tests/integration/scripts)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, cast

import pytest

from stratoflow.engine import TaskCall, TaskError, UnknownResource, VirtualClock
from stratoflow.local.containers import RUN_CONTAINER, LocalContainers
from stratoflow.local.ecs_tasks import ContainerExit, override_problem, stopped_task, task_role
from stratoflow.tasks.aws.job_results import ecs_failure_summary, ecs_task_outputs

PARAMETERS = {
    "Cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/Stratoflow-Containers",
    "TaskDefinition": "${ContainerTaskDefinition}",
    "LaunchType": "FARGATE",
    "Overrides": {
        "TaskRoleArn": "arn:aws:iam::123456789012:role/stratoflow/Stratoflow-flow-abc-s",
        "Cpu": "1024",
        "Memory": "2048",
        "ContainerOverrides": [
            {
                "Name": "sandbox",
                "Environment": [
                    {"Name": "STRATOFLOW_JOB_BUCKET", "Value": "local"},
                    {"Name": "STRATOFLOW_JOB_KEY", "Value": "n/f/executions/e1/t1/sandbox/1/job.json"},
                ],
            }
        ],
    },
}


def _call() -> TaskCall:
    return TaskCall("e1", "e1", "crunch.run", 0, None, threading.Event(), VirtualClock())


def _with_environment(value: str) -> dict[str, Any]:
    parameters = json.loads(json.dumps(PARAMETERS))
    parameters["Overrides"]["ContainerOverrides"][0]["Environment"].append({"Name": "EXTRA", "Value": value})
    return cast(dict[str, Any], parameters)


def _overrides_length(parameters: dict[str, Any]) -> int:
    overrides = parameters["Overrides"]["ContainerOverrides"]
    return len(json.dumps(overrides, separators=(",", ":"), ensure_ascii=False))


def test_a_stopped_container_is_the_ecs_task_as_step_functions_hands_it_over() -> None:
    # Given a container that exited 0, and one that exited 1
    # When they are described
    ended = stopped_task(PARAMETERS, ContainerExit(0))
    failed = ecs_task_outputs(stopped_task(PARAMETERS, ContainerExit(1, "the script sandbox failed")))

    # Then the description is the stopped task's, with its size, and a failure names the exit code
    assert ended["LastStatus"] == "STOPPED" and ended["StopCode"] == "EssentialContainerExited"
    assert ended["Cpu"] == "1024" and str(ended["TaskArn"]).startswith("arn:aws:ecs:eu-west-1:123456789012:")
    assert "container sandbox exit code 1 (the script sandbox failed)" in ecs_failure_summary(failed)


def test_a_container_stopped_by_step_functions_says_so() -> None:
    # Given a container killed because the state machine stopped waiting for it
    # When it is described
    stopped = stopped_task(PARAMETERS, ContainerExit(137, "the task was stopped (StopTask)", stopped=True))

    # Then it reads as a task stopped from outside
    assert stopped["StopCode"] == "UserInitiated"
    assert task_role(PARAMETERS) == PARAMETERS["Overrides"]["TaskRoleArn"]  # type: ignore[index]


def test_overrides_over_ecs_limit_are_refused_before_any_container_starts(tmp_path: Path) -> None:
    # Given overrides of more than ECS's 8,192 characters
    containers = LocalContainers(tmp_path)
    parameters = _with_environment("x" * 9000)

    # When the state runs
    with pytest.raises(TaskError) as raised:
        containers.invoke(RUN_CONTAINER, parameters, _call())

    # Then RunTask is refused as ECS refuses it, naming the size, and nothing ran
    assert raised.value.error == "ECS.InvalidParameterException"
    size = _overrides_length(parameters)
    assert raised.value.cause == f"Container Overrides length must be at most 8192 ({size} characters)"
    assert list(tmp_path.iterdir()) == []


def test_overrides_at_ecs_limit_are_counted_in_characters() -> None:
    # Given non-ASCII overrides of exactly 8,192 characters (more in bytes)
    padding = 8192 - _overrides_length(_with_environment(""))
    parameters = _with_environment("é" * padding)
    assert _overrides_length(parameters) == 8192

    # When ECS's limit is checked
    # Then they pass
    assert override_problem(parameters) is None
    assert override_problem(_with_environment("é" * (padding + 1))) is not None


def test_a_users_own_ecs_task_is_not_run_here(tmp_path: Path) -> None:
    # Given an `aws.ecs.RunTask` of the user's (no job in its environment)
    parameters = {"Cluster": "c", "TaskDefinition": "theirs", "Overrides": {"ContainerOverrides": []}}

    # When the local engine meets it
    # Then it says it needs a deployed stack
    with pytest.raises(UnknownResource, match="need a deployed stack"):
        LocalContainers(tmp_path).invoke(RUN_CONTAINER, parameters, _call())
