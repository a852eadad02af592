"""What `aws.ecs.RunTask` and `aws.batch.SubmitJob` record: the `.sync` result as bounded outputs, and
a failure that names the stop reason and exit code.

The runner's end call is tested with the events the state machine sends; the local engine path with a
fake ECS integration registered in the platform's `Resources` (moto's ASL interpreter has no ECS).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.domain import Execution
from stratoflow.engine import Resources, TaskCall, TaskError
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from tests.unit.tasks.task_helpers import RunFlow, flow_source, task_run

ECS_SYNC = "arn:aws:states:::ecs:runTask.sync"
ECS = """
- id: train
  type: aws.ecs.RunTask
  cluster: ml
  taskDefinition: trainer:7
  subnets: [subnet-1]
"""
BATCH = """
- id: crunch
  type: aws.batch.SubmitJob
  jobQueue: heavy
  jobDefinition: cruncher
"""
# What Step Functions hands over: the ECS task description, PascalCase, much more than the outputs.
STOPPED_TASK: dict[str, Any] = {
    "TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/ml/0f3c",
    "LastStatus": "STOPPED",
    "StopCode": "EssentialContainerExited",
    "StoppedReason": "Essential container in task exited",
    "Containers": [
        {"Name": "app", "ExitCode": 0, "LastStatus": "STOPPED", "Image": "trainer:7"},
        {"Name": "sidecar", "ExitCode": 137, "Reason": "OutOfMemoryError: Container killed"},
    ],
    "Overrides": {
        "ContainerOverrides": [{"Name": "app", "Environment": [{"Name": "X", "Value": "y" * 5000}]}]
    },
    "Attachments": [{"Type": "ElasticNetworkInterface", "Details": [{"Name": "subnetId", "Value": "s"}]}],
}


def start(platform: LocalPlatform, tasks: str, flow_id: str = "demo") -> tuple[LocalPlatform, dict[str, Any]]:
    """Deploy and admit a flow; the runner events' `execution` reference."""
    flow, record = platform.deploy_source(flow_source(tasks, flow_id=flow_id), "flow.yaml")
    execution: Execution = platform.admit(flow, record, {})
    ref = {"id": execution.id, "namespace": flow.namespace, "flowId": flow.id, "revision": record.revision}
    return platform, ref


def runner_call(platform: LocalPlatform, ref: dict[str, Any], action: str, task_id: str, **extra: Any) -> Any:
    return platform.runner.handle(
        {"action": action, "taskId": task_id, "execution": ref, "scope": None, **extra}
    )


# --- the compiled definition -------------------------------------------------------------------------


