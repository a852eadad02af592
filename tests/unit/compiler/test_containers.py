"""A script task on a Fargate taskRunner compiles to one retry unit: a one-branch Parallel holding the
runner's `prepare`, the `ecs:runTask.sync` state (the flow's sandbox role, the job's location as its
only environment) and the runner's `collect`."""

from __future__ import annotations

from typing import Any

from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow
from stratoflow.runner_call import JOB_BUCKET_VARIABLE, JOB_KEY_VARIABLE, parse_runner_call

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


def _unit() -> dict[str, Any]:
    state: dict[str, Any] = compile_flow(load_flow(FLOW, "long.yaml")).definition["States"]["crunch"]
    return state


def _branch() -> dict[str, Any]:
    [branch] = _unit()["Branches"]
    states: dict[str, Any] = branch["States"]
    assert branch["StartAt"] == "crunch.prepare"
    return states


def test_the_task_runs_in_a_fargate_container_with_its_size_and_no_15_minute_cap() -> None:
    # Given a two-hour script on a 0.5 vCPU / 1 GB Fargate runner
    # When it is compiled
    run = _branch()["crunch.run"]

    # Then the state runs the stack's task definition on Fargate and waits for it, for the task's
    # timeout plus the container's start-up, with the task's size as overrides
    assert run["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert run["Parameters"]["LaunchType"] == "FARGATE"
    assert run["Parameters"]["Overrides"]["Cpu"] == "512"
    assert run["Parameters"]["Overrides"]["Memory"] == "1024"
    assert run["TimeoutSeconds"] == 7200 + 600
    assert run["ResultPath"] is None


def test_the_container_runs_as_the_flows_sandbox_role_knowing_only_where_its_job_is() -> None:
    # Given the compiled `.sync` state
    overrides = _branch()["crunch.run"]["Parameters"]["Overrides"]

    # When its task role and environment are read
    [container] = overrides["ContainerOverrides"]

    # Then the task role is the flow's sandbox role (the deployer substitutes it), and the container's
    # only environment is the bucket and key `prepare` answered
    assert overrides["TaskRoleArn"] == "${SandboxRoleArn}"
    assert container["Name"] == "sandbox"
    assert container["Environment"] == [
        {"Name": JOB_BUCKET_VARIABLE, "Value.$": "$.eval.result.job.bucket"},
        {"Name": JOB_KEY_VARIABLE, "Value.$": "$.eval.result.job.key"},
    ]


def test_prepare_then_the_container_then_collect_and_a_lost_container_is_collected_with_its_error() -> None:
    # Given the branch's states
    states = _branch()

    # When they are followed
    prepare, choice, run = states["crunch.prepare"], states["crunch.choice"], states["crunch.run"]

    # Then prepare's answer is routed (a skip ends the branch), the container's end goes to collect,
    # and any failure of the container goes to collect with the error it raised
    assert prepare["Parameters"]["Payload"]["action"] == "prepare"
    assert (prepare["ResultPath"], prepare["Next"]) == ("$.eval", "crunch.choice")
    assert choice["Choices"][0]["Next"] == "crunch.skipped" and choice["Default"] == "crunch.run"
    assert run["Next"] == "crunch.collect"
    assert run["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "crunch.lost", "ResultPath": "$.error"}]
    lost = states["crunch.lost"]["Parameters"]["Payload"]
    call = parse_runner_call(
        {
            **{key: value for key, value in lost.items() if not key.endswith(".$")},
            "execution": {"id": "e1", "namespace": "tests.containers", "flowId": "long", "revision": 1},
            "scope": None,
            "error": {"Error": "States.TaskFailed", "Cause": "{}"},
        }
    )
    assert call.action == "collect" and call.error is not None and lost["error.$"] == "$.error"
    assert states["crunch.collect"]["End"] is True


def test_retry_is_the_tasks_policy_on_the_whole_unit_and_failures_go_to_errors() -> None:
    # Given the same task, retried up to 3 attempts, in a flow with an errors branch
    # When it is compiled
    unit = _unit()

    # Then the task's policy retries the whole unit (prepare, container, collect) twice, with no Lambda
    # retrier at that level (each runner call has its own), and the Catch leads to errors
    assert unit["Type"] == "Parallel" and unit["ResultPath"] is None
    retriers = {tuple(r["ErrorEquals"]): r for r in unit["Retry"]}
    assert retriers[("States.ALL",)]["MaxAttempts"] == 2
    assert not any("Lambda.ServiceException" in errors for errors in retriers)
    assert unit["Catch"][-1]["ErrorEquals"] == ["States.ALL"]


def test_a_task_that_never_started_is_retried_in_place_but_a_refused_request_is_not() -> None:
    # Given the compiled `.sync` state
    # When its retrier is read
    [first] = _branch()["crunch.run"]["Retry"]

    # Then it names the errors of a RunTask that started nothing (no capacity, ECS's own failures),
    # with backoff (the job is still in storage), and not ECS's refusal of the request
    assert first["ErrorEquals"] == ["AmazonECS.Unknown", "ECS.AmazonECSException", "ECS.ServerException"]
    assert (first["IntervalSeconds"], first["MaxAttempts"], first["BackoffRate"]) == (10, 3, 2.0)
