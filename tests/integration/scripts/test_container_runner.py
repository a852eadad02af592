"""Script tasks with a Fargate `taskRunner`: prepared by the runner, run by the container's sandbox
program as a process (locally, said once; on the simulated cloud with the flow's sandbox role), and
collected by the runner, which records the same task run as for a script in the sandbox function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.domain import TaskRun
from stratoflow.execution.runner.outputs import BLOB_REF, resolve
from stratoflow.store.base import BlobStore

# The same script twice: once in the task-runner Lambda, once in a Fargate container; its outputs
# include a value over 32 KiB (kept in storage, referenced from the task run) and an output file.
TWINS = """id: twins
namespace: tests.containers
tasks:
  - id: on_lambda
    type: io.kestra.plugin.scripts.python.Script
    outputFiles: ["out/*.csv"]
    script: &script |
      import json, os
      print("working")
      os.makedirs("out", exist_ok=True)
      with open("out/rows.csv", "w") as f:
          f.write("a,b\\n1,2\\n")
      print("::" + json.dumps({"outputs": {"n": 3, "big": "x" * 40000}}) + "::")
  - id: in_container
    type: io.kestra.plugin.scripts.python.Script
    taskRunner: {type: aws.runner.Fargate, cpu: 1, memory: 2048}
    timeout: PT2H
    outputFiles: ["out/*.csv"]
    script: *script
  - id: report
    type: Log
    message: "{{ outputs.on_lambda.vars.n + outputs.in_container.vars.n }}"
"""

FAILING = """id: failing
namespace: tests.containers
tasks:
  - id: bad
    type: scripts.Commands
    taskRunner: {type: aws.runner.Fargate}
    retry: {type: constant, interval: PT1S, maxAttempts: 2}
    commands: [echo trying, exit 3]
errors:
  - id: handler
    type: Log
    message: "caught {{ errorLogs()[0].taskId }}"
"""

# A loop value of 9,000 characters: the job travels in the bucket, not in the container's overrides,
# so ECS's 8,192-character limit on them is no wall for the loops around a container task.
BIG_SCOPE = """id: big_scope
namespace: tests.containers
tasks:
  - id: each
    type: ForEach
    values: ["{{ 'x' * 9000 }}"]
    tasks:
      - id: crunch
        type: scripts.Commands
        taskRunner: {type: aws.runner.Fargate}
        commands: ["echo {{ taskrun.value | length }}"]