def test_the_sync_result_goes_to_the_end_call_which_then_replaces_it() -> None:
    # When
    states = compile_flow(load_flow(flow_source(ECS + "  allowFailure: true\n"))).definition["States"]

    # Then: the result waits inside the start call's result, which every path to the end call has set
    run, end, fail = states["train.run"], states["train.end"], states["train.fail"]
    assert run["ResultPath"] == "$.eval.service"
    assert end["Parameters"]["Payload"]["eval.$"] == "$.eval"
    # And the end call's small result overwrites it: the description is not carried further
    assert (end["ResultPath"], end["ResultSelector"]) == ("$.eval", {"result.$": "$.Payload"})
    # And a failure's Cause (the same description) is replaced once the failure call recorded it
    assert fail["Parameters"]["Payload"]["error.$"] == "$.error"
    assert (fail["ResultPath"], fail["ResultSelector"]) == ("$.error", {"result.$": "$.Payload"})
    assert run["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "Next": "train.fail", "ResultPath": "$.error"}


# --- the runner's end call ---------------------------------------------------------------------------


def test_the_end_call_records_the_ecs_task_as_bounded_outputs(platform: LocalPlatform) -> None:
    # Given a started ECS task whose description has long texts and many containers
    platform, ref = start(platform, ECS)
    runner_call(platform, ref, "start", "train")
    described = {
        **STOPPED_TASK,
        "StoppedReason": "r" * 5000,
        "Containers": [{"Name": f"c{i}", "ExitCode": 0} for i in range(50)],
    }

    # When the end call gets the `.sync` result
    result = runner_call(
        platform, ref, "end", "train", eval={"result": {"skip": False}, "service": described}
    )

    # Then the task run succeeded with the declared outputs only, cut to size
    assert result == {"state": "SUCCESS"}
    run = platform.store.get_task_run(ref["id"], _run_id(platform, ref, "train"))
    assert run is not None and run.state == State.SUCCESS
    assert set(run.outputs) == {"taskArn", "lastStatus", "stopCode", "stoppedReason", "containers"}
    assert run.outputs["taskArn"] == STOPPED_TASK["TaskArn"]
    assert run.outputs["stopCode"] == "EssentialContainerExited"
    assert len(run.outputs["stoppedReason"]) == 1000
    assert len(run.outputs["containers"]) == 20
    assert run.outputs["containers"][0] == {"name": "c0", "exitCode": 0, "reason": None}


def test_the_end_call_reads_a_batch_job_in_camel_case_with_the_exit_code_of_its_last_attempt(
    platform: LocalPlatform,
) -> None:
    # Given
    platform, ref = start(platform, BATCH)
    runner_call(platform, ref, "start", "crunch")
    job = {
        "jobId": "4c1b",
        "jobName": "crunch",
        "status": "SUCCEEDED",
        "statusReason": "Essential container in task exited",
        "attempts": [{"container": {"exitCode": 1}}, {"container": {"exitCode": 0}}],
        "container": {"image": "cruncher", "environment": [{"name": "X", "value": "y"}]},
    }

    # When
    runner_call(platform, ref, "end", "crunch", eval={"result": {"skip": False}, "service": job})

    # Then
    run = platform.store.get_task_run(ref["id"], _run_id(platform, ref, "crunch"))
    assert run is not None and run.outputs == {
        "jobId": "4c1b",
        "jobName": "crunch",
        "status": "SUCCEEDED",
        "statusReason": "Essential container in task exited",
        "exitCode": 0,
    }


def test_a_failed_job_is_recorded_with_its_stop_reason_and_exit_code(platform: LocalPlatform) -> None:
    # Given a started ECS task
    platform, ref = start(platform, ECS)
    runner_call(platform, ref, "start", "train")
    error = {"Error": "States.TaskFailed", "Cause": json.dumps(STOPPED_TASK)}

    # When the failure call gets the caught error
    with pytest.raises(TaskFailed) as raised:
        runner_call(platform, ref, "end", "train", error=error)

    # Then the failure names why it stopped, and the outputs say the same
    expected = (
        "States.TaskFailed: ECS task STOPPED (EssentialContainerExited): Essential container in task "
        "exited; container sidecar exit code 137 (OutOfMemoryError: Container killed)"
    )
    assert expected in raised.value.message
    run = platform.store.get_task_run(ref["id"], _run_id(platform, ref, "train"))
    assert run is not None and run.state == State.FAILED
    assert run.error == expected
    assert run.outputs["containers"][1]["exitCode"] == 137


def test_a_failed_batch_job_names_its_status_reason_and_exit_code(platform: LocalPlatform) -> None:
    platform, ref = start(platform, BATCH)
    runner_call(platform, ref, "start", "crunch")
    job = {"JobName": "crunch", "Status": "FAILED", "StatusReason": "Job attempt duration exceeded timeout"}
    job["Container"] = {"ExitCode": 3}

    with pytest.raises(TaskFailed, match=r"Batch job crunch FAILED: Job attempt duration exceeded timeout "):
        runner_call(
            platform, ref, "end", "crunch", error={"Error": "States.TaskFailed", "Cause": json.dumps(job)}
        )

    run = platform.store.get_task_run(ref["id"], _run_id(platform, ref, "crunch"))
    assert run is not None and run.error is not None and run.error.endswith("(exit code 3)")


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ({"Error": "States.Timeout", "Cause": ""}, "States.Timeout"),
        (
            {"Error": "ECS.AccessDeniedException", "Cause": "not allowed"},
            "ECS.AccessDeniedException: not allowed",
        ),
        (
            {"Error": "States.TaskFailed", "Cause": '{"unrelated": true}'},
            'States.TaskFailed: {"unrelated": true}',
        ),
    ],
)
def test_other_failures_keep_their_own_message(
    platform: LocalPlatform, error: dict[str, str], message: str
) -> None:
    platform, ref = start(platform, ECS)
    runner_call(platform, ref, "start", "train")

    with pytest.raises(TaskFailed):
        runner_call(platform, ref, "end", "train", error=error)

    run = platform.store.get_task_run(ref["id"], _run_id(platform, ref, "train"))
    assert run is not None and run.error == message and run.outputs == {}


