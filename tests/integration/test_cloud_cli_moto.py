"""`strato deploy`, `flows list`, `execute` and the `--remote` history, as a user calls them, on moto.

The stack's resources are named with `--table`, `--flows-bucket` and `--admission` (moto 5.2.5's
CloudFormation needs packages this project does not install); reading them from the stack's outputs
is tested on a stubbed CloudFormation client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner, Result

from stratoflow.cli.main import cli
from stratoflow.cloud.config.stack import StackError, StackResources
from stratoflow.cloudsim.platform import CloudSimulation
from tests.integration.conftest import EXAMPLES

pytestmark = pytest.mark.slow

BROKEN = """id: broken
namespace: tests.cli
tasks:
  - id: say
    type: Log
    mesage: "typo in the property name"
"""


@pytest.fixture
def strato(sim: CloudSimulation, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `strato ARGS` against the simulated stack."""
    monkeypatch.setenv("STRATOFLOW_POLL_SECONDS", "0.02")
    stack = [
        "--table",
        sim.settings.stratoflow_table_name,
        "--flows-bucket",
        sim.settings.stratoflow_flows_bucket,
        "--admission",
        sim.settings.stratoflow_admission_arn,
    ]

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, [*args, *stack])

    return run


def test_deploy_uploads_and_reports_the_deployers_verdict(
    strato: Callable[..., Result], sim: CloudSimulation, tmp_path: Path
) -> None:
    # Given a folder with a valid flow and a broken one
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "hello.yaml").write_text((EXAMPLES / "hello.yaml").read_text())
    (tmp_path / "team" / "broken.yaml").write_text(BROKEN)

    # When it is deployed
    result = strato("deploy", str(tmp_path / "team"), "--prefix", "cli/")

    # Then the valid flow is deployed, the broken one refused with its file and line, and the exit is 1
    assert result.exit_code == 1, result.output
    assert "deployed examples.hello revision 1" in result.stdout
    assert f"refused tests.cli.broken ({tmp_path / 'team' / 'broken.yaml'})" in result.stderr
    assert f"{tmp_path / 'team' / 'broken.yaml'}:6:5" in result.stderr
    assert sim.store.get_flow_head("tests.cli", "broken").status == "INVALID"  # type: ignore[union-attr]
    keys = [
        o["Key"]
        for o in sim.clients.s3.list_objects_v2(Bucket=sim.settings.stratoflow_flows_bucket)["Contents"]
    ]
    assert {"cli/hello.yaml", "cli/broken.yaml"} <= set(keys)

    # When the valid one alone is deployed again, the exit is 0 and nothing changes
    again = strato("deploy", str(tmp_path / "team" / "hello.yaml"), "--prefix", "cli/")
    assert again.exit_code == 0, again.output
    assert "revision 1" in again.stdout and "unchanged" in again.stdout


def test_a_bulk_deploy_waits_for_each_batch_before_uploading_the_next(
    strato: Callable[..., Result], tmp_path: Path
) -> None:
    # Given three flow files
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(
            f"id: bulk_{name}\nnamespace: tests.cli\ntasks:\n  - {{id: t, type: Log, message: m}}\n"
        )

    # When they are deployed two at a time
    result = strato("deploy", str(tmp_path), "--prefix", "bulk/", "--batch", "2")

    # Then the third is uploaded only once the first two have their verdicts
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("deployed tests.cli.bulk_b") < out.index("2 of 3 file(s) handled")
    assert out.index("2 of 3 file(s) handled") < out.index("uploaded " + str(tmp_path / "c.yaml"))
    assert "deployed tests.cli.bulk_c revision 1" in out


def test_flows_list_shows_every_flow_with_its_status(
    strato: Callable[..., Result], sim: CloudSimulation
) -> None:
    # Given a deployed flow and a refused one
    sim.upload("cli/listed.yaml", (EXAMPLES / "etl.yaml").read_text())
    sim.upload("cli/broken.yaml", BROKEN)

    # When the flows are listed
    result = strato("flows", "list", "--json")

    # Then both appear with their status
    assert result.exit_code == 0, result.output
    heads = {(h["namespace"], h["flowId"]): h for h in json.loads(result.stdout)}
    assert heads[("examples.data", "etl")]["status"] == "DEPLOYED"
    assert heads[("examples.data", "etl")]["deployedRevision"] == 1
    assert heads[("tests.cli", "broken")]["status"] == "INVALID"
    table = strato("flows", "list", "--namespace", "examples.data")
    assert "examples.data.etl" in table.stdout and "tests.cli.broken" not in table.stdout