"""


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(source)
    return path


def _same(run: TaskRun, blobs: BlobStore) -> dict[str, Any]:
    """What must not depend on where the script ran (outputs read back from storage: over 32 KiB,
    the task run holds a reference); output files by name and content."""
    outputs = resolve(run.outputs, blobs)
    files = outputs.get("outputFiles")
    assert isinstance(files, dict) and isinstance(outputs.get("vars"), dict)
    return {
        "state": run.state,
        "attempts": [attempt.state for attempt in run.attempts],
        "stored": list(run.outputs) == [BLOB_REF],
        "exitCode": outputs.get("exitCode"),
        "vars": outputs.get("vars"),
        "outputFiles": {name: blobs.get(str(uri)) for name, uri in files.items()},
        "error": run.error,
    }


def test_a_container_task_runs_as_a_local_process_and_says_so_once(tmp_path: Path) -> None:
    # Given the twin scripts
    flow = _write(tmp_path, "twins", TWINS)

    # When the flow runs locally
    result = CliRunner().invoke(cli, ["run", str(flow), "--home", str(tmp_path / "home")])

    # Then it succeeds with both outputs, and the run's output says once where the container task ran
    assert result.exit_code == 0, result.output
    assert "INFO  report: 6" in result.stdout
    notes = [line for line in result.stderr.splitlines() if "run as local processes" in line]
    assert notes == [
        "note: these tasks run as local processes here: in_container (an ECS Fargate container on AWS)"
    ]


def test_a_failing_container_task_is_retried_and_caught_locally(tmp_path: Path) -> None:
    # Given a container task that exits 3, retried once, in a flow with errors
    flow = _write(tmp_path, "failing", FAILING)

    # When the flow runs locally
    result = CliRunner().invoke(cli, ["run", str(flow), "--home", str(tmp_path / "home")])

    # Then both attempts ran, the errors branch caught it, and the flow failed
    assert result.exit_code == 1
    assert result.stdout.count("bad: trying") == 2
    assert "handler: caught bad" in result.stdout


@pytest.mark.slow
def test_the_container_entrypoint_records_the_same_task_run_as_the_lambda(tmp_path: Path) -> None:
    # Deferred: moto is the `sim` extra.
    from stratoflow.cloudsim.platform import CloudSimulation

    # Given the twin scripts on the simulated cloud (moto's DynamoDB and S3 behind the store)
    flow = _write(tmp_path, "twins", TWINS)

    # When the flow runs there: the Lambda task through the task-runner Lambda, the other through
    # `ecs:runTask.sync` and the container entrypoint
    with CloudSimulation() as simulation:
        run = simulation.run_flow(flow)
        runs = {task_run.task_id: task_run for task_run in run.task_runs}
        logs = {
            task_id: [
                (entry.level, entry.message)
                for entry in simulation.store.list_logs(run.execution.id, task_id)
            ]
            for task_id in ("on_lambda", "in_container")
        }
        container_runs = list(simulation.containers.runs)
        sandbox_runs = len(simulation.sandboxes.environments)
        same = {task_id: _same(runs[task_id], simulation.blobs) for task_id in ("on_lambda", "in_container")}

    # Then the container ran once, and both task runs, their logs and output files are recorded alike
    assert run.execution.state == "SUCCESS"
    assert [outcome.code for outcome in container_runs] == [0]
    # (the Lambda-run script in its flow's sandbox function, the other in its container, as on AWS)
    assert sandbox_runs == 1
    assert same["in_container"] == same["on_lambda"]
    assert same["in_container"]["stored"] and same["in_container"]["vars"]["n"] == 3
    assert same["in_container"]["outputFiles"] == {"out/rows.csv": b"a,b\n1,2\n"}
    assert logs["in_container"] == logs["on_lambda"] == [("INFO", "working")]


@pytest.mark.slow
def test_a_failing_container_task_fails_as_on_aws_on_the_simulated_cloud(tmp_path: Path) -> None:
    from stratoflow.cloudsim.platform import CloudSimulation

    # Given the failing container task on the simulated cloud
    flow = _write(tmp_path, "failing", FAILING)

    # When it runs
    with CloudSimulation() as simulation:
        run = simulation.run_flow(flow)

    # Then Step Functions retried it (States.TaskFailed), the errors branch ran, the flow failed
    runs = {task_run.task_id: task_run for task_run in run.task_runs}
    assert run.execution.state == "FAILED"
    assert len(runs["bad"].attempts) == 2
    assert runs["handler"].state == "SUCCESS"


@pytest.mark.slow
def test_the_local_engine_counts_a_container_tasks_history_as_step_functions_does(tmp_path: Path) -> None:
    import json

    # Given the failing container task (submitted, failed, retried, caught)
    flow = str(_write(tmp_path, "failing", FAILING))

    # When it runs locally and on the simulated cloud (moto's interpreter writes the history)
    local = CliRunner().invoke(cli, ["run", flow, "--json", "--home", str(tmp_path / "home")])
    cloud = CliRunner().invoke(cli, ["run", flow, "--json", "--cloud-sim"])

    # Then both count the same history events (TaskSubmitted included for the .sync state; a retried
    # Parallel with no ParallelStateFailed of its own)
    local_events = json.loads(local.stdout)["stepFunctions"]["historyEvents"]
    cloud_events = json.loads(cloud.stdout)["stepFunctions"]["historyEvents"]
    assert local_events == cloud_events == 49


def test_a_container_task_in_a_loop_over_large_values_runs_locally(tmp_path: Path) -> None:
    # Given a container task inside a loop over a 9,000-character value
    flow = _write(tmp_path, "big_scope", BIG_SCOPE)

    # When the flow runs locally
    result = CliRunner().invoke(cli, ["run", str(flow), "--home", str(tmp_path / "home")])

    # Then the container ran with the value (its job is in storage, its overrides small)
    assert result.exit_code == 0, result.output
    assert "crunch: 9000" in result.stdout


@pytest.mark.slow
def test_a_container_task_in_a_loop_over_large_values_runs_on_the_simulated_cloud(tmp_path: Path) -> None:
    from stratoflow.cloudsim.platform import CloudSimulation

    # Given the same flow on the simulated cloud
    flow = _write(tmp_path, "big_scope", BIG_SCOPE)

    # When it runs
    with CloudSimulation() as simulation:
        run = simulation.run_flow(flow)
        container_runs = list(simulation.containers.runs)
        logs = [entry.message for entry in simulation.store.list_logs(run.execution.id, "crunch")]

    # Then one container ran the task with the value
    assert run.execution.state == "SUCCESS"
    assert [outcome.code for outcome in container_runs] == [0]
    assert logs == ["9000"]


# A container script in a flow whose tasks declare AWS permissions: its credentials are the flow's,
# as boto3 finds them in the script's environment.
KEYED = """id: keyed
namespace: tests.containers
tasks:
  - id: export
    type: aws.s3.Upload
    bucket: container-exports
    key: "report.txt"
    content: "declared"
  - id: keys
    type: scripts.Python
    taskRunner: {type: aws.runner.Fargate}
    script: |
      import os, boto3
      from kestra import Kestra
      frozen = boto3.Session().get_credentials().get_frozen_credentials()
      Kestra.outputs({"key": frozen.access_key, "secret": frozen.secret_key, "token": frozen.token})
