"""Lowering of a script task whose `taskRunner` is a Fargate container (`flow.task_runners`).

One Task state, `arn:aws:states:::ecs:runTask.sync`: Step Functions starts the stack's container
task definition on its Fargate cluster and waits until the container stops. The container's
entrypoint (`stratoflow.execution.runner.container`) makes the same `run` call the task-runner Lambda
answers (`stratoflow.runner_call.RunCall`), reassembled from environment overrides, so the task run,
its attempts, logs, outputs and files are recorded exactly as a Lambda-run task's. A failed task
exits non-zero: Step Functions fails the state with `States.TaskFailed` (Cause: the ECS task as it
stopped), and the task's Retry and the scope's Catch route it as they route a Lambda error.

The state's result (the ECS task's description) is discarded: outputs are read from the store, as
they are for a Lambda-run task. There is no 15-minute cap: TimeoutSeconds is the task's `timeout`
plus the time Fargate takes to start a container.
"""

from __future__ import annotations

import math

from stratoflow.compiler.asl import DISCARD, Retrier, TaskState
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.retry import PLATFORM_RETRIER, retriers
from stratoflow.flow.task import RunnableTask
from stratoflow.flow.task_runners import FargateRunner
from stratoflow.runner_call import CONTAINER_NAME, EXECUTION_VARIABLE, SCOPE_VARIABLE, TASK_ID_VARIABLE

RUN_CONTAINER = "arn:aws:states:::ecs:runTask.sync"
CLUSTER = "${ContainerClusterArn}"
TASK_DEFINITION = "${ContainerTaskDefinition}"
SUBNETS = "${ContainerSubnets}"
SECURITY_GROUPS = "${ContainerSecurityGroups}"
PUBLIC_IP = "${ContainerPublicIp}"
PLACEHOLDERS = tuple(p[2:-1] for p in (CLUSTER, TASK_DEFINITION, SUBNETS, SECURITY_GROUPS, PUBLIC_IP))
"""What a container-run flow's definition needs from the stack (the deployer substitutes them)."""


# Fargate provisions the task and pulls the image before the runner starts counting the task's
# timeout: Step Functions' backstop leaves it that long.
CONTAINER_START_SECONDS = 600

# RunTask did not start the task: no capacity (a non-empty `Failures` is `AmazonECS.Unknown` on a
# `.sync` integration), throttled or an unmodelled ECS error (`ECS.AmazonECSException`), or failing on
# ECS's side (`ECS.ServerException`). The task never ran, so it is retried whatever the task's policy.
# A refused request (`ECS.InvalidParameterException`: overrides over 8,192 characters) is not.
CAPACITY_RETRIER = Retrier(
    error_equals=["AmazonECS.Unknown", "ECS.AmazonECSException", "ECS.ServerException"],
    interval_seconds=10,
    max_attempts=3,
    backoff_rate=2.0,
    jitter_strategy="FULL",
)


def container_timeout_seconds(task: RunnableTask) -> int | None:
    if task.timeout is None:
        return None
    return max(1, math.ceil(task.timeout.total_seconds())) + CONTAINER_START_SECONDS


def run_task_parameters(
    task_id: str, runner: FargateRunner, scope_path: str = "$.scope"
) -> dict[str, object]:
    """The `ecs:runTask.sync` Parameters: the stack's cluster, task definition and network, the
    task's size, and the run call as environment overrides."""
    return {
        "Cluster": CLUSTER,
        "TaskDefinition": TASK_DEFINITION,
        "LaunchType": "FARGATE",
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                # One placeholder each, split at run time: the deployer substitutes text only.
                "Subnets.$": f"States.StringSplit('{SUBNETS}', ',')",
                "SecurityGroups.$": f"States.StringSplit('{SECURITY_GROUPS}', ',')",
                "AssignPublicIp": PUBLIC_IP,
            }
        },
        "Overrides": {
            "Cpu": str(runner.cpu_units),
            "Memory": str(runner.memory),
            "ContainerOverrides": [
                {
                    "Name": CONTAINER_NAME,
                    "Environment": [
                        {"Name": TASK_ID_VARIABLE, "Value": task_id},
                        {"Name": EXECUTION_VARIABLE, "Value.$": "States.JsonToString($.execution)"},
                        {"Name": SCOPE_VARIABLE, "Value.$": f"States.JsonToString({scope_path})"},
                    ],
                }
            ],
        },
    }


def lower_container(
    builder: Builder, task: RunnableTask, runner: FargateRunner, scope: Scope, next_: str | None
) -> str:
    """`<id>`: the container runs the task; Retry is the task's policy (and RunTask's capacity errors)."""
    own = [r for r in retriers(builder.retry_of(task), task.id, builder.warnings) if r != PLATFORM_RETRIER]
    parameters = run_task_parameters(task.id, runner, scope.scope_path)
    state = TaskState(
        comment=f"{type(task).type_name} on ECS Fargate ({runner.cpu:g} vCPU, {runner.memory} MiB)",
        resource=RUN_CONTAINER,
        parameters=parameters,
        result_path=DISCARD,
        timeout_seconds=container_timeout_seconds(task),
        retry=[CAPACITY_RETRIER, *own],
        catch=builder.catchers(scope),
        next=next_,
        end=True if next_ is None else None,
    )
    return builder.add(builder.names.claim(task.id), state)
