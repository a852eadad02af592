"""The task-runner and admission handlers' metrics and log lines, imported as Lambda imports them."""

from __future__ import annotations

import importlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from stratoflow.cloudsim.delivery import start_latest_versions
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.engine.lambdas import LambdaContext
from stratoflow.errors import NotFoundError
from stratoflow.execution.admission import admit
from stratoflow.flow import load_flow
from stratoflow.runner_call import InvalidRunnerCall
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from tests.integration.conftest import event_fixture

pytestmark = pytest.mark.slow

FLOW = """id: measured
namespace: tests.metrics
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: boom
    type: Fail
    errorMessage: broken on purpose
"""


@pytest.fixture(scope="module")
def handlers(sim: CloudSimulation) -> Iterator[dict[str, ModuleType]]:
    """functions/<name>/handler.py of the task runner and admission, on the simulated stack."""
    environment = {name.upper(): str(value) for name, value in sim.settings.model_dump().items()}
    environment.update(
        {"POWERTOOLS_METRICS_NAMESPACE": "Stratoflow", "POWERTOOLS_SERVICE_NAME": "stratoflow-test"}
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        modules = {}
        for name in ("task_runner", "admission"):
            module_name = f"functions.{name}.handler"
            sys.modules.pop(module_name, None)  # settings are read at import: import on this stack
            modules[name] = importlib.import_module(module_name)
        start_latest_versions(modules["admission"].admission.starter.stepfunctions)
        yield modules


@pytest.fixture
def log_lines(handlers: dict[str, ModuleType]) -> Iterator[io.StringIO]:
    """What the task runner's Powertools logger writes during a test."""
    buffer = io.StringIO()
    handler = handlers["task_runner"].logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def context(name: str) -> LambdaContext:
    return LambdaContext(
        function_name=name, invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    )


def emf_documents(output: str) -> dict[str, dict[str, Any]]:
    """The CloudWatch EMF documents Powertools printed, by metric name."""
    documents = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for definition in directive["Metrics"]:
                    documents[definition["Name"]] = document
    return documents


def run_event(execution_id: str, task_id: str) -> dict[str, Any]:
    ref = {"id": execution_id, "namespace": "tests.metrics", "flowId": "measured", "revision": 1}
    return {"action": "run", "taskId": task_id, "execution": ref, "scope": None}


def test_a_task_run_that_ends_publishes_its_outcome_and_duration_per_flow_and_task_type(
    sim: CloudSimulation,
    handlers: dict[str, ModuleType],
    capsys: pytest.CaptureFixture[str],
    log_lines: io.StringIO,
) -> None:
    # Given an execution of a deployed flow
    sim.upload("metrics/measured.yaml", FLOW)
    execution, _ = admit(sim.store, load_flow(FLOW), 1, {}, execution_id="measured-1")
    capsys.readouterr()

    # When the task runner runs its Log task
    result = handlers["task_runner"].lambda_handler(run_event(execution.id, "say"), context("task-runner"))

    # Then the task run's outcome and duration are published with the dimensions Flow and TaskType
    assert result == {"state": "SUCCESS"}
    documents = emf_documents(capsys.readouterr().out)
    assert set(documents) == {"TaskRunsSucceeded", "TaskDuration"}
    document = documents["TaskDuration"]
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Flow", "TaskType"]]
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stratoflow"
    assert (document["Flow"], document["TaskType"]) == ("tests.metrics.measured", "Log")
    assert "service" not in document
    # ... the ids only as metadata
    assert (document["executionId"], document["taskId"], document["attempts"]) == ("measured-1", "say", 1)
    run = sim.store.list_task_runs(execution.id)[0]
    assert document["taskRunId"] == run.id
    # ... and its log line names the execution, flow, task and attempt
    [line] = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert line["message"] == "task action done" and line["state"] == "SUCCESS"
    assert (line["execution_id"], line["flow"], line["task_id"], line["attempt"]) == (
        "measured-1",
        "tests.metrics.measured",
        "say",
        1,
    )


def test_a_failed_task_publishes_its_failure_and_logs_the_attempt(
    sim: CloudSimulation,
    handlers: dict[str, ModuleType],
    capsys: pytest.CaptureFixture[str],
    log_lines: io.StringIO,
) -> None:
    # Given an execution of a deployed flow
    sim.upload("metrics/measured.yaml", FLOW)
    execution, _ = admit(sim.store, load_flow(FLOW), 1, {}, execution_id="measured-2")
    capsys.readouterr()

    # When its Fail task runs, and fails
    with pytest.raises(TaskFailed):
        handlers["task_runner"].lambda_handler(run_event(execution.id, "boom"), context("task-runner"))

    # Then the task run counts as failed for its type, and the failed attempt for the flow
    documents = emf_documents(capsys.readouterr().out)
    assert set(documents) == {"TaskRunsFailed", "TaskDuration", "TaskFailures", "TaskErrors"}
    failed = documents["TaskRunsFailed"]
    assert (failed["TaskType"], failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"]) == (
        "Fail",
        [["Flow", "TaskType"]],
    )
    attempts = documents["TaskFailures"]
    assert attempts["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Flow"]]
    assert "service" not in attempts and attempts["executionId"] == "measured-2"
    # ... and once without dimensions: the platform alarm subtracts it from the Lambda errors
    errors = documents["TaskErrors"]
    assert errors["_aws"]["CloudWatchMetrics"][0]["Dimensions"] in ([], [[]])
    # ... and the failure's log line carries the attempt
    [line] = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert (line["message"], line["error_type"], line["attempt"]) == ("task action failed", "TaskFailed", 1)


