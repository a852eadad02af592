"""Lowering of a script task whose `taskRunner` is a Fargate container (`flow.task_runners`).

The container is the flow's script sandbox, not a runner: it holds the flow's sandbox role alone
(`Overrides.TaskRoleArn`), as the flow's sandbox function does, and the task runner does the rest in
two calls around it (`execution.runner.container`). One retry unit, a one-branch Parallel carrying
the task's Retry and the scope's Catch:

<id>            Parallel (Retry: the task's policy; Catch: the scope's), one branch:
  <id>.prepare    runner `prepare`: runIf, the attempt RUNNING, the task rendered, its job written
                  under the attempt's sandbox folder; its location at `$.eval.result.job`
  <id>.choice     skip (runIf false, a finished run) -> <id>.skipped (Succeed)
  <id>.run        `ecs:runTask.sync`: the stack's task definition with the sandbox role, the task's
                  size, and the job's bucket and key as the container's only environment; RunTask's
                  capacity errors retried here (the job is still there); any other failure (the
                  container died, timed out, was refused) -> <id>.lost
  <id>.collect    runner `collect`: the container's answer taken, the attempt recorded (a failed
                  script raises the task's error, which the Parallel's Retry and Catch route)
  <id>.lost       runner `collect` with the `.sync` state's error: the attempt fails, naming it

There is no 15-minute cap: the `.sync` state's TimeoutSeconds is the task's `timeout` plus the time
Fargate takes to start a container. When the execution is stopped, or the Parallel around the task is
abandoned (a flowable's timeout, a failed branch beside it), Step Functions stops the ECS task of a
running `.sync` state itself ("Run a Job (.sync)": it calls `ecs:StopTask`, which the state machine
role holds; https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-sync
and https://docs.aws.amazon.com/step-functions/latest/dg/ecs-iam.html): a stopped execution's
container does not run on.
"""

from __future__ import annotations

import math

from stratoflow.compiler.asl import (
    DISCARD,
    Catcher,
    ChoiceState,
    ParallelState,
    Retrier,
    SucceedState,
    TaskState,
)
from stratoflow.compiler.builder import Builder, Scope
from stratoflow.compiler.frame import SKIP_RULE_VARIABLE
from stratoflow.compiler.retry import PLATFORM_RETRIER, retriers
from stratoflow.flow.task import RunnableTask
from stratoflow.flow.task_runners import FargateRunner
from stratoflow.runner_call import CONTAINER_NAME, JOB_BUCKET_VARIABLE, JOB_KEY_VARIABLE

RUN_CONTAINER = "arn:aws:states:::ecs:runTask.sync"
CLUSTER = "${ContainerClusterArn}"
TASK_DEFINITION = "${ContainerTaskDefinition}"
SUBNETS = "${ContainerSubnets}"
SECURITY_GROUPS = "${ContainerSecurityGroups}"
PUBLIC_IP = "${ContainerPublicIp}"
SANDBOX_ROLE = "${SandboxRoleArn}"
"""The flow's sandbox role (`cloud.deploy.sandboxes`): the container's task role, for every run."""
PLACEHOLDERS = tuple(
    p[2:-1] for p in (CLUSTER, TASK_DEFINITION, SUBNETS, SECURITY_GROUPS, PUBLIC_IP, SANDBOX_ROLE)
)
"""What a container-run flow's definition needs from the stack (the deployer substitutes them)."""
JOB = "$.eval.result.job"
"""Where `prepare` puts the job's location (`runner_call.ContainerPrepared`)."""


# Fargate provisions the task, pulls the image and downloads the sandbox's code before the script's
# timeout starts counting: Step Functions' backstop leaves it that long.
CONTAINER_START_SECONDS = 600

# RunTask did not start the task: no capacity (a non-empty `Failures` is `AmazonECS.Unknown` on a
# `.sync` integration), throttled or an unmodelled ECS error (`ECS.AmazonECSException`), or failing on
# ECS's side (`ECS.ServerException`). The task never ran, so it is retried whatever the task's policy.
# A refused request (`ECS.InvalidParameterException`) is not: it fails the attempt.
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


def run_task_parameters(runner: FargateRunner) -> dict[str, object]:
    """The `ecs:runTask.sync` Parameters: the stack's cluster, task definition and network, the
    flow's sandbox role, the task's size, and where the job is."""
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
            "TaskRoleArn": SANDBOX_ROLE,
            "Cpu": str(runner.cpu_units),
            "Memory": str(runner.memory),
            "ContainerOverrides": [
                {
                    "Name": CONTAINER_NAME,
                    "Environment": [
                        {"Name": JOB_BUCKET_VARIABLE, "Value.$": f"{JOB}.bucket"},
                        {"Name": JOB_KEY_VARIABLE, "Value.$": f"{JOB}.key"},
                    ],
                }
            ],
        },
    }


def lower_container(
    builder: Builder, task: RunnableTask, runner: FargateRunner, scope: Scope, next_: str | None
) -> str:
    """`<id>`: prepare, the container, collect, retried together as the task's policy says."""
    branch = builder.branch()
    inner = Scope(scope_path=scope.scope_path)  # failures leave the branch: the Parallel routes them
    names = builder.names
    prepare, choice, skipped, run, collect, lost = (
        names.claim(f"{task.id}.{step}")
        for step in ("prepare", "choice", "skipped", "run", "collect", "lost")
    )
    kind = type(task).type_name
    branch.runner_call(collect, "collect", task.id, inner, None, comment=f"{kind}: the container's answer")
    branch.runner_call(
        lost,
        "collect",
        task.id,
        inner,
        None,
        extra={"error.$": "$.error"},
        comment=f"{kind}: the container ended without an answer",
    )
    branch.add(
        run,
        TaskState(
            comment=f"{kind} on ECS Fargate ({runner.cpu:g} vCPU, {runner.memory} MiB), as the flow's sandbox role",
            resource=RUN_CONTAINER,
            parameters=run_task_parameters(runner),
            result_path=DISCARD,
            timeout_seconds=container_timeout_seconds(task),
            retry=[CAPACITY_RETRIER],
            catch=[Catcher(error_equals=["States.ALL"], next=lost, result_path="$.error")],
            next=collect,
        ),
    )
    branch.add(skipped, SucceedState())
    branch.add(
        choice,
        ChoiceState(
            choices=[{"Variable": SKIP_RULE_VARIABLE, "BooleanEquals": True, "Next": skipped}], default=run
        ),
    )
    branch.runner_call(
        prepare,
        "prepare",
        task.id,
        inner,
        choice,
        result_path="$.eval",
        select_result=True,
        comment=f"{kind}: its job for the container",
    )
    own = [r for r in retriers(builder.retry_of(task), task.id, builder.warnings) if r != PLATFORM_RETRIER]
    state = ParallelState(
        comment=f"{task.id}: a script in a Fargate container, prepared and collected by the runner",
        branches=[branch.definition(prepare)],
        result_path=DISCARD,
        retry=own or None,
        catch=builder.catchers(scope),
        next=next_,
        end=True if next_ is None else None,
    )
    return builder.add(names.claim(task.id), state)
