"""`taskRunner` on script tasks: which runners exist, what they accept, and where each task runs."""

from __future__ import annotations

from stratoflow.flow import load_flow
from stratoflow.flow.task import RunnableTask
from stratoflow.flow.task_runners import FargateRunner
from tests.unit.flow.flow_test_helpers import flow_text, problems


def _task(body: str) -> RunnableTask:
    task = load_flow(flow_text(body)).tasks[0]
    assert isinstance(task, RunnableTask)
    return task


def test_a_fargate_runner_gives_the_container_size() -> None:
    # Given a Python script with the Fargate runner, 2 vCPU and 4 GB
    body = (
        "tasks:\n  - id: crunch\n    type: io.kestra.plugin.scripts.python.Script\n    script: print(1)\n"
        "    taskRunner: {type: aws.runner.Fargate, cpu: 2, memory: 4096}\n"
    )

    # When the flow is loaded
    container = _task(body).container()

    # Then the task runs in that container
    assert container == FargateRunner(type="aws.runner.Fargate", cpu=2, memory=4096)
    assert container.cpu_units == 2048


def test_process_runner_and_no_runner_run_in_the_task_runner() -> None:
    # Given scripts with the Process runner (short and full names) and without any
    for runner in ("{type: Process}", "{type: io.kestra.plugin.core.runner.Process}"):
        body = f"tasks:\n  - id: s\n    type: scripts.Shell\n    script: echo\n    taskRunner: {runner}\n"
        # When / Then they have no container
        assert _task(body).container() is None
    assert _task("tasks:\n  - {id: s, type: scripts.Shell, script: echo}\n").container() is None


def test_a_memory_fargate_cannot_give_that_cpu_is_refused_where_written() -> None:
    # Given 2 vCPU with 3000 MiB (Fargate allows 4096-16384 for 2 vCPU)
    body = (
        "tasks:\n  - id: s\n    type: scripts.Shell\n    script: echo\n"
        "    taskRunner:\n      type: aws.runner.Fargate\n      cpu: 2\n      memory: 3000\n"
    )

    # When the flow is validated
    [problem] = problems(body)

    # Then the memory is refused at its line, with the sizes Fargate allows
    assert problem.path == "tasks[0].taskRunner.memory"
    assert problem.line == 10
    assert "4096-16384 MiB" in problem.message


def test_an_unknown_cpu_and_an_unknown_runner_type_are_refused() -> None:
    # Given 3 vCPU (no Fargate size) and a runner type nobody knows
    cpu = "tasks:\n  - id: s\n    type: scripts.Shell\n    script: echo\n    taskRunner: {type: aws.runner.Fargate, cpu: 3}\n"
    kind = "tasks:\n  - id: s\n    type: scripts.Shell\n    script: echo\n    taskRunner: {type: k8s.Pod}\n"

    # When / Then each is one located problem naming what is allowed
    [bad_cpu] = problems(cpu)
    assert bad_cpu.path == "tasks[0].taskRunner.cpu" and "0.25, 0.5, 1, 2, 4, 8 or 16" in bad_cpu.message
    [bad_kind] = problems(kind)
    assert bad_kind.path.startswith("tasks[0].taskRunner") and "aws.runner.Fargate" in bad_kind.message


def test_kestras_batch_runner_runs_on_fargate_with_its_requested_resources() -> None:
    # Given Kestra's AWS Batch runner asking for 4 vCPU and 8 GB
    body = (
        "tasks:\n  - id: s\n    type: scripts.Shell\n    script: echo\n"
        "    taskRunner:\n      type: io.kestra.plugin.ee.aws.runner.Batch\n"
        "      resources: {request: {cpu: 4, memory: 8192}}\n"
    )

    # When / Then the task runs in a Fargate container of that size
    assert _task(body).container() == FargateRunner(type="aws.runner.Fargate", cpu=4, memory=8192)


def test_kestras_batch_runner_infrastructure_properties_are_refused_where_written() -> None:
    # Given Kestra's AWS Batch runner naming its own job queue
    body = (
        "tasks:\n  - id: s\n    type: scripts.Shell\n    script: echo\n"
        "    taskRunner:\n      type: io.kestra.plugin.ee.aws.runner.Batch\n"
        "      jobQueueArn: arn:aws:batch:us-east-1:123456789012:job-queue/q\n"
    )

    # When the flow is validated
    [problem] = problems(body)

    # Then the property is refused at its line, naming the stack's Fargate runner
    assert problem.path == "tasks[0].taskRunner.jobQueueArn"
    assert problem.line == 9
    assert "aws.runner.Fargate" in problem.message


def test_plugin_defaults_give_every_script_the_fargate_runner() -> None:
    # Given a flow whose pluginDefaults set the Fargate runner for Kestra's script plugins
    body = (
        "pluginDefaults:\n  - type: io.kestra.plugin.scripts\n    values:\n"
        "      taskRunner: {type: aws.runner.Fargate, cpu: 1, memory: 2048}\n"
        "tasks:\n  - id: s\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [make]\n"
        "    timeout: PT3H\n"
    )

    # When the flow is validated and loaded
    # Then the three-hour script is valid, and runs in a container
    assert problems(body) == []
    assert _task(body).container() is not None