def test_execute_starts_through_admission_and_waits_for_the_end(
    strato: Callable[..., Result], sim: CloudSimulation
) -> None:
    # Given the etl flow (its namespace has a dot: the stack's flows tell where the id starts)
    sim.upload("cli/etl.yaml", (EXAMPLES / "etl.yaml").read_text())

    # When it is executed with an input, waiting for the end
    result = strato("execute", "examples.data.etl", "--input", "multiplier=2", "--wait", "--json")

    # Then the document is the one `strato run --json` prints, for the stack's execution
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["state"] == "SUCCESS"
    assert document["flow"] == {"namespace": "examples.data", "id": "etl", "revision": 1}
    assert document["outputs"]["summary"]["rows_per_region"] == 6
    execution = sim.store.get_execution(document["executionId"])
    assert execution is not None and execution.inputs["multiplier"] == 2


def test_execute_refuses_a_bad_input_with_exit_2(strato: Callable[..., Result], sim: CloudSimulation) -> None:
    sim.upload("cli/etl.yaml", (EXAMPLES / "etl.yaml").read_text())

    result = strato("execute", "examples.data.etl", "--input", "multiplier=0")

    assert result.exit_code == 2
    assert "input 'multiplier'" in result.stderr


def test_the_remote_history_reads_the_stacks_table(
    strato: Callable[..., Result], sim: CloudSimulation
) -> None:
    # Given an execution on the stack
    sim.upload("cli/hello.yaml", (EXAMPLES / "hello.yaml").read_text())
    started = sim.start("examples", "hello", {"name": "Remote"})
    done = sim.wait(str(started.execution_arn)).execution

    # When the history is read with --remote
    listed = strato("executions", "list", "--remote", "--flow", "hello", "--namespace", "examples", "--json")
    shown = strato("executions", "show", done.id, "--remote", "--json")
    logged = strato("logs", done.id, "--remote", "--task", "greet")

    # Then it is the stack's history
    assert listed.exit_code == 0, listed.output
    assert done.id in [e["id"] for e in json.loads(listed.stdout)]
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert (document["state"], [r["taskId"] for r in document["taskRuns"]]) == (
        "SUCCESS",
        ["greet", "greeting"],
    )
    assert logged.exit_code == 0, logged.output
    assert "greet: Hello, Remote!" in logged.stdout


def describe_stacks_response(outputs: dict[str, str]) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "Stratoflow",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def test_stack_resources_come_from_the_stack_outputs_unless_given() -> None:
    # Given a CloudFormation client answering DescribeStacks for the stack
    client = boto3.client("cloudformation", region_name="us-east-1")
    outputs = {"FlowsBucketName": "flows-b", "TableName": "table-t", "AdmissionFunctionArn": "arn:admission"}
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", describe_stacks_response(outputs), {"StackName": "Stratoflow"})
        # When the table is given and the rest is needed
        resources = StackResources.resolve(
            "Stratoflow", {"table": "mine"}, ["table", "flows_bucket", "admission_arn"], lambda: client
        )
        stub.assert_no_pending_responses()

    # Then the given name wins and the others come from the outputs
    assert (resources.table, resources.flows_bucket, resources.admission_arn) == (
        "mine",
        "flows-b",
        "arn:admission",
    )

    # When everything needed is given, the stack is not read at all
    def no_cloudformation() -> Any:
        raise AssertionError("the stack must not be read")

    given = StackResources.resolve("Other", {"table": "t"}, ["table"], no_cloudformation)
    assert given.table == "t"


def test_a_missing_stack_or_output_is_a_clear_error() -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_stacks",
            "ValidationError",
            "Stack with id Nope does not exist",
            expected_params={"StackName": "Nope"},
        )
        stub.add_response(
            "describe_stacks", describe_stacks_response({"TableName": "t"}), {"StackName": "Half"}
        )
        with pytest.raises(StackError, match="cannot read stack Nope"):
            StackResources.resolve("Nope", {}, ["table"], lambda: client)
        with pytest.raises(StackError, match="stack Half has no output FlowsBucketName"):
            StackResources.resolve("Half", {}, ["flows_bucket"], lambda: client)
