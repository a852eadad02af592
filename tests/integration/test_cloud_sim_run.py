"""`strato run FLOW --cloud-sim`: the deployed code path on moto prints what the local engine prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from stratoflow.cli.main import cli
from tests.integration.conftest import EXAMPLES

pytestmark = pytest.mark.slow


def strato(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The run document without what differs between two runs: ids (and the order of racing branches)."""
    ids = {run["id"]: run["taskId"] + "/" + str(run["value"]) for run in document["taskRuns"]}
    runs = [
        {**run, "id": ids[run["id"]], "parentTaskRunId": ids.get(run["parentTaskRunId"])}
        for run in document["taskRuns"]
    ]
    # A root execution's correlation id is its own id.
    labels = {
        k: "<own id>" if v == document["executionId"] else v for k, v in document.get("labels", {}).items()
    }
    return {
        **{k: v for k, v in document.items() if k not in ("executionId", "taskRuns", "stepFunctions")},
        "labels": labels,
        "taskRuns": sorted(runs, key=lambda run: json.dumps(run, sort_keys=True)),
        # moto's history and the local engine's count must agree: what the cloud-sim reports of it
        "historyEvents": document["stepFunctions"]["historyEvents"],
    }


@pytest.mark.parametrize(
    ("example", "inputs"), [("hello", ["--input", "name=Ada"]), ("etl", ["--input", "multiplier=3"])]
)
def test_the_cloud_simulation_prints_the_local_document(
    example: str, inputs: list[str], tmp_path: Path
) -> None:
    flow = str(EXAMPLES / f"{example}.yaml")

    # When the flow runs locally and on the cloud simulation
    local = strato("run", flow, *inputs, "--json", "--home", str(tmp_path))
    cloud = strato("run", flow, *inputs, "--json", "--cloud-sim")

    # Then both succeed with the same document, ids aside
    assert (local.exit_code, cloud.exit_code) == (0, 0), cloud.output
    local_document, cloud_document = json.loads(local.stdout), json.loads(cloud.stdout)
    assert cloud_document["state"] == "SUCCESS"
    assert comparable(cloud_document) == comparable(local_document)
    assert cloud_document["executionId"] != local_document["executionId"]


def test_a_flow_with_subflows_is_refused_with_the_reason(tmp_path: Path) -> None:
    result = strato("run", str(EXAMPLES / "subflow_parent.yaml"), "--cloud-sim")

    assert result.exit_code == 2
    assert "call_child" in result.stderr and "states:startExecution" in result.stderr


def test_invalid_flows_and_inputs_exit_2_as_locally(tmp_path: Path) -> None:
    # Given a flow with an unknown task type
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: broken\nnamespace: tests.sim\ntasks:\n  - id: t\n    type: Nope\n")

    # When each runs on the cloud simulation
    invalid = strato("run", str(broken), "--cloud-sim")
    bad_input = strato("run", str(EXAMPLES / "etl.yaml"), "--cloud-sim", "--input", "multiplier=0")

    # Then both are refused before anything runs, with the deployer's and admission's messages
    assert invalid.exit_code == 2
    assert f"{broken}:5:5: tasks[0].type: unknown task type 'Nope'" in invalid.stderr
    assert bad_input.exit_code == 2
    assert "input 'multiplier'" in bad_input.stderr


def test_a_failing_flow_exits_1(tmp_path: Path) -> None:
    failing = tmp_path / "failing.yaml"
    failing.write_text("id: failing\nnamespace: tests.sim\ntasks:\n  - id: boom\n    type: Fail\n")

    result = strato("run", str(failing), "--cloud-sim")

    assert result.exit_code == 1
    assert "FAILED" in result.stdout
