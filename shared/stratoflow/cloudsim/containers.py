"""ECS Fargate containers on the simulated cloud.

moto's Step Functions interpreter has an `ecs:runTask.sync` integration, but in moto 5.2 it cannot
run one: it hands the state's PascalCase Parameters to boto3 unchanged (`Cluster=...`; its parameter
normalisation is a no-op) and reads PascalCase keys from the answer; and moto's ECS never runs a
container anyway. While the simulation runs, that integration is replaced: RunTask runs the
container entrypoint in process (`execution.runner.container`, the code the real container runs)
with the simulated stack's runner, and the `.sync` wait answers as AWS does once the task stopped —
the task's description (PascalCase, as Step Functions hands it over) when the container exited 0,
else `States.TaskFailed` with that description as Cause.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from stratoflow.execution.runner import TaskRunner
from stratoflow.execution.runner.container import (
    INVALID_PARAMETER,
    ContainerExit,
    overridden_environment,
    override_problem,
    run_container,
    stopped_task,
)
from stratoflow.runner_call import TASK_ID_VARIABLE

# Marks the stopped task the simulation pushed for its resolver (a user's ECS task goes to moto's).
SIMULATED = "__stratoflowSimulated"


class SimulatedContainers:
    """Runs each container-run task in process, in place of moto's ECS integration."""

    def __init__(self, runner: TaskRunner):
        self.runner = runner
        self.runs: list[ContainerExit] = []
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
            if TASK_ID_VARIABLE not in overridden_environment(parameters):  # a user's aws.ecs.RunTask
                moto_run_task(self, env, normalised_parameters=normalised_parameters, **other)
                return
            refused = override_problem(parameters)
            if refused is not None:  # RunTask refused: no container started, as on AWS
                raise _service_error(self, env, INVALID_PARAMETER, refused)
            outcome = run_container(containers.runner, overridden_environment(parameters))
            containers.runs.append(outcome)
            env.stack.append({**stopped_task(parameters, outcome), SIMULATED: True})

        return run_task


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
