"""`aws.ecs.RunTask` and `aws.batch.SubmitJob` compile to `.sync` integrations between runner calls."""

from __future__ import annotations

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.tasks.task_helpers import RunFlow, flow_source, task_run

ECS = """
- id: train
  type: aws.ecs.RunTask
  cluster: arn:aws:ecs:us-east-1:123456789012:cluster/ml
  taskDefinition: trainer:7
  subnets: [subnet-1, subnet-2]
  securityGroups: [sg-1]
  containerOverrides:
    - name: app
      command: [python, train.py]
      environment: {MODE: full}
  passRoles: [arn:aws:iam::123456789012:role/trainer]
  timeout: PT3H
  retry: {type: constant, maxAttempts: 2, interval: PT5M}
- {id: after, type: Log, message: done}
"""

BATCH = """
- id: crunch
  type: aws.batch.SubmitJob
  jobQueue: heavy
  jobDefinition: cruncher
  parameters: {day: "2024-01-01"}
  command: [crunch, --all]
  arraySize: 4
"""


def test_ecs_run_task_compiles_to_the_sync_integration_between_runner_calls() -> None:
    # When
    states = compile_flow(load_flow(flow_source(ECS))).definition["States"]

    # Then: start -> run -> end, failures to the runner's failure call
    start, run, end = states["train"], states["train.run"], states["train.end"]
    assert start["Parameters"]["Payload"]["action"] == "start" and start["Next"] == "train.run"
    assert run["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert run["Next"] == "train.end" and end["Next"] == "after"
    assert run["TimeoutSeconds"] == 3 * 3600
    assert run["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "Next": "train.fail", "ResultPath": "$.error"}
    assert run["Retry"][-1] == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 300,
        "MaxAttempts": 1,
        "BackoffRate": 1.0,
    }
    assert not any("Lambda.ServiceException" in r["ErrorEquals"] for r in run["Retry"])
    parameters = run["Parameters"]
    assert parameters["Cluster"].endswith("cluster/ml") and parameters["TaskDefinition"] == "trainer:7"
    assert parameters["NetworkConfiguration"]["AwsvpcConfiguration"] == {
        "Subnets": ["subnet-1", "subnet-2"],
        "AssignPublicIp": "DISABLED",
        "SecurityGroups": ["sg-1"],
    }
    container = parameters["Overrides"]["ContainerOverrides"][0]
    assert container["Command"] == ["python", "train.py"]
    assert {"Name": "MODE", "Value": "full"} in container["Environment"]
    assert {"Name": "STRATOFLOW_EXECUTION_ID", "Value.$": "$.execution.id"} in container["Environment"]


def test_ecs_permissions_cover_the_sync_pattern() -> None:
    permissions = compile_flow(load_flow(flow_source(ECS))).permissions

    assert {
        "Action": ["ecs:RunTask"],
        "Resource": ["arn:aws:ecs:*:*:task-definition/trainer:7"],
    } in permissions
    assert {
        "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
        "Resource": ["arn:aws:ecs:*:*:task/ml/*"],
    } in permissions
    assert {"Action": ["iam:PassRole"], "Resource": ["arn:aws:iam::123456789012:role/trainer"]} in permissions
    assert any("rule/StepFunctionsGetEventsForECSTaskRule" in s["Resource"][0] for s in permissions)


def test_batch_submit_job_compiles_to_the_sync_integration() -> None:
    compiled = compile_flow(load_flow(flow_source(BATCH)))

    run = compiled.definition["States"]["crunch.run"]
    assert run["Resource"] == "arn:aws:states:::batch:submitJob.sync"
    assert run["Parameters"]["JobName"] == "crunch"
    assert run["Parameters"]["Parameters"] == {"day": "2024-01-01"}
    assert run["Parameters"]["ContainerOverrides"]["Command"] == ["crunch", "--all"]
    assert run["Parameters"]["ArrayProperties"] == {"Size": 4}
    assert "Retry" not in run
    assert {
        "Action": ["batch:SubmitJob"],
        "Resource": ["arn:aws:batch:*:*:job-queue/heavy", "arn:aws:batch:*:*:job-definition/cruncher:*"],
    } in compiled.permissions


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        (
            ECS.replace("trainer:7", "'{{ inputs.td }}'"),
            "flow.yaml:7:5: tasks[0].taskDefinition: aws.ecs.RunTask",
        ),
        (
            BATCH.replace("--all", "'{{ inputs.day }}'"),
            "flow.yaml:9:5: tasks[0].command: aws.batch.SubmitJob",
        ),
    ],
)
def test_expressions_are_refused_at_load_time_on_the_property(tasks: str, message: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        load_flow(flow_source(tasks), "flow.yaml")

    text = str(caught.value)
    assert message in text
    assert "cannot use expressions" in text


def test_run_if_may_still_use_an_expression() -> None:
    flow = load_flow(flow_source(BATCH + '  runIf: "{{ vars.go ?? true }}"\n'))

    assert "crunch.choice" in compile_flow(flow).definition["States"]


def test_a_fargate_task_needs_subnets() -> None:
    with pytest.raises(FlowValidationError, match="a FARGATE task needs 'subnets'"):
        load_flow(flow_source("- {id: t, type: aws.ecs.RunTask, cluster: c, taskDefinition: d}"))


def test_locally_the_engine_has_no_ecs_and_says_so(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # When
    outcome = run_flow(flow_source(ECS))

    # Then: the task run started, the execution failed on the resource no local handler answers
    assert outcome.execution.state == State.FAILED
    assert task_run(outcome, "train").state in (State.RUNNING, State.FAILED)
    assert outcome.result.error == "States.Runtime"
    assert "ecs:runTask.sync" in (outcome.result.cause or "")