def test_admission_publishes_the_queue_wait_of_what_it_starts(
    sim: CloudSimulation, handlers: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed flow
    sim.upload("metrics/measured.yaml", FLOW)
    capsys.readouterr()

    # When admission starts an execution of it
    started = handlers["admission"].lambda_handler(
        event_fixture("admission_start", {"namespace": "tests.metrics", "flowId": "measured", "inputs": {}}),
        context("admission"),
    )

    # Then the time it waited is published for its flow, the execution id as metadata
    assert started["state"] == str(State.RUNNING)
    sim.status_events.track(started["executionArn"])
    documents = emf_documents(capsys.readouterr().out)
    wait = documents["QueueWait"]
    assert wait["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Flow"]]
    assert wait["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "QueueWait", "Unit": "Milliseconds"}]
    assert wait["Flow"] == "tests.metrics.measured" and wait["executionId"] == started["executionId"]
    [waited] = wait["QueueWait"]
    assert waited >= 0
    assert "StartsAdmitted" in documents
    assert sim.wait(started["executionArn"]).execution.state == State.FAILED  # its `boom` task


def test_a_fault_of_the_runner_is_not_counted_as_a_task_failure(
    sim: CloudSimulation,
    handlers: dict[str, ModuleType],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an event about an execution that does not exist (the platform's fault, not a task's)
    capsys.readouterr()

    # When the task runner handles it
    with pytest.raises(NotFoundError):
        handlers["task_runner"].lambda_handler(run_event("no-such-execution", "say"), context("task-runner"))

    # Then no task failure is published: the errors alarm (Lambda Errors - TaskErrors) counts it
    documents = emf_documents(capsys.readouterr().out)
    assert "TaskErrors" not in documents and "TaskFailures" not in documents


def test_a_call_that_does_not_fit_the_contract_is_a_fault_naming_the_field(
    sim: CloudSimulation,
    handlers: dict[str, ModuleType],
    capsys: pytest.CaptureFixture[str],
    log_lines: io.StringIO,
) -> None:
    # Given a Payload whose state machine sent no callback token with a pause call
    event = {**run_event("measured-1", "say"), "action": "pause"}
    capsys.readouterr()

    # When the task runner handles it
    with pytest.raises(InvalidRunnerCall, match="taskToken: Field required"):
        handlers["task_runner"].lambda_handler(event, context("task-runner"))

    # Then it is logged as a fault of the platform, and no task failure is published
    [line] = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert (line["message"], line["error_type"]) == ("task runner fault", "InvalidRunnerCall")
    documents = emf_documents(capsys.readouterr().out)
    assert "TaskErrors" not in documents and "TaskFailures" not in documents


SLA_FLOW = """id: timed
namespace: tests.metrics
sla:
  - id: within_an_hour
    type: MAX_DURATION
    duration: PT1H
    behavior: NONE
    labels:
      sla: miss
tasks:
  - id: say
    type: Log
    message: hi
"""


def test_admission_applies_an_sla_timer_and_publishes_sla_missed(
    sim: CloudSimulation, handlers: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a running execution of a flow with a NONE duration SLA
    sim.upload("metrics/timed.yaml", SLA_FLOW)
    execution, _ = admit(sim.store, load_flow(SLA_FLOW), 1, {}, execution_id="timed-1")
    sim.store.update_execution(execution.id, state=State.RUNNING)
    capsys.readouterr()

    # When its timer's schedule delivers to admission
    event = {"sla": {"executionId": "timed-1", "slaId": "within_an_hour"}}
    answered = handlers["admission"].lambda_handler(event, context("admission"))

    # Then the miss is recorded and SlaMissed published per SLA, per flow and stack-wide
    assert answered == {"executionId": "timed-1", "slaMissed": True}
    labelled = sim.store.get_execution("timed-1")
    assert labelled is not None and labelled.labels["sla"] == "miss"
    documents = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"SlaMissed"' in line and '"_aws"' in line
    ]
    assert sorted(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for d in documents) == [
        [[]],
        [["Flow"]],
        [["Flow", "Sla"]],
    ]
    assert {(d.get("Flow"), d.get("Sla"), d["slaId"]) for d in documents} == {
        ("tests.metrics.timed", "within_an_hour", "within_an_hour"),
        ("tests.metrics.timed", None, "within_an_hour"),
        (None, None, "within_an_hour"),
    }
