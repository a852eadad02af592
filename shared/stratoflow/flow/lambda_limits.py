"""What Lambda cannot do, refused at validation: a task that runs on Lambda lives at most 15 minutes.

A runnable task runs in the task runner, a Lambda function that AWS stops at 15 minutes whatever the
task's `timeout` says; the compiled state would only time out later. A script task with
`taskRunner: {type: aws.runner.Fargate}` runs in an ECS Fargate container the state machine waits
for, and the AWS `.sync` tasks (`aws.ecs.RunTask`, `aws.batch.SubmitJob`) compile to a Step Functions
integration: they may run for hours, and the error names them.
"""

from __future__ import annotations

from datetime import timedelta

from stratoflow.errors import Diagnostic
from stratoflow.flow.model import Flow
from stratoflow.flow.rules import task_paths
from stratoflow.flow.task import RunnableTask, Task
from stratoflow.flow.task_runners import FARGATE
from stratoflow.flow.yaml_source import SourceMap, format_path

# Lambda's hard limit on one invocation (the task runner is configured with it).
LAMBDA_MAX_DURATION = timedelta(minutes=15)


def runs_on_lambda(task: Task) -> bool:
    """A task the compiler turns into a task-runner call (a native AWS task is a Step Functions
    integration, not a runnable task; a script with a Fargate `taskRunner` runs in a container)."""
    return isinstance(task, RunnableTask) and task.container() is None


def check_lambda_limits(flow: Flow, source_map: SourceMap, file: str) -> list[Diagnostic]:
    """One located problem per Lambda-bound task whose `timeout` is over Lambda's 15 minutes."""
    problems = []
    for path, task in task_paths(flow):
        if not runs_on_lambda(task) or task.timeout is None or task.timeout <= LAMBDA_MAX_DURATION:
            continue
        where = (*path, "timeout")
        line, column = source_map.locate(where)
        message = (
            f"task '{task.id}' ({type(task).type_name}) runs on AWS Lambda, which stops it after 15 "
            f"minutes, but its timeout is {_minutes(task.timeout)}: {_longer(task)}, or split it into "
            "tasks of at most 15 minutes"
        )
        problems.append(Diagnostic(file, line, column, format_path(where), message))
    return problems


def _longer(task: Task) -> str:
    if hasattr(task, "task_runner"):  # a script task: it can run in a container itself
        return (
            f"give it `taskRunner: {{type: {FARGATE}}}` to run it in an ECS Fargate container, "
            "which Step Functions waits for without Lambda"
        )
    return (
        "run work this long as an aws.ecs.RunTask (ECS Fargate) or aws.batch.SubmitJob (AWS Batch) "
        "task, which Step Functions waits for without Lambda"
    )


def _minutes(duration: timedelta) -> str:
    minutes = duration.total_seconds() / 60
    return f"{minutes:g} minutes"