"""


@pytest.mark.slow
def test_a_container_script_holds_its_flows_sandbox_role_never_the_flow_role(tmp_path: Path) -> None:
    import boto3

    from stratoflow.cloud.config.naming import sandbox_role_name
    from stratoflow.cloudsim.platform import CloudSimulation

    # Given a flow with a declared bucket and a container script, on the simulated cloud
    flow = _write(tmp_path, "keyed", KEYED)

    # When it runs, and the script's credentials are asked who they are
    with CloudSimulation() as simulation:
        boto3.client("s3").create_bucket(Bucket="container-exports")
        run = simulation.run_flow(flow)
        keys = next(task_run for task_run in run.task_runs if task_run.task_id == "keys").outputs
        identity = boto3.client(
            "sts",
            aws_access_key_id=str(keys["vars"]["key"]),
            aws_secret_access_key=str(keys["vars"]["secret"]),
            aws_session_token=str(keys["vars"]["token"]),
        ).get_caller_identity()["Arn"]

    # Then they are the flow's sandbox role's (the container's task role), as a script in the sandbox
    # function holds: not the flow role, whose base policy may invoke the task runner
    assert run.execution.state == "SUCCESS", [(t.task_id, t.state, t.error) for t in run.task_runs]
    role = sandbox_role_name("Stratoflow", "tests.containers", "keyed")
    assert identity.split("/")[1] == role


# A container script that outlives the timeout of the Sequential around it.
STOPPED = """id: stopped
namespace: tests.containers
tasks:
  - id: box
    type: Sequential
    timeout: PT3S
    tasks:
      - id: sleeper
        type: scripts.Commands
        taskRunner: {type: aws.runner.Fargate}
        commands: ["echo $$ > MARKER/pid", "sleep 60", "touch MARKER/woke"]
"""


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_container_is_stopped_when_the_flowable_around_it_times_out(tmp_path: Path) -> None:
    import time

    # Given a container script that sleeps a minute inside a Sequential with a 3-second timeout
    marker = tmp_path / "marker"
    marker.mkdir()
    flow = _write(tmp_path, "stopped", STOPPED.replace("MARKER", str(marker)))

    # When the flow runs locally
    result = CliRunner().invoke(cli, ["run", str(flow), "--home", str(tmp_path / "home")])

    # Then the Sequential timed out, and the container's script was killed as Step Functions stops the
    # ECS task of an abandoned `.sync` state (StopTask: SIGTERM, the command's group killed): it never
    # woke up (a bounded wait for the kill to land, not a measure of speed)
    assert result.exit_code == 1, result.output
    assert "timed out" in result.output
    pid = int((marker / "pid").read_text())
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)
    assert not (marker / "woke").exists()


def test_a_killed_execution_stops_its_container(tmp_path: Path) -> None:
    import textwrap
    import time

    from stratoflow.execution.control import request_kill
    from stratoflow.local import LocalPlatform
    from stratoflow.states import State

    # Given a container script that sleeps a minute, running on the local platform
    marker = tmp_path / "marker"
    marker.mkdir()
    source = textwrap.dedent(
        f"""
        id: killed
        namespace: tests.containers
        tasks:
          - id: sleeper
            type: scripts.Commands
            taskRunner: {{type: aws.runner.Fargate}}
            commands: ["echo $$ > {marker}/pid", "sleep 60", "touch {marker}/woke"]
        """
    )
    platform = LocalPlatform(tmp_path / "home")
    try:
        flow, record = platform.deploy_source(source, "killed.yaml")
        execution = platform.admit(flow, record, {})
        running = platform.start(execution)
        deadline = time.monotonic() + 60  # a bounded wait for the script to start, not a measure
        while not (marker / "pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        pid = int((marker / "pid").read_text())

        # When the execution is killed (`strato kill`)
        request_kill(platform.store, execution.id)
        outcome = platform.finish(execution, running)
    finally:
        platform.close()

    # Then it ends KILLED, and the container's script was stopped with it: it never woke up
    assert outcome.execution.state == State.KILLED
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)
    assert not (marker / "woke").exists()
