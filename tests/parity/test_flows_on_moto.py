"""One artifact, two engines: flows compiled once, run on the local engine and on moto's ASL interpreter.

The task-runner handler answers Lambda on both (in-process on moto through the Lambda hook), each
with its own store; the final state, outputs and task runs must be the same, and so must the number of
history events (the local engine counts them as Step Functions does, to enforce its 25,000 limit). Subflows are left out:
moto 5.2.5 cannot run `states:startExecution`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratoflow.cloud.runtime.callbacks import StepFunctionsCallbacks
from stratoflow.cloudsim import moto_stepfunctions
from stratoflow.compiler import substitute
from stratoflow.engine import VirtualClock
from stratoflow.execution.admission import admit, execution_input
from stratoflow.execution.finalize import finalize_execution
from stratoflow.execution.runner import TaskRunner, flowables
from stratoflow.execution.secrets import environment_secrets
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.local.deploy import deploy_flow
from stratoflow.store import open_local_store
from stratoflow.store.s3 import S3BlobStore

ROOT = Path(__file__).resolve().parents[2]
FLOWS = [
    ROOT / "examples" / "hello.yaml",
    ROOT / "examples" / "etl.yaml",
    ROOT / "examples" / "retries.yaml",
    *sorted((ROOT / "tests" / "fixtures" / "flows").glob("*.yaml")),
]
RUNNER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:stratoflow-task-runner"
DATA_BUCKET = "stratoflow-data"

pytestmark = pytest.mark.slow


def summary(store: Any, execution_id: str) -> dict[str, Any]:
    """What must match: state, outputs, labels and every task run (order-free: branches race)."""
    execution = store.get_execution(execution_id)
    runs = store.list_task_runs(execution_id)
    return {
        "state": str(execution.state),
        "outputs": execution.outputs,
        # A root execution's correlation id is its own id: equal as such, not by value.
        "labels": {k: "<own id>" if v == execution.id else v for k, v in execution.labels.items()},
        "taskRuns": sorted(
            (
                r.task_id,
                r.value or "",
                r.iteration if r.iteration is not None else -1,
                str(r.state),
                len(r.attempts),
                json.dumps(
                    {k: v for k, v in r.outputs.items() if k != "__stratoflow_blob__"}, sort_keys=True
                ),
            )
            for r in runs
        ),
    }


def run_locally(path: Path, home: Path) -> dict[str, Any]:
    platform = LocalPlatform(home, clock=VirtualClock())
    try:
        flow, record = platform.deploy_file(path)
        outcome = platform.run(platform.admit(flow, record, {}))
        return {**summary(platform.store, outcome.execution.id), "events": outcome.result.history_events}
    finally:
        platform.close()


def run_on_moto(path: Path, home: Path) -> dict[str, Any]:
    store, _ = open_local_store(home)
    try:
        source = path.read_text()
        flow = load_flow(source, str(path))
        record = deploy_flow(store, flow, source)
        execution, _ = admit(store, flow, record.revision, {})
        assert record.definition is not None
        definition = substitute(
            record.definition, {"TaskRunnerFunctionArn": RUNNER_ARN, "DataBucketName": DATA_BUCKET}
        )
        with moto_stepfunctions() as sfn:
            # Blobs in moto's S3: a distributed Map's ItemReader and ResultWriter go there
            boto3.client("s3").create_bucket(Bucket=DATA_BUCKET)
            blobs = S3BlobStore(DATA_BUCKET, prefix="data")
            runner = TaskRunner(
                store,
                blobs,
                callbacks=StepFunctionsCallbacks(boto3.client("stepfunctions")),
                secrets=environment_secrets(),
            )
            assert sfn.lambdas is not None
            sfn.lambdas.functions["stratoflow-task-runner"] = lambda event, _context: runner.handle(event)
            store.update_execution(execution.id, state="RUNNING")
            result = sfn.run(definition, execution_input(execution), name=execution.id, timeout=60)
            events = len(sfn.history(result.execution_arn))
        finalize_execution(store, execution.id, result.status, result.error)
        return {**summary(store, execution.id), "events": events}
    finally:
        store.close()


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.stem)
def test_flow_behaves_the_same_on_the_local_engine_and_on_moto(path: Path, tmp_path: Path) -> None:
    local = run_locally(path, tmp_path / "local")
    moto = run_on_moto(path, tmp_path / "moto")
    assert moto == local


@pytest.mark.parametrize("name", ["loops", "large_loop_values"])
def test_loops_of_child_executions_behave_the_same(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no history budget for inline iterations: every loop runs as a distributed Map
    monkeypatch.setattr(flowables, "LOOP_EVENT_BUDGET", 0)
    path = ROOT / "tests" / "fixtures" / "flows" / f"{name}.yaml"

    # When the flow runs on both engines (moto reads the items from its S3, the engine from the folder)
    local = run_locally(path, tmp_path / "local")
    moto = run_on_moto(path, tmp_path / "moto")

    # Then the same task runs and outputs, and the same parent history (the Map Runs, not the items)
    assert moto == local
    assert local["events"] < 40
