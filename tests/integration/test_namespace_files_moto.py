"""Namespace files in the cloud: `strato files put --remote` writes them to the stack's data bucket, and
a script task run by the task-runner Lambda (on the simulated stack) finds them in its working
directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.states import State

pytestmark = pytest.mark.slow

FLOW = """id: namespace_files
namespace: tests.nsfiles
tasks:
  - id: run
    type: scripts.Commands
    namespaceFiles:
      enabled: true
      exclude: ["**/*.md"]
    commands:
      - python main.py
      - ls README.md || echo "no README"
"""


def test_files_put_remotely_reach_the_working_directory_of_a_cloud_run(
    sim: CloudSimulation, tmp_path: Path
) -> None:
    # Given a project put as the namespace's files in the stack's data bucket
    project = tmp_path / "project"
    (project / "lib").mkdir(parents=True)
    (project / "lib" / "rows.py").write_text("ROWS = [1, 2, 3]\n")
    (project / "main.py").write_text(
        "import json\nfrom lib.rows import ROWS\nprint('::' + json.dumps({'outputs': {'total': sum(ROWS)}}) + '::')\n"
    )
    (project / "README.md").write_text("not copied")
    bucket = ["--remote", "--data-bucket", sim.settings.stratoflow_data_bucket]
    put = CliRunner().invoke(cli, ["files", "put", "tests.nsfiles", str(project), *bucket])
    listed = CliRunner().invoke(cli, ["files", "list", "tests.nsfiles", "--json", *bucket])
    assert (put.exit_code, listed.exit_code) == (0, 0), put.output + listed.output
    assert json.loads(listed.output) == {
        path: f"strato:///namespaces/tests.nsfiles/files/{path}"
        for path in ["README.md", "lib/rows.py", "main.py"]
    }
    objects = sim.clients.s3.list_objects_v2(Bucket=sim.settings.stratoflow_data_bucket, Prefix="namespaces/")
    assert "namespaces/tests.nsfiles/files/lib/rows.py" in [o["Key"] for o in objects["Contents"]]

    # When a flow of that namespace runs on the simulated stack
    flow = tmp_path / "namespace_files.yaml"
    flow.write_text(FLOW)
    run = sim.run_flow(flow)

    # Then the task runner copied the selected files before the commands ran
    assert run.execution.state == State.SUCCESS
    (task_run,) = [r for r in run.task_runs if r.task_id == "run"]
    assert task_run.outputs["vars"] == {"total": 6}
    logs = [entry.message for entry in sim.store.list_logs(run.execution.id)]
    assert "no README" in logs
