"""Kestra's `taskRunner` on script tasks: where a script runs.

- `io.kestra.plugin.core.runner.Process` (the default): a process of the task runner itself — the
  task-runner Lambda in the cloud (15 minutes at most), a local process on a laptop.
- `aws.runner.Fargate`: a container on ECS Fargate, which the state machine starts and waits for
  (`ecs:runTask.sync`), with the `cpu` (vCPU) and `memory` (MiB) it asks for and no 15-minute limit.
  Kestra's `io.kestra.plugin.ee.aws.runner.Batch` is read as the same runner: its `resources.request`
  becomes `cpu`/`memory`; its other properties name infrastructure of its own (a Batch queue, a
  bucket, credentials), which the stack provides instead: each one is refused where it is written.
- `io.kestra.plugin.scripts.runner.docker.Docker`: there is no Docker in Lambda or Fargate's task, so a
  deployment refuses it (naming `aws.runner.Fargate`); a local run runs the script as a process.

Locally every runner is a process of the local engine (`strato run` says so once).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from stratoflow.flow.fields import StrictModel, located_error

PROCESS = "io.kestra.plugin.core.runner.Process"
FARGATE = "aws.runner.Fargate"
KESTRA_BATCH = "io.kestra.plugin.ee.aws.runner.Batch"
DOCKER = "io.kestra.plugin.scripts.runner.docker.Docker"

# Fargate's task sizes: vCPU -> the memory sizes (MiB) it can have.
FARGATE_SIZES: dict[float, range] = {
    0.25: range(512, 2048 + 1, 512),
    0.5: range(1024, 4096 + 1, 1024),
    1: range(2048, 8192 + 1, 1024),
    2: range(4096, 16384 + 1, 1024),
    4: range(8192, 30720 + 1, 1024),
    8: range(16384, 61440 + 1, 4096),
    16: range(32768, 122880 + 1, 8192),
}


def _sizes(cpu: float) -> str:
    sizes = FARGATE_SIZES[cpu]
    return f"{sizes.start}-{sizes.stop - 1} MiB in steps of {sizes.step}"


_PROVIDED_BY_THE_STACK = "the stack provides it (its Fargate cluster, roles and storage): remove it"


class ProcessRunner(StrictModel):
    """Run as a process of the task runner (Lambda in the cloud): what a script does by default."""

    type: Literal["io.kestra.plugin.core.runner.Process"]


class FargateRunner(StrictModel):
    """Run in a container on the stack's ECS Fargate cluster (ARM64), as long as the task's `timeout`."""

    type: Literal["aws.runner.Fargate"]
    cpu: float = Field(default=1, description="vCPU: 0.25, 0.5, 1, 2, 4, 8 or 16")
    memory: int = Field(default=2048, description="MiB, within what Fargate allows for `cpu`")

    @model_validator(mode="after")
    def _fargate_size(self) -> FargateRunner:
        if self.cpu not in FARGATE_SIZES:
            raise located_error(
                ("cpu",), f"cpu {self.cpu:g}: Fargate runs 0.25, 0.5, 1, 2, 4, 8 or 16 vCPU", self.cpu
            )
        if self.memory not in FARGATE_SIZES[self.cpu]:
            raise located_error(
                ("memory",),
                f"memory {self.memory} MiB: with {self.cpu:g} vCPU Fargate allows {_sizes(self.cpu)}",
                self.memory,
            )
        return self

    @property
    def cpu_units(self) -> int:
        """ECS's CPU units (1024 per vCPU)."""
        return int(self.cpu * 1024)


class BatchRequest(StrictModel):
    cpu: float | None = None
    memory: int | None = None


class BatchResources(StrictModel):
    request: BatchRequest = Field(default_factory=BatchRequest)


class KestraBatchRunner(StrictModel):
    """Kestra's AWS Batch runner, run on the stack's Fargate cluster: only `resources.request` applies."""

    # Kestra's other properties, refused where they are written: each with why, and what to do instead.
    refused: ClassVar[dict[str, str]] = {
        **dict.fromkeys(
            (
                "computeEnvironmentArn",
                "jobQueueArn",
                "executionRoleArn",
                "taskRoleArn",
                "bucket",
                "region",
                "accessKeyId",
                "secretKeyId",
                "sessionToken",
                "endpointOverride",
                "sidecarResources",
            ),
            _PROVIDED_BY_THE_STACK,
        ),
        "waitUntilCompletion": "Step Functions waits for the container as long as the task's `timeout`: set that",
        "completionCheckInterval": "Step Functions learns when the container stops, nothing polls: remove it",
        "delete": "nothing is left to delete: a stopped Fargate task keeps no resources; remove it",
        "resume": "a retried attempt starts a new container (the task's `retry`): remove it",
    }

    type: Literal["io.kestra.plugin.ee.aws.runner.Batch"]
    resources: BatchResources = Field(default_factory=BatchResources)

    @model_validator(mode="before")
    @classmethod
    def _refuse_infrastructure(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, reason in cls.refused.items():
                if name in data:
                    raise located_error(
                        (name,),
                        f"'{name}': Stratoflow runs {KESTRA_BATCH} on ECS Fargate ({FARGATE}); {reason}",
                        data[name],
                    )
        return data

    @model_validator(mode="after")
    def _fargate_size(self) -> KestraBatchRunner:
        self.as_fargate()
        return self

    def as_fargate(self) -> FargateRunner:
        request = self.resources.request
        values: dict[str, Any] = {"type": FARGATE}
        if request.cpu is not None:
            values["cpu"] = request.cpu
        if request.memory is not None:
            values["memory"] = request.memory
        try:
            return FargateRunner.model_validate(values)
        except ValueError as error:
            raise located_error(("resources", "request"), _first_message(error), values) from None


class DockerRunner(StrictModel):
    """Kestra's Docker runner: no Docker in the cloud (refused at deployment), a process locally."""

    model_config = {**StrictModel.model_config, "extra": "allow"}

    type: Literal["io.kestra.plugin.scripts.runner.docker.Docker"]


def _first_message(error: ValueError) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0]["msg"]).removeprefix("Value error, ")
    return str(error)


def _runner_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
    kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) else None


TaskRunner = Annotated[
    Annotated[ProcessRunner, Tag(PROCESS)]
    | Annotated[FargateRunner, Tag(FARGATE)]
    | Annotated[KestraBatchRunner, Tag(KESTRA_BATCH)]
    | Annotated[DockerRunner, Tag(DOCKER)],
    Discriminator(
        _runner_type,
        custom_error_type="task_runner",
        custom_error_message=f"taskRunner type must be one of {PROCESS}, {FARGATE}, {KESTRA_BATCH}, {DOCKER}",
    ),
]


def short_runner_names(value: object) -> object:
    """`Process` and `Fargate` alone read as the full type names."""
    if isinstance(value, dict) and value.get("type") in {"Process", "Fargate"}:
        return {**value, "type": PROCESS if value["type"] == "Process" else FARGATE}
    return value


def container_of(runner: object) -> FargateRunner | None:
    """The Fargate container a task with this runner runs in on AWS, or None (the task-runner Lambda)."""
    if isinstance(runner, FargateRunner):
        return runner
    if isinstance(runner, KestraBatchRunner):
        return runner.as_fargate()
    return None


def uses_docker(task: object) -> bool:
    """A task whose `taskRunner` is Kestra's Docker runner (which no deployment runs)."""
    return isinstance(getattr(task, "task_runner", None), DockerRunner)
