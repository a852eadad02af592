"""What an ended ECS task or Batch job says about itself, reduced to the outputs of its task run.

Step Functions hands the `.sync` integrations' result over as the service's description of the task
or job, in PascalCase (`TaskArn`, `StopCode`); the SDKs and the services' own docs say camelCase
(`taskArn`). Both are read. A failed job's description comes as the JSON Cause of
`States.TaskFailed`, and is read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Outputs are a summary, not the description: long texts are cut and long container lists shortened.
MAX_TEXT = 1000
MAX_CONTAINERS = 20


def _field(data: Mapping[str, Any], name: str) -> Any:
    """`name` of a service description, in camelCase or PascalCase."""
    if name in data:
        return data[name]
    return data.get(name[:1].upper() + name[1:])


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _code(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def cause_document(error: Any) -> Mapping[str, Any] | None:
    """The service description a failed `.sync` state carries as its JSON Cause; None when the
    Cause is something else (a timeout has none, a Lambda error has `errorMessage`)."""
    if not isinstance(error, Mapping):
        return None
    try:
        document = json.loads(error.get("Cause") or "")
    except (TypeError, ValueError):
        return None
    return document if isinstance(document, Mapping) and "errorMessage" not in document else None


def ecs_task_outputs(task: Mapping[str, Any]) -> dict[str, Any]:
    containers = _field(task, "containers")
    listed = containers[:MAX_CONTAINERS] if isinstance(containers, list) else []
    return {
        "taskArn": _text(_field(task, "taskArn")),
        "lastStatus": _text(_field(task, "lastStatus")),
        "stopCode": _text(_field(task, "stopCode")),
        "stoppedReason": _text(_field(task, "stoppedReason")),
        "containers": [
            {
                "name": _text(_field(container, "name")),
                "exitCode": _code(_field(container, "exitCode")),
                "reason": _text(_field(container, "reason")),
            }
            for container in map(_mapping, listed)
        ],
    }


def ecs_failure_summary(outputs: Mapping[str, Any]) -> str:
    """`ECS task STOPPED (EssentialContainerExited): <reason>; container app exit code 1`."""
    summary = f"ECS task {outputs['lastStatus'] or 'failed'}"
    if outputs["stopCode"]:
        summary += f" ({outputs['stopCode']})"
    if outputs["stoppedReason"]:
        summary += f": {outputs['stoppedReason']}"
    for container in outputs["containers"]:
        if container["exitCode"] in (None, 0) and not container["reason"]:
            continue  # the containers that ended well say nothing about the failure
        summary += f"; container {container['name']}"
        if container["exitCode"] is not None:
            summary += f" exit code {container['exitCode']}"
        if container["reason"]:
            summary += f" ({container['reason']})"
    return summary


def batch_job_outputs(job: Mapping[str, Any]) -> dict[str, Any]:
    exit_code = _code(_field(_mapping(_field(job, "container")), "exitCode"))
    attempts = _field(job, "attempts")
    if exit_code is None and isinstance(attempts, list) and attempts:
        exit_code = _code(_field(_mapping(_field(_mapping(attempts[-1]), "container")), "exitCode"))
    return {
        "jobId": _text(_field(job, "jobId")),
        "jobName": _text(_field(job, "jobName")),
        "status": _text(_field(job, "status")),
        "statusReason": _text(_field(job, "statusReason")),
        "exitCode": exit_code,
    }


def batch_failure_summary(outputs: Mapping[str, Any], name: str) -> str:
    """`Batch job crunch FAILED: <reason> (exit code 3)`."""
    summary = f"Batch job {outputs['jobName'] or name} {outputs['status'] or 'failed'}"
    if outputs["statusReason"]:
        summary += f": {outputs['statusReason']}"
    if outputs["exitCode"] is not None:
        summary += f" (exit code {outputs['exitCode']})"
    return summary
