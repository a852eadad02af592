"""Script tasks end to end on `strato run --cloud-sim`: they run in their flow's sandbox (a process
holding only the sandbox role's credentials) and still record outputs and files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli

pytestmark = pytest.mark.slow

FLOW = """id: e2e
namespace: tests.sandbox
tasks:
  - id: make
    type: scripts.Python
    outputFiles: ["report.csv"]
    script: |
      open("report.csv", "w").write("a,b\\n1,2\\n")
      print('::{"outputs": {"rows": 1}}::')
  - id: read
    type: scripts.Shell
    inputFiles:
      in.csv: "{{ outputs.make.outputFiles['report.csv'] }}"
    script: |
      echo "::{\\"outputs\\": {\\"lines\\": $(wc -l < in.csv)}}::"
"""


def test_a_script_runs_through_its_sandbox_end_to_end_on_the_cloud_simulation(tmp_path: Path) -> None:
    # Given a flow whose Python script writes an output file and outputs, read by a Shell task
    path = tmp_path / "e2e.yaml"
    path.write_text(FLOW)
    # When it runs on the cloud simulation
    result = CliRunner().invoke(cli, ["run", str(path), "--json", "--cloud-sim"])
    # Then both tasks ran in the sandbox and recorded their outputs and files
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    runs = {run["taskId"]: run for run in document["taskRuns"]}
    assert document["state"] == "SUCCESS"
    assert runs["make"]["outputs"]["vars"] == {"rows": 1}
    assert list(runs["make"]["outputs"]["outputFiles"]) == ["report.csv"]
    assert runs["read"]["outputs"]["vars"] == {"lines": 2}
