"""The three thin Lambda handlers, imported as Lambda imports them (settings from the environment),
fed the recorded events of tests/fixtures/events."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from stratoflow.cloudsim.delivery import start_latest_versions
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.domain import Attempt, TaskRun
from stratoflow.engine.lambdas import LambdaContext
from stratoflow.states import State
from tests.integration.conftest import EXAMPLES, event_fixture

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def handlers(sim: CloudSimulation) -> Iterator[dict[str, ModuleType]]:
    """functions/<name>/handler.py of deployer, admission and execution_events, on the simulated stack."""
    environment = {name.upper(): str(value) for name, value in sim.settings.model_dump().items()}
    environment.update(
        {
            "POWERTOOLS_METRICS_NAMESPACE": "Stratoflow",
            "POWERTOOLS_SERVICE_NAME": "stratoflow-test",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        modules = {}
        for name in ("deployer", "admission", "execution_events"):
            module_name = f"functions.{name}.handler"
            sys.modules.pop(module_name, None)  # settings are read at import: import on this stack
            modules[name] = importlib.import_module(module_name)
        # moto cannot start state machine versions: the simulation's adaptation, on the handler's client
        start_latest_versions(modules["admission"].admission.starter.stepfunctions)
        yield modules


def context(name: str) -> LambdaContext:
    return LambdaContext(
        function_name=name, invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    )


def emf_documents(output: str) -> list[dict[str, Any]]:
    """The CloudWatch EMF documents Powertools printed."""
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def test_the_deployer_handler_deploys_the_object_an_eventbridge_event_names(
    sim: CloudSimulation, handlers: dict[str, ModuleType]
) -> None:
    # Given a flow file in the flows bucket (uploaded without the simulation's delivery)
    bucket = sim.settings.stratoflow_flows_bucket
    sim.uploads.uninstall()
    try:
        put = sim.clients.s3.put_object(
            Bucket=bucket, Key="handlers/hello.yaml", Body=(EXAMPLES / "hello.yaml").read_bytes()
        )
    finally:
        sim.uploads.install()
    event = event_fixture(
        "s3_object_created",
        {
            "detail.bucket.name": bucket,
            "detail.object.key": "handlers/hello.yaml",
            "detail.object.version-id": put["VersionId"],
        },
    )

    # When EventBridge delivers the "Object Created" event to the deployer function
    verdict = handlers["deployer"].lambda_handler(event, context("deployer"))

    # Then the flow is deployed and the verdict returned
    assert (verdict["status"], verdict["namespace"], verdict["flowId"], verdict["revision"]) == (
        "DEPLOYED",
        "examples",
        "hello",
        1,
    )
    assert sim.store.get_flow("examples", "hello") is not None


def test_the_admission_handler_starts_or_refuses(
    sim: CloudSimulation, handlers: dict[str, ModuleType]
) -> None:
    # Given the deployed hello and etl flows
    sim.upload("handlers/hello.yaml", (EXAMPLES / "hello.yaml").read_text())
    sim.upload("handlers/etl.yaml", (EXAMPLES / "etl.yaml").read_text())

    # When the admission function gets a start, and one with an input it cannot take
    started = handlers["admission"].lambda_handler(event_fixture("admission_start"), context("admission"))
    refused = handlers["admission"].lambda_handler(
        event_fixture(
            "admission_start", {"namespace": "examples.data", "flowId": "etl", "inputs": {"multiplier": 0}}
        ),
        context("admission"),
    )

    # Then the first runs, the second is refused naming the input
    assert started["state"] == "RUNNING" and started["executionArn"].endswith(started["executionId"])
    sim.status_events.track(started["executionArn"])
    assert sim.wait(started["executionArn"]).execution.outputs == {"greeting": "Hello, Ada!"}
    assert (refused["state"], refused["input"]) == ("REFUSED", "multiplier")


def test_the_execution_events_handler_records_the_end_and_publishes_flow_metrics_only(
    sim: CloudSimulation, handlers: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an execution admitted and running, without status events yet
    sim.upload("handlers/hello.yaml", (EXAMPLES / "hello.yaml").read_text())
    from stratoflow.execution.admission import admit
    from stratoflow.flow import load_flow

    execution, _ = admit(
        sim.store, load_flow((EXAMPLES / "hello.yaml").read_text()), 1, {}, execution_id="handler-1"
    )
    # ... its first task running when Step Functions stops it
    sim.store.save_task_run(
        TaskRun(
            id="handler-1-greet",
            execution_id=execution.id,
            task_id="greet",
            task_type="io.kestra.plugin.core.log.Log",
            state=State.RUNNING,
            attempts=[Attempt(state=State.RUNNING)],
        )
    )
    capsys.readouterr()

    # When the RUNNING then ABORTED status events arrive
    handler = handlers["execution_events"].lambda_handler
    running = handler(event_fixture("sfn_status_running", {"detail.name": execution.id}), context("events"))
    aborted = handler(event_fixture("sfn_status_aborted", {"detail.name": execution.id}), context("events"))

    # Then the record went RUNNING, then KILLED
    assert (running["state"], aborted["state"]) == ("RUNNING", "KILLED")
    # ... and the metrics carry the Flow dimension and nothing else (no Powertools `service`)
    documents = emf_documents(capsys.readouterr().out)
    metrics = {
        definition["Name"]: document
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for definition in directive["Metrics"]
    }
    assert {"ExecutionsStarted", "ExecutionsKilled", "ExecutionDuration", "TaskRunsKilled"} <= set(metrics)
    for document in documents:
        dimensions = [["Flow", "TaskType"]] if "TaskRunsKilled" in document else [["Flow"]]
        assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == dimensions
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stratoflow"
        assert document["Flow"] == "examples.hello"
        assert "service" not in document
    # ... the task run the end closed counts as killed for its type, like one the runner ends
    closed = metrics["TaskRunsKilled"]
    assert (closed["TaskType"], closed["taskId"], closed["executionId"]) == ("Log", "greet", "handler-1")
    assert sim.store.get_task_run(execution.id, "handler-1-greet").state == State.KILLED  # type: ignore[union-attr]