def _run_id(platform: LocalPlatform, ref: dict[str, Any], task_id: str) -> str:
    runs = [r for r in platform.store.list_task_runs(ref["id"]) if r.task_id == task_id]
    return runs[-1].id


# --- the local engine, with a fake ECS integration --------------------------------------------------


class FakeEcs:
    """Answers `ecs:runTask.sync`: fails the first `failures` calls with the task's description."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.calls: list[dict[str, Any]] = []

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        self.calls.append(parameters)
        if len(self.calls) <= self.failures:
            failed = {**STOPPED_TASK, "Containers": [{"Name": "app", "ExitCode": 2}]}
            raise TaskError("States.TaskFailed", json.dumps(failed))
        return STOPPED_TASK


def with_ecs(platform: LocalPlatform, fake: FakeEcs) -> None:
    # The empty prefix hands every other resource to the platform's own handlers.
    platform.resources = Resources({ECS_SYNC: fake, "": platform.resources})


def test_locally_a_registered_ecs_handler_runs_the_task_and_later_tasks_read_its_outputs(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given
    fake = FakeEcs()
    with_ecs(platform, fake)
    tasks = ECS + '- {id: after, type: Return, format: "{{ outputs.train.containers[1].exitCode }}"}\n'

    # When
    outcome = run_flow(flow_source(tasks))

    # Then
    assert outcome.execution.state == State.SUCCESS
    assert fake.calls[0]["TaskDefinition"] == "trainer:7"
    assert task_run(outcome, "train").outputs["taskArn"] == STOPPED_TASK["TaskArn"]
    assert task_run(outcome, "after").outputs == {"value": 137}
    # And the description went no further than the end call
    assert "service" not in json.dumps(outcome.result.output)


def test_locally_a_failed_task_is_retried_by_its_policy(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given an ECS integration that fails once
    fake = FakeEcs(failures=1)
    with_ecs(platform, fake)

    # When the task retries once
    outcome = run_flow(flow_source(ECS + "  retry: {type: constant, maxAttempts: 2, interval: PT1S}\n"))

    # Then
    assert len(fake.calls) == 2
    assert outcome.execution.state == State.SUCCESS
    assert task_run(outcome, "train").outputs["lastStatus"] == "STOPPED"


def test_locally_a_failed_task_is_caught_and_recorded(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given an ECS integration that always fails, and an errors branch
    with_ecs(platform, FakeEcs(failures=99))
    source = (
        flow_source(ECS) + "errors:\n  - {id: alert, type: Log, message: '{{ errorLogs()[0].message }}'}\n"
    )

    # When
    outcome = run_flow(source)

    # Then the failure went to the errors branch, with the exit code in the task run's error
    assert outcome.execution.state == State.FAILED
    failed = task_run(outcome, "train")
    assert failed.state == State.FAILED
    assert failed.error is not None and "container app exit code 2" in failed.error
    assert task_run(outcome, "alert").state == State.SUCCESS


def test_locally_allow_failure_continues_with_a_warning_and_a_small_payload(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    with_ecs(platform, FakeEcs(failures=99))

    outcome = run_flow(flow_source(ECS + "  allowFailure: true\n- {id: after, type: Log, message: go}\n"))

    assert outcome.execution.state == State.WARNING
    assert task_run(outcome, "train").state == State.WARNING
    assert task_run(outcome, "after").state == State.SUCCESS
    assert "StoppedReason" not in json.dumps(outcome.result.output)
