"""Work longer than Lambda's 15 minutes: `aws.ecs.RunTask` and `aws.batch.SubmitJob` compile to
Step Functions' `.sync` service integrations, so the state machine itself starts the job and waits
for it, at no cost while it waits.

Their properties are part of the compiled definition, so they must be static: an expression is a
load-time error on the property that holds it. The task run is recorded by runner calls around the
native state, as flowable tasks are (`<id>` start, `<id>.run` the integration, `<id>.end`).

The service's result (the ECS task or Batch job as it ended) goes to `$.eval.service`, where the end
call reads it and records a bounded subset as the task's outputs; the end call's own small result then
replaces it, so the description is not carried further. A failed job is routed by Retry/Catch as
`States.TaskFailed` whose Cause is the same description: the failure call records it the same way,
with a message that names the stop reason and exit code.

The local engine has no ECS or Batch: a flow using them runs on a deployed stack only (locally the
execution fails with States.Runtime, "no handler for the resource").
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from stratoflow.flow.fields import StrictModel
from stratoflow.flow.registry import register
from stratoflow.flow.task import Task
from stratoflow.tasks.aws.base import is_static, pattern, statement
from stratoflow.tasks.aws.job_results import (
    batch_failure_summary,
    batch_job_outputs,
    cause_document,
    ecs_failure_summary,
    ecs_task_outputs,
)

# Context the container gets from the execution's payload, whatever the flow sets.
EXECUTION_ENVIRONMENT = [
    {"Name": "STRATOFLOW_EXECUTION_ID", "Value.$": "$.execution.id"},
    {"Name": "STRATOFLOW_NAMESPACE", "Value.$": "$.execution.namespace"},
    {"Name": "STRATOFLOW_FLOW_ID", "Value.$": "$.execution.flowId"},
]


def _holds_expression(value: Any) -> bool:
    if isinstance(value, str):
        return not is_static(value)
    if isinstance(value, dict):
        return any(_holds_expression(k) or _holds_expression(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_expression(item) for item in value)
    return False


def _environment(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in values.items()]


def _events_rule(name: str) -> dict[str, list[str]]:
    # `.sync` integrations learn that the job ended through a managed EventBridge rule.
    return statement(
        ["events:PutTargets", "events:PutRule", "events:DescribeRule"], [f"arn:aws:events:*:*:rule/{name}"]
    )


class NativeAwsTask(Task):
    """A task compiled to one Step Functions service integration, between runner start/end calls
    (`stratoflow.compiler.services`)."""

    compiled_as: ClassVar[str] = "service_integration"
    resource: ClassVar[str] = ""

    @field_validator("*", mode="before")
    @classmethod
    def _static(cls, value: Any, info: ValidationInfo) -> Any:
        # The common properties (runIf, timeout, ...) are read by the runner or the compiler, not
        # sent to the service: only the task's own properties must be static.
        if info.field_name not in Task.model_fields and _holds_expression(value):
            raise PydanticCustomError(
                "static",
                f"{cls.type_name} compiles to a native Step Functions state: its properties "
                "cannot use expressions ({{ }} or {% %})",
            )
        return value

    @abstractmethod
    def service_parameters(self) -> dict[str, Any]:
        """The integration's `Parameters`."""

    @abstractmethod
    def service_outputs(self, result: Mapping[str, Any]) -> dict[str, Any]:
        """The outputs recorded from the service's description of the ended job (every declared
        output, null when the description lacks it)."""

    @abstractmethod
    def failure_summary(self, outputs: Mapping[str, Any]) -> str:
        """Why the job failed, from its outputs: the stop reason and the exit code."""

    def service_failure(self, error: Any) -> tuple[dict[str, Any], str] | None:
        """(outputs, message) of a failed `.sync` state whose Cause is the service's description;
        None for another failure (a timeout, a refused call), whose Cause is not one."""
        document = cause_document(error)
        if document is None:
            return None
        outputs = self.service_outputs(document)
        if not any(outputs.values()):  # a JSON Cause, but not a description of this job
            return None
        name = error.get("Error") or "States.TaskFailed"
        return outputs, f"{name}: {self.failure_summary(outputs)}"


class ContainerOverride(StrictModel):
    """What to change in one container of the task definition."""

    name: str
    command: list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    cpu: int | None = Field(default=None, ge=1)
    memory: int | None = Field(default=None, ge=1)


