"""A container-run script task's ECS task, where no ECS runs it: on a laptop (`local.containers`) and in
the simulated cloud (`cloudsim.containers`). The container is the same program as on Fargate
(`cloud.runtime.container_sandbox`), run as a process of this machine in its own process group; it
is stopped as ECS stops a task (SIGTERM, which kills the command's group; SIGKILL after a grace) when
Step Functions would stop it: the execution stopped, the state abandoned (a flowable's timeout, a
failed branch beside it). The simulated cloud does not model that stop (moto abandons no state). The answers are what `ecs:runTask.sync` returns once
the task stopped: its description, or `States.TaskFailed` with the description as Cause.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue

from stratoflow.runner_call import CONTAINER_NAME

MAX_OVERRIDE_CHARACTERS = 8192
"""ECS refuses a RunTask whose container overrides are longer."""
INVALID_PARAMETER = "ECS.InvalidParameterException"
TASK_FAILED = "States.TaskFailed"
"""The error Step Functions raises for a `.sync` ECS task whose essential container exited non-zero."""
STOPPED_REASON = "Essential container in task exited"
ENTRYPOINT = "stratoflow.cloud.runtime.container_sandbox"
# What a container process takes of this one's environment (a stock image has a PATH and a locale).
PASSED = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "STRATOFLOW_WARM_SCRIPTS", "STRATOFLOW_DEPENDENCY_CACHE")
# How often a running container checks whether it is still wanted.
POLL_SECONDS = 0.2
# StopTask's grace between SIGTERM and SIGKILL (ECS's default stop timeout is 30 s; a local process
# that has killed its command ends well within this).
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class ContainerExit:
    """How the container ended: its exit code, and why it failed (None when it did not)."""

    code: int
    error: str | None = None
    stopped: bool = False  # killed because Step Functions would have stopped it


def run_sandbox_process(
    environment: Mapping[str, str], cancelled: threading.Event | None = None
) -> ContainerExit:
    """Run the container's program with `environment` (and the few variables of `PASSED`) until it
    exits, or until `cancelled` is set: then its whole process group is killed, as ECS stops a task."""
    env = {name: os.environ[name] for name in PASSED if name in os.environ}
    env.update(environment)
    process = subprocess.Popen(
        [sys.executable, "-m", ENTRYPOINT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read() if process.stderr else ""))
    reader.start()
    stopped = False
    while True:
        try:
            code = process.wait(POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            if cancelled is not None and cancelled.is_set() and not stopped:
                stopped = True
                _stop(process)
    reader.join()
    if stopped:
        return ContainerExit(code if code > 0 else 137, "the task was stopped (StopTask)", stopped=True)
    if code != 0:
        return ContainerExit(code, (errors[0] if errors else "").strip()[-500:] or f"exit code {code}")
    return ContainerExit(0)


def _stop(process: subprocess.Popen[str]) -> None:
    """As ECS stops a task: SIGTERM to the container's first process, SIGKILL to all after a grace."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def overridden_environment(parameters: object) -> dict[str, str]:
    """The environment `ecs:runTask` Parameters give the sandbox container (its ContainerOverrides)."""
    for container in _list(_mapping(_mapping(parameters).get("Overrides")).get("ContainerOverrides")):
        if _mapping(container).get("Name") == CONTAINER_NAME:
            variables = [_mapping(item) for item in _list(_mapping(container).get("Environment"))]
            return {str(item.get("Name")): str(item.get("Value")) for item in variables}
    return {}


def task_role(parameters: object) -> str | None:
    """The task role RunTask's overrides give the container (the flow's sandbox role)."""
    role = _mapping(_mapping(parameters).get("Overrides")).get("TaskRoleArn")
    return role if isinstance(role, str) else None


def override_problem(parameters: object) -> str | None:
    """Why ECS would refuse to start the container, or None: its overrides over ECS's limit."""
    overrides = _mapping(_mapping(parameters).get("Overrides")).get("ContainerOverrides")
    # Characters, JSON formatting included, as ECS counts them (not bytes, not escapes).
    size = len(json.dumps(overrides, separators=(",", ":"), ensure_ascii=False))
    if size <= MAX_OVERRIDE_CHARACTERS:
        return None
    return f"Container Overrides length must be at most {MAX_OVERRIDE_CHARACTERS} ({size} characters)"


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
        "StopCode": "UserInitiated" if outcome.stopped else "EssentialContainerExited",
        "StoppedReason": "Task stopped by Step Functions" if outcome.stopped else STOPPED_REASON,
        "Containers": [container],
    }


def failure_cause(description: Mapping[str, JsonValue]) -> str:
    """The Cause of the `States.TaskFailed` a stopped task with a failed container raises."""
    return json.dumps(description)
