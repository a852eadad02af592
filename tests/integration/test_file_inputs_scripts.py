"""A FILE input typed as a local path reaches a script's `inputFiles` as the file's content."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli

FLOW = """id: fileflow
namespace: tests.files
inputs:
  - id: data
    type: FILE
tasks:
  - id: count
    type: scripts.Shell
    inputFiles:
      data.csv: "{{ inputs.data }}"
    script: |
      echo "::{\\"outputs\\":{\\"first\\":\\"$(head -n 1 data.csv)\\",\\"lines\\":$(wc -l < data.csv)}}::"
"""


def test_script_input_files_get_the_content_of_a_local_file_input(tmp_path: Path) -> None:
    # Given a script task whose inputFiles names the FILE input, and a local CSV
    (tmp_path / "fileflow.yaml").write_text(FLOW)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n3,4\n")

    # When the flow runs with the CSV's path
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(tmp_path / "fileflow.yaml"),
            "--input",
            f"data={tmp_path / 'data.csv'}",
            "--json",
            "--home",
            str(tmp_path / "home"),
        ],
    )

    # Then the script read the CSV itself, not the text of a file:// URI
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["taskRuns"]
    assert run["outputs"]["vars"] == {"first": "a,b", "lines": 3}
