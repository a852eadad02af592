"""`strato init`: the repository it scaffolds works as its README and CI say."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.flow import flow_json_schema


def test_init_writes_a_flows_repository(tmp_path: Path) -> None:
    # When a team scaffolds a new folder
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "team")])

    # Then it has an example flow, the schema, editor settings mapping flows to it, CI and a README
    assert result.exit_code == 0, result.output
    root = tmp_path / "team"
    assert json.loads((root / "flow.schema.json").read_text()) == flow_json_schema()
    settings = json.loads((root / ".vscode" / "settings.json").read_text())
    assert settings["yaml.schemas"] == {"./flow.schema.json": ["flows/**/*.yaml", "flows/**/*.yml"]}
    assert (root / "flows" / "hello.yaml").is_file()
    assert "strato validate flows" in (root / "README.md").read_text()


def test_the_ci_example_passes_on_the_scaffold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a scaffolded repository and the strato steps of its CI
    CliRunner().invoke(cli, ["init", str(tmp_path)])
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "flows.yml").read_text())
    steps = [step["run"] for step in workflow["jobs"]["check"]["steps"] if "run" in step]
    strato_steps = [shlex.split(step)[1:] for step in steps if step.startswith("strato ")]
    assert [step[0] for step in strato_steps] == ["validate", "run"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STRATOFLOW_HOME", str(tmp_path / ".stratoflow"))

    # When CI runs them there
    results = [CliRunner().invoke(cli, step) for step in strato_steps]

    # Then the flows are valid and the example succeeds
    assert [r.exit_code for r in results] == [0, 0], [r.output for r in results]
    assert json.loads(results[1].stdout)["outputs"] == {"greeting": "Hello, CI!"}


def test_init_refuses_a_folder_that_is_not_empty_naming_what_it_would_overwrite(tmp_path: Path) -> None:
    # Given a folder with a README of its own
    (tmp_path / "README.md").write_text("ours\n")

    # When init is asked there
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])

    # Then it refuses, names the file, and writes nothing
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {tmp_path} is not empty: strato init would overwrite README.md (--force to go ahead)"
    )
    assert (tmp_path / "README.md").read_text() == "ours\n"
    assert not (tmp_path / "flows").exists()


def test_init_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("ours\n")

    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--force"])

    assert result.exit_code == 0
    assert (tmp_path / "README.md").read_text().startswith("# Flows")