@register
class EcsRunTask(NativeAwsTask):
    """Run an ECS task (Fargate by default) and wait for it to stop (`ecs:runTask.sync`). Needs a
    deployed stack: the local engine has no ECS."""

    type_name: ClassVar[str] = "aws.ecs.RunTask"
    output_fields: ClassVar[dict[str, str]] = {
        "taskArn": "the ECS task's ARN",
        "lastStatus": "its last status (`STOPPED` once the state ends)",
        "stopCode": "why it stopped (`EssentialContainerExited`, `TaskFailedToStart`, ...)",
        "stoppedReason": "ECS's words for why it stopped",
        "containers": "`[{name, exitCode, reason}]`, one per container",
    }
    resource: ClassVar[str] = "arn:aws:states:::ecs:runTask.sync"

    cluster: str
    task_definition: str
    launch_type: Literal["FARGATE", "EC2", "EXTERNAL"] = "FARGATE"
    platform_version: str | None = None
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    assign_public_ip: bool = False
    container_overrides: list[ContainerOverride] = Field(default_factory=list)
    # Roles of the task definition (task role, execution role): they narrow iam:PassRole.
    pass_roles: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fargate_network(self) -> EcsRunTask:
        if self.launch_type == "FARGATE" and not self.subnets:
            raise ValueError("a FARGATE task needs 'subnets' (its awsvpc network)")
        return self

    def service_parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "Cluster": self.cluster,
            "TaskDefinition": self.task_definition,
            "LaunchType": self.launch_type,
        }
        if self.platform_version is not None:
            parameters["PlatformVersion"] = self.platform_version
        if self.subnets:
            network: dict[str, Any] = {
                "Subnets": self.subnets,
                "AssignPublicIp": "ENABLED" if self.assign_public_ip else "DISABLED",
            }
            if self.security_groups:
                network["SecurityGroups"] = self.security_groups
            parameters["NetworkConfiguration"] = {"AwsvpcConfiguration": network}
        if self.container_overrides:
            parameters["Overrides"] = {
                "ContainerOverrides": [self._override(c) for c in self.container_overrides]
            }
        return parameters

    def service_outputs(self, result: Mapping[str, Any]) -> dict[str, Any]:
        return ecs_task_outputs(result)

    def failure_summary(self, outputs: Mapping[str, Any]) -> str:
        return ecs_failure_summary(outputs)

    @staticmethod
    def _override(container: ContainerOverride) -> dict[str, Any]:
        override: dict[str, Any] = {
            "Name": container.name,
            "Environment": [*_environment(container.environment), *EXECUTION_ENVIRONMENT],
        }
        if container.command is not None:
            override["Command"] = container.command
        if container.cpu is not None:
            override["Cpu"] = container.cpu
        if container.memory is not None:
            override["Memory"] = container.memory
        return override

    def iam_statements(self) -> list[dict[str, list[str]]]:
        definition = self.task_definition
        if not definition.startswith("arn:"):
            family, _, revision = definition.partition(":")
            definition = f"arn:aws:ecs:*:*:task-definition/{family}:{revision or '*'}"
        elif definition.count(":") == 5:  # an ARN without a revision: any revision of the family
            definition += ":*"
        cluster = self.cluster.rsplit("/", 1)[-1]
        return [
            statement(["ecs:RunTask"], [definition]),
            statement(["ecs:StopTask", "ecs:DescribeTasks"], [f"arn:aws:ecs:*:*:task/{cluster}/*"]),
            _events_rule("StepFunctionsGetEventsForECSTaskRule"),
            # The task definition's roles are not known here unless the flow lists them.
            statement(["iam:PassRole"], self.pass_roles or ["*"]),
        ]


@register
class BatchSubmitJob(NativeAwsTask):
    """Submit an AWS Batch job and wait for it to end (`batch:submitJob.sync`). Needs a deployed
    stack: the local engine has no Batch."""

    type_name: ClassVar[str] = "aws.batch.SubmitJob"
    output_fields: ClassVar[dict[str, str]] = {
        "jobId": "the Batch job's id",
        "jobName": "its name",
        "status": "its final status (`SUCCEEDED` or `FAILED`)",
        "statusReason": "Batch's words for why it ended so",
        "exitCode": "the container's exit code (of the last attempt), null for an array job",
    }
    resource: ClassVar[str] = "arn:aws:states:::batch:submitJob.sync"

    job_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
    job_queue: str
    job_definition: str
    job_parameters: dict[str, str] = Field(default_factory=dict, alias="parameters")
    command: list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    array_size: int | None = Field(default=None, ge=2, le=10_000)
    attempts: int | None = Field(default=None, ge=1, le=10)

    def service_parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "JobName": self.job_name or self.id,
            "JobQueue": self.job_queue,
            "JobDefinition": self.job_definition,
        }
        if self.job_parameters:
            parameters["Parameters"] = self.job_parameters
        overrides: dict[str, Any] = {"Environment": [*_environment(self.environment), *EXECUTION_ENVIRONMENT]}
        if self.command is not None:
            overrides["Command"] = self.command
        parameters["ContainerOverrides"] = overrides
        if self.array_size is not None:
            parameters["ArrayProperties"] = {"Size": self.array_size}
        if self.attempts is not None:
            parameters["RetryStrategy"] = {"Attempts": self.attempts}
        return parameters

    def service_outputs(self, result: Mapping[str, Any]) -> dict[str, Any]:
        return batch_job_outputs(result)

    def failure_summary(self, outputs: Mapping[str, Any]) -> str:
        return batch_failure_summary(outputs, self.job_name or self.id)

    def iam_statements(self) -> list[dict[str, list[str]]]:
        def arn(kind: str, value: str, any_revision: bool) -> str:
            if value.startswith("arn:"):
                return value
            return f"arn:aws:batch:*:*:{kind}/{pattern(value)}" + (
                ":*" if any_revision and ":" not in value else ""
            )

        return [
            statement(
                ["batch:SubmitJob"],
                [arn("job-queue", self.job_queue, False), arn("job-definition", self.job_definition, True)],
            ),
            # DescribeJobs has no resource-level permissions.
            statement(["batch:DescribeJobs"], ["*"]),
            statement(["batch:TerminateJob"], ["arn:aws:batch:*:*:job/*"]),
            _events_rule("StepFunctionsGetEventsForBatchJobsRule"),
        ]
