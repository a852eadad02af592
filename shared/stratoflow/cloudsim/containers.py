"""ECS Fargate containers on the simulated cloud.

moto's Step Functions interpreter has an `ecs:runTask.sync` integration, but in moto 5.2 it cannot
run one: it hands the state's PascalCase Parameters to boto3 unchanged (`Cluster=...`; its parameter
normalisation is a no-op) and reads PascalCase keys from the answer; and moto's ECS never runs a
container anyway. While the simulation runs, that integration is replaced: RunTask runs the
container's program (`cloud.runtime.container_sandbox`, the code the real container runs) as a
process whose only credentials are its task role's (the flow's sandbox role, assumed through moto's
STS) and which reaches the data bucket over HTTP (the simulation's loopback S3), and the `.sync` wait
answers as AWS does once the task stopped — the task's description (PascalCase, as Step Functions
hands it over) when the container exited 0, else `States.TaskFailed` with that description as Cause.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stratoflow.cloudsim.stack import REGION
from stratoflow.local.ecs_tasks import (
    INVALID_PARAMETER,
    ContainerExit,
    overridden_environment,
    override_problem,
    run_sandbox_process,
    stopped_task,
    task_role,
)
from stratoflow.runner_call import JOB_KEY_VARIABLE

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

# Marks the stopped task the simulation pushed for its resolver (a user's ECS task goes to moto's).
SIMULATED = "__stratoflowSimulated"


class SimulatedContainers:
    """Runs each container-run task in process, in place of moto's ECS integration."""

    def __init__(self, sts: STSClient, s3_endpoint: str):
        self.sts, self.s3_endpoint = sts, s3_endpoint
        self.runs: list[ContainerExit] = []
        self.environments: list[dict[str, str]] = []  # what each container was given (tests read it)
        self._patches: list[Any] = []

    def install(self) -> None:
        from unittest import mock

        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
            StateTaskServiceEcs,
        )

        self._patches = [
            mock.patch.object(
                StateTaskServiceEcs,
                "_eval_service_task",
                self._run_task(StateTaskServiceEcs._eval_service_task),
            ),
            mock.patch.object(
                StateTaskServiceEcs,
                "_build_sync_resolver",
                _stopped_task_resolver(StateTaskServiceEcs._build_sync_resolver),
            ),
        ]
        for patch in self._patches:
            patch.start()

    def uninstall(self) -> None:
        for patch in reversed(self._patches):
            patch.stop()
        self._patches = []

    def _run_task(self, moto_run_task: Callable[..., None]) -> Callable[..., None]:
        containers = self

        def run_task(self: Any, env: Any, normalised_parameters: dict[str, Any], **other: Any) -> None:
            parameters = normalised_parameters
            if JOB_KEY_VARIABLE not in overridden_environment(parameters):  # a user's aws.ecs.RunTask
                moto_run_task(self, env, normalised_parameters=normalised_parameters, **other)
                return
            refused = override_problem(parameters)
            if refused is not None:  # RunTask refused: no container started, as on AWS
                raise _service_error(self, env, INVALID_PARAMETER, refused)
            outcome = run_sandbox_process(containers.environment(parameters))
            containers.runs.append(outcome)
            env.stack.append({**stopped_task(parameters, outcome), SIMULATED: True})

        return run_task

    def environment(self, parameters: Any) -> dict[str, str]:
        """The container's: its overrides, its task role's credentials, the region, the bucket's endpoint."""
        role = task_role(parameters)
        if role is None:
            raise ValueError("a container-run script task's RunTask names no task role")
        issued = self.sts.assume_role(RoleArn=role, RoleSessionName="container")["Credentials"]
        environment = {
            **overridden_environment(parameters),
            "AWS_ACCESS_KEY_ID": issued["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": issued["SecretAccessKey"],
            "AWS_SESSION_TOKEN": issued["SessionToken"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
        }
        self.environments.append(environment)
        return environment


def _stopped_task_resolver(moto_resolver: Callable[..., Any]) -> Callable[..., Any]:
    """The `.sync` wait: the container has stopped already (it ran inside RunTask)."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def build(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        if not (env.stack and isinstance(env.stack[-1], dict) and env.stack[-1].get(SIMULATED)):
            return moto_resolver(self, env, *args, **kwargs)
        task: dict[str, Any] = env.stack.pop()
        task.pop(SIMULATED)

        def resolver() -> Any:
            if all(container.get("ExitCode") == 0 for container in task.get("Containers", [])):
                return task
            failed = StatesErrorNameType.StatesTaskFailed
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=failed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=failed.to_name(),
                            cause=json.dumps(task),
                        )
                    ),
                )
            )

        return resolver

    return build


def _service_error(service: Any, env: Any, error: str, cause: str) -> Exception:
    """The failure Step Functions reports when the service refused the request (`ECS.<code>`)."""
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    return FailureEventException(
        FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=service._get_sfn_resource(),
                    resourceType=service._get_sfn_resource_type(),
                )
            ),
        )
    )
