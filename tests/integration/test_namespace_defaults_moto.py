"""Namespace plugin defaults in the cloud: the deployer reads them from the stack's table (where
`strato namespaces defaults --remote` writes them) and compiles the flow with them; locally a
container-run script runs as a process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.namespaces import set_plugin_defaults
from tests.unit.cli.test_namespace_defaults_cmd import DEFAULTS, LONG_SCRIPT
from tests.unit.runtime.test_namespace_defaults_run import FARGATE

pytestmark = pytest.mark.slow


def test_the_deployer_compiles_a_flow_with_its_namespaces_task_runner_default(sim: CloudSimulation) -> None:
    # Given `company` runs scripts on Fargate by default, in the stack's table
    set_plugin_defaults(sim.store, "company", FARGATE)

    # When a flow of company.team with a two-hour script is uploaded
    verdict = sim.upload("company/long.yaml", LONG_SCRIPT)

    # Then it deployed with its script as an ECS Fargate task, and its revision records the defaults
    assert verdict.status == "DEPLOYED", verdict.message
    arn = sim.deployer.target("company.team", "long").state_machine_arn
    definition = sim.clients.stepfunctions.describe_state_machine(stateMachineArn=arn)["definition"]
    assert "arn:aws:states:::ecs:runTask.sync" in definition
    record = sim.store.get_flow("company.team", "long")
    assert record is not None and record.namespace_defaults[0]["namespace"] == "company"


def test_without_them_the_same_script_is_refused_naming_the_option(sim: CloudSimulation) -> None:
    # (a namespace without defaults: the simulation may be shared with the test above)
    verdict = sim.upload("elsewhere/long.yaml", LONG_SCRIPT.replace("company.team", "elsewhere.team"))
    assert verdict.status == "INVALID" and "taskRunner: {type: aws.runner.Fargate}" in verdict.errors[0]


def test_strato_run_runs_a_script_its_namespace_sends_to_fargate_as_a_local_process(tmp_path: Path) -> None:
    # Given `company`'s Fargate default in the local history
    defaults, flow = tmp_path / "defaults.yaml", tmp_path / "long.yaml"
    defaults.write_text(DEFAULTS, encoding="utf-8")
    flow.write_text(LONG_SCRIPT, encoding="utf-8")
    home = str(tmp_path / "home")
    CliRunner().invoke(cli, ["namespaces", "defaults", "company", "--file", str(defaults), "--home", home])

    # When the flow runs
    result = CliRunner().invoke(cli, ["run", str(flow), "--json", "--home", home])

    # Then it succeeds, its script run as a process of this machine, as the run says
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "SUCCESS"
    assert "py (an ECS Fargate container on AWS)" in result.stderr
