"""A task that runs on Lambda cannot outlive Lambda's 15 minutes: validation says so, and where."""

from __future__ import annotations

from tests.unit.flow.flow_test_helpers import problems


def test_a_lambda_script_with_a_timeout_over_15_minutes_is_refused_naming_the_task_runner() -> None:
    # Given a shell script task (run by the Lambda task runner) allowed two hours
    body = "tasks:\n  - id: crunch\n    type: scripts.Commands\n    commands: [make]\n    timeout: PT2H\n"

    # When the flow is validated
    [problem] = problems(body)

    # Then the timeout is refused where it is written, naming the container task runner
    assert (problem.line, problem.column, problem.path) == (7, 5, "tasks[0].timeout")
    assert "runs on AWS Lambda, which stops it after 15 minutes" in problem.message
    assert "120 minutes" in problem.message
    assert "`taskRunner: {type: aws.runner.Fargate}`" in problem.message


def test_another_lambda_task_over_15_minutes_is_refused_naming_the_container_tasks() -> None:
    # Given an HTTP request (no taskRunner) allowed an hour
    body = "tasks:\n  - id: call\n    type: http.Request\n    uri: https://example.com\n    timeout: PT1H\n"

    # When the flow is validated
    [problem] = problems(body)

    # Then the message names the AWS container tasks instead
    assert problem.path == "tasks[0].timeout"
    assert "aws.ecs.RunTask" in problem.message and "aws.batch.SubmitJob" in problem.message


def test_a_script_on_a_fargate_task_runner_may_run_for_hours() -> None:
    # Given the same two-hour script, with the Fargate task runner
    body = (
        "tasks:\n  - id: crunch\n    type: scripts.Commands\n    commands: [make]\n    timeout: PT2H\n"
        "    taskRunner: {type: aws.runner.Fargate, cpu: 4, memory: 8192}\n"
    )

    # When / Then nothing is refused
    assert problems(body) == []


def test_fifteen_minutes_on_lambda_and_hours_on_a_sync_integration_are_valid() -> None:
    # Given a Lambda task of exactly 15 minutes and an ECS task of three hours
    body = (
        "tasks:\n"
        "  - {id: quick, type: scripts.Commands, commands: [make], timeout: PT15M}\n"
        "  - id: train\n"
        "    type: aws.ecs.RunTask\n"
        "    cluster: arn:aws:ecs:us-east-1:123456789012:cluster/ml\n"
        "    taskDefinition: trainer:7\n"
        "    subnets: [subnet-1]\n"
        "    timeout: PT3H\n"
    )

    # When / Then nothing is refused
    assert problems(body) == []
