"""The security rules on the cloud code path (`--cloud-sim`: DynamoDB store, S3 blobs, the task-runner
handler on moto): the same namespace boundary and masking as the local engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli

pytestmark = pytest.mark.slow

PASSWORD = "hunter2-cloud-input"
TOKEN = "tok-cloud-5e4d3c2b1a"

FLOW = """id: cloudleak
namespace: team.app
inputs:
  - id: password
    type: SECRET
tasks:
  - id: store
    type: kv.Set
    key: tok
    value: "{{ secret('API_TOKEN') }}"
  - id: back
    type: kv.Get
    key: tok
  - id: both
    type: Return
    format: "{{ inputs.password }} {{ kv('tok') }}"
  - id: labels
    type: Labels
    labels:
      pw: "{{ inputs.password }}"
  - id: steal
    type: kv.Get
    key: anything
    namespace: _deployer
    allowFailure: true
outputs:
  - id: pw
    type: STRING
    value: "{{ inputs.password }}"
"""


def test_the_cloud_path_masks_secrets_and_keeps_flows_out_of_reserved_namespaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    monkeypatch.setenv("SECRET_API_TOKEN", TOKEN)
    monkeypatch.setenv("STRATOFLOW_SECRETS_FILE", str(tmp_path / "none.env"))
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)

    # When
    result = CliRunner().invoke(
        cli, ["run", str(flow), "--input", f"password={PASSWORD}", "--json", "--cloud-sim"]
    )

    # Then
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and TOKEN not in result.output
    document = json.loads(result.stdout)
    runs = {run["taskId"]: run for run in document["taskRuns"]}
    assert document["state"] == "WARNING"
    assert runs["back"]["outputs"] == {"value": "******"}
    assert runs["both"]["outputs"] == {"value": "****** ******"}
    assert runs["steal"]["state"] == "WARNING"
    assert document["labels"]["pw"] == "******"
    assert document["outputs"] == {"pw": "******"}
