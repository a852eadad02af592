"""A script task on a Fargate taskRunner compiles to one `ecs:runTask.sync` state carrying the run call."""

from __future__ import annotations

from typing import Any

from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow
from stratoflow.runner_call import RunCall, container_call

FLOW = """id: long
namespace: tests.containers
tasks:
  - id: crunch
    type: scripts.Commands
    commands: [make]
    timeout: PT2H
    retry: {type: constant, interval: PT1M, maxAttempts: 3}
    taskRunner: {type: aws.runner.Fargate, cpu: 0.5, memory: 1024}
errors:
  - {id: alert, type: Log, message: failed}
"""


def _state() -> dict[str, Any]:
    state: dict[str, Any] = compile_flow(load_flow(FLOW, "long.yaml")).definition["States"]["crunch"]
    return state


def test_the_task_runs_in_a_fargate_container_with_its_size_and_no_15_minute_cap() -> None:
    # Given a two-hour script on a 0.5 vCPU / 1 GB Fargate runner
    # When it is compiled
    state = _state()

    # Then the state runs the stack's task definition on Fargate and waits for it, for the task's
    # timeout plus the container's start-up, with the task's size as overrides
    assert state["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert state["Parameters"]["LaunchType"] == "FARGATE"
    assert state["Parameters"]["Overrides"]["Cpu"] == "512"
    assert state["Parameters"]["Overrides"]["Memory"] == "1024"
    assert state["TimeoutSeconds"] == 7200 + 600
    assert state["ResultPath"] is None


def test_retry_is_the_tasks_policy_and_failures_go_to_errors() -> None:
    # Given the same task, retried up to 3 attempts, in a flow with an errors branch
    # When it is compiled
    state = _state()

    # Then the task's policy retries every failure twice (no Lambda retrier), and the Catch leads to errors
    retriers = {tuple(r["ErrorEquals"]): r for r in state["Retry"]}
    assert retriers[("States.ALL",)]["MaxAttempts"] == 2
    assert not any("Lambda.ServiceException" in errors for errors in retriers)
    assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"]


def test_a_task_that_never_started_is_retried_but_a_refused_request_is_not() -> None:
    # Given the compiled state
    # When its first retrier is read (before the task's own policy)
    [first, *_] = _state()["Retry"]

    # Then it names the errors of a RunTask that started nothing (no capacity, ECS's own failures),
    # with backoff, and not ECS's refusal of the request (a task's own policy may still retry that)
    assert first["ErrorEquals"] == ["AmazonECS.Unknown", "ECS.AmazonECSException", "ECS.ServerException"]
    assert (first["IntervalSeconds"], first["MaxAttempts"], first["BackoffRate"]) == (10, 3, 2.0)


def test_the_container_environment_carries_the_run_call_the_runner_reads() -> None:
    # Given the compiled state's environment overrides, resolved as Step Functions would
    [container] = _state()["Parameters"]["Overrides"]["ContainerOverrides"]
    assert container["Name"] == "runner"
    resolved = {
        "$.execution": '{"id":"e1","namespace":"tests.containers","flowId":"long","revision":1}',
        "$.scope": "null",
    }
    environment = {}
    for variable in container["Environment"]:
        if "Value" in variable:
            environment[variable["Name"]] = variable["Value"]
        else:
            path = variable["Value.$"].removeprefix("States.JsonToString(").removesuffix(")")
            environment[variable["Name"]] = resolved[path]

    # When the container reads its call
    call = container_call(environment)

    # Then it is the task runner's `run` call for this task and execution
    assert isinstance(call, RunCall)
    assert (call.task_id, call.execution.id, call.execution.flow_id, call.scope) == (
        "crunch",
        "e1",
        "long",
        None,
    )
