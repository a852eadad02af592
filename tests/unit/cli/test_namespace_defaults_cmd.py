"""`strato namespaces defaults`: a namespace's plugin defaults, set from a file checked like a flow's,
shown, cleared; `strato validate` and `strato compile` apply the local namespaces' defaults too."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli

DEFAULTS = """pluginDefaults:
  - type: io.kestra.plugin.scripts
    values:
      taskRunner:
        type: aws.runner.Fargate
"""
LONG_SCRIPT = """id: long
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    timeout: PT2H
    script: print("hi")
"""


def strato(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_defaults_are_set_from_a_file_shown_and_cleared(tmp_path: Path) -> None:
    # Given a defaults file
    file = tmp_path / "defaults.yaml"
    file.write_text(DEFAULTS, encoding="utf-8")
    home = str(tmp_path / "home")

    # When it is set for `company`, shown, then cleared
    set_ = strato("namespaces", "defaults", "company", "--file", str(file), "--home", home)
    shown = strato("namespaces", "defaults", "company", "--home", home)
    cleared = strato("namespaces", "defaults", "company", "--clear", "--home", home)
    after = strato("namespaces", "defaults", "company", "--home", home)

    # Then each says what it did
    assert set_ == (0, "company: plugin defaults for io.kestra.plugin.scripts\n", "")
    assert json.loads(shown[1])["pluginDefaults"] == [
        {
            "type": "io.kestra.plugin.scripts",
            "values": {"taskRunner": {"type": "aws.runner.Fargate"}},
            "forced": False,
        }
    ]
    assert cleared[:2] == (0, "company: no plugin defaults\n")
    assert json.loads(after[1])["pluginDefaults"] == []


def test_a_bad_defaults_file_is_refused_with_located_problems_and_nothing_changes(tmp_path: Path) -> None:
    # Given a file whose task runner property is misspelled
    file = tmp_path / "defaults.yaml"
    file.write_text(DEFAULTS.replace("taskRunner", "taskRuner"), encoding="utf-8")
    home = str(tmp_path / "home")

    # When it is set
    code, _, err = strato("namespaces", "defaults", "company", "--file", str(file), "--home", home)

    # Then the problem is located in the file, and the namespace has no defaults
    assert code == 1
    assert err.startswith(f"{file}:4:7: pluginDefaults[0].values.taskRuner: unknown property")
    assert "(did you mean taskRunner?)" in err
    assert json.loads(strato("namespaces", "defaults", "company", "--home", home)[1])["pluginDefaults"] == []


def test_validate_and_compile_apply_the_local_namespaces_defaults(tmp_path: Path) -> None:
    # Given a flow of company.team whose 2-hour script needs a container runner
    flow = tmp_path / "long.yaml"
    flow.write_text(LONG_SCRIPT, encoding="utf-8")
    home = str(tmp_path / "home")
    refused = strato("validate", "--quiet", str(flow), "--home", home)

    # When `company` sets the Fargate runner for scripts
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text(DEFAULTS, encoding="utf-8")
    strato("namespaces", "defaults", "company", "--file", str(defaults), "--home", home)

    # Then validate accepts the flow it refused, and compile emits the container task
    assert refused[0] == 1 and "taskRunner: {type: aws.runner.Fargate}" in refused[1]
    assert strato("validate", "--quiet", str(flow), "--home", home)[:2] == (0, "")
    assert "ecs:runTask.sync" in strato("compile", str(flow), "--home", home)[1]
    # ... and a folder without a history is not given one by validate
    assert not (tmp_path / "none").exists()
    assert strato("validate", "--quiet", str(flow), "--home", str(tmp_path / "none"))[0] == 1
    assert not (tmp_path / "none").exists()
