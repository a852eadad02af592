"""A container-run task (`taskRunner: aws.runner.Fargate`): the entrypoint's work, and what Step
Functions' `ecs:runTask.sync` returns once the container stopped.

The container's entrypoint (`functions/container_runner`, and the local and simulated engines in
process) reads the `run` call from its environment (`runner_call.container_call`) and hands it to
the same `TaskRunner` the task-runner Lambda uses: task run, attempts, logs, outputs (over 32 KiB to
storage) and output files are recorded the same way. The task's failure is the container's exit
code 1; Step Functions then fails the state with `States.TaskFailed`, whose Cause is the ECS task as
it stopped (`stopped_task`), and the compiled Retry/Catch route it.
"""

from __future__ import annotations

import ctypes
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from stratoflow.execution.runner.runner import TaskRunner
from stratoflow.runner_call import CONTAINER_NAME, TASK_ID_VARIABLE, container_call

PR_SET_DUMPABLE = 4
MAX_OVERRIDE_CHARACTERS = 8192
"""ECS refuses a RunTask whose container overrides (the run call's environment) are longer."""
INVALID_PARAMETER = "ECS.InvalidParameterException"
TASK_FAILED = "States.TaskFailed"
"""The error Step Functions raises for a `.sync` ECS task whose essential container exited non-zero."""
STOPPED_REASON = "Essential container in task exited"


@dataclass(frozen=True)
class ContainerExit:
    """How the entrypoint ended: the process's exit code, and why it failed (None when it did not)."""

    code: int
    error: str | None = None


def hide_from_scripts() -> bool:
    """Make this process non-dumpable, so that the scripts it starts, which run as the same user,
    cannot read its `/proc/<pid>/environ` (where ECS puts the task role's credentials URI,
    `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`) or its memory: the kernel then owns those files, and a
    script holds only its flow's credentials. False where prctl is missing (not Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    if not hasattr(libc, "prctl"):
        return False
    return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0


def run_container(runner: TaskRunner, environment: Mapping[str, str]) -> ContainerExit:
    """Run the task the environment names, as the task-runner Lambda runs a `run` call."""
    try:
        runner.handle(container_call(environment))
    except Exception as error:  # the container's one job failed: its exit code says so
        return ContainerExit(1, f"{type(error).__name__}: {error}")
    return ContainerExit(0)


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def overridden_environment(parameters: object) -> dict[str, str]:
    """The environment `ecs:runTask` Parameters give the runner container (its ContainerOverrides)."""
    for container in _list(_mapping(_mapping(parameters).get("Overrides")).get("ContainerOverrides")):
        if _mapping(container).get("Name") == CONTAINER_NAME:
            variables = [_mapping(item) for item in _list(_mapping(container).get("Environment"))]
            return {str(item.get("Name")): str(item.get("Value")) for item in variables}
    return {}


def override_problem(parameters: object) -> str | None:
    """Why ECS would refuse to start the container, or None: its overrides (the run call's
    environment) over ECS's limit, when the values of the loops around the task take several KiB."""
    overrides = _mapping(_mapping(parameters).get("Overrides")).get("ContainerOverrides")
    # Characters, JSON formatting included, as ECS counts them (not bytes, not escapes).
    size = len(json.dumps(overrides, separators=(",", ":"), ensure_ascii=False))
    if size <= MAX_OVERRIDE_CHARACTERS:
        return None
    task_id = overridden_environment(parameters).get(TASK_ID_VARIABLE, "?")
    return (
        f"Container Overrides length must be at most {MAX_OVERRIDE_CHARACTERS} (task '{task_id}' run in a "
        f"container: {size} characters, mostly the values of the loops around it; loop over smaller "
        "values, such as keys or file URIs, and read the data in the task)"
    )


def stopped_task(parameters: object, outcome: ContainerExit) -> dict[str, JsonValue]:
    """The ECS task as `ecs:runTask.sync` returns it (PascalCase, as Step Functions writes it) once
    its container stopped."""
    given = _mapping(parameters)
    cluster = str(given.get("Cluster", "default"))
    parts = cluster.split(":")
    region, account = (
        (parts[3], parts[4]) if cluster.startswith("arn:") and len(parts) > 5 else ("local", "0" * 12)
    )
    task_arn = f"arn:aws:ecs:{region}:{account}:task/{cluster.rsplit('/', 1)[-1]}/{uuid.uuid4().hex}"
    overrides = _mapping(given.get("Overrides"))
    container: dict[str, JsonValue] = {
        "Name": CONTAINER_NAME,
        "ExitCode": outcome.code,
        "LastStatus": "STOPPED",
        "TaskArn": task_arn,
    }
    if outcome.error is not None:
        container["Reason"] = outcome.error[:255]
    return {
        "TaskArn": task_arn,
        "ClusterArn": cluster,
        "TaskDefinitionArn": str(given.get("TaskDefinition", "")),
        "LaunchType": str(given.get("LaunchType", "FARGATE")),
        "Cpu": str(overrides.get("Cpu", "")),
        "Memory": str(overrides.get("Memory", "")),
        "LastStatus": "STOPPED",
        "DesiredStatus": "STOPPED",
        "StopCode": "EssentialContainerExited",
        "StoppedReason": STOPPED_REASON,
        "Containers": [container],
    }


def failure_cause(description: Mapping[str, JsonValue]) -> str:
    """The Cause of the `States.TaskFailed` a stopped task with a failed container raises."""
    return json.dumps(description)
