"""`strato stack`: the CDK CLI command it runs, and the one-line errors when a prerequisite is missing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli import stack_cmd
from stratoflow.cli.main import cli

ROOT = Path(__file__).resolve().parents[3]


def test_the_command_runs_the_pinned_cdk_cli_on_the_packaged_app() -> None:
    # When synth is asked with a setting and an argument for the CDK CLI
    command = stack_cmd.cdk_command(
        "synth", python="/venv/bin/python", workdir=Path("/w"), context=["stackName=Dev"], extra=["--quiet"]
    )

    # Then npx runs the pinned aws-cdk on `python -m stratoflow._platform.app`, output under the workdir
    assert command == [
        "npx",
        "--yes",
        f"aws-cdk@{stack_cmd.CDK_CLI_VERSION}",
        "synth",
        "--app",
        "/venv/bin/python -m stratoflow._platform.app",
        "--output",
        "/w/cdk.out",
        "--context",
        "stackName=Dev",
        "--quiet",
    ]


def test_the_pinned_cdk_cli_is_the_one_of_package_lock() -> None:
    # Given the CDK CLI the repository's lock installs
    lock = json.loads((ROOT / "package-lock.json").read_text())

    # Then the packaged command pins the same version
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == stack_cmd.CDK_CLI_VERSION


def test_missing_cloud_extra_names_the_install_line() -> None:
    problem = stack_cmd.missing_prerequisite("synth", which=lambda _: "/bin/x", has_module=lambda _: False)

    assert problem == "strato stack needs the deploy side of stratoflow: pip install 'stratoflow[cloud]'"


def test_missing_node_is_one_line_naming_nodejs() -> None:
    problem = stack_cmd.missing_prerequisite("synth", which=lambda _: None, has_module=lambda _: True)

    assert problem is not None
    assert "Node.js 18 or later" in problem
    assert "npx was not found" in problem
    assert "\n" not in problem


@pytest.mark.parametrize("verb", ["diff", "deploy", "destroy"])
def test_verbs_that_talk_to_aws_need_credentials(verb: str) -> None:
    problem = stack_cmd.missing_prerequisite(
        verb, which=lambda _: "/bin/x", has_module=lambda _: True, has_credentials=lambda: False
    )

    assert problem is not None
    assert problem.startswith(f"strato stack {verb} needs AWS credentials")


def test_synth_needs_no_credentials() -> None:
    problem = stack_cmd.missing_prerequisite(
        "synth", which=lambda _: "/bin/x", has_module=lambda _: True, has_credentials=lambda: False
    )

    assert problem is None


def test_the_command_line_passes_settings_and_extra_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every prerequisite and a CDK CLI that records what it was asked
    calls: list[tuple[list[str], Path]] = []

    def fake_cdk(command: Sequence[str], cwd: Path) -> int:
        calls.append((list(command), cwd))
        return 3

    monkeypatch.setattr(stack_cmd, "RUN_CDK", fake_cdk)
    monkeypatch.setattr(stack_cmd, "missing_prerequisite", lambda verb: None)

    # When the user deploys with an alert address and an option of the CDK CLI
    result = CliRunner().invoke(
        cli,
        ["stack", "deploy", "-c", "alertEmail=a@b.co", "--workdir", str(tmp_path / "w"), "--", "--all"],
    )

    # Then the CDK CLI ran in the workdir with both, and its exit code is strato's
    assert result.exit_code == 3
    (command, cwd), *_ = calls
    assert cwd == tmp_path / "w"
    assert command[3] == "deploy"
    assert command[-3:] == ["--context", "alertEmail=a@b.co", "--all"]


def test_a_missing_prerequisite_stops_before_the_cdk_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_cmd, "missing_prerequisite", lambda verb: "no node here")
    monkeypatch.setattr(stack_cmd, "RUN_CDK", lambda *_: pytest.fail("the CDK CLI must not run"))

    result = CliRunner().invoke(cli, ["stack", "synth"])

    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no node here"


def test_a_setting_without_value_is_refused() -> None:
    result = CliRunner().invoke(cli, ["stack", "synth", "-c", "alertEmail"])

    assert result.exit_code == 2
    assert "'alertEmail': expected KEY=VALUE" in result.stderr


def test_cdk_out_goes_under_the_local_home_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given every prerequisite, in a project folder
    calls: list[tuple[list[str], Path]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stack_cmd, "RUN_CDK", lambda command, cwd: calls.append((list(command), cwd)) or 0)
    monkeypatch.setattr(stack_cmd, "missing_prerequisite", lambda verb: None)

    # When synth runs without --workdir
    result = CliRunner().invoke(cli, ["stack", "synth"])

    # Then the CDK CLI works in .stratoflow/stack and writes cdk.out there
    assert result.exit_code == 0
    (command, cwd), *_ = calls
    assert cwd == Path(".stratoflow", "stack")
    assert command[command.index("--output") + 1] == str(tmp_path / ".stratoflow" / "stack" / "cdk.out")
