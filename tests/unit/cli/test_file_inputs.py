"""A FILE input typed as a local path is stored in the execution's storage (as Kestra's upload): tasks
see the content through a `strato:///` URI; a missing file is refused, naming the input, before anything runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.errors import InputError
from stratoflow.flow import load_flow
from stratoflow.local.file_inputs import upload_file_inputs
from stratoflow.store import open_local_store
from stratoflow.store.local import LocalBlobStore

FLOW = """id: fileflow
namespace: tests.files
inputs:
  - id: data
    type: FILE
  - id: note
    type: STRING
    defaults: ./data.csv
tasks:
  - id: show
    type: Log
    message: "{{ read(inputs.data) }}"
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_only_file_inputs_naming_a_local_file_are_stored(tmp_path: Path) -> None:
    # Given a flow with a FILE and a STRING input, both given a path
    data = tmp_path / "my data.csv"
    data.write_bytes(b"a,b\n1,2\n")
    flow = load_flow(FLOW, "fileflow.yaml")
    blobs = LocalBlobStore(tmp_path / "storage")

    # When the inputs are prepared for execution e1
    values, written = upload_file_inputs(blobs, flow, "e1", {"data": str(data), "note": str(data)})

    # Then the FILE input is the URI of a copy in the execution's storage; the STRING is untouched
    assert values["data"] == "strato:///tests.files/fileflow/executions/e1/inputs/data/my_data.csv"
    assert written == [values["data"]]
    assert blobs.get(values["data"]) == b"a,b\n1,2\n"
    assert values["note"] == str(data)


def test_storage_uris_are_left_to_admission_and_a_missing_file_is_refused(tmp_path: Path) -> None:
    flow = load_flow(FLOW, "fileflow.yaml")
    blobs = LocalBlobStore(tmp_path / "storage")
    for value in ("strato:///x/y.csv", "s3://bucket/key.csv"):
        values, written = upload_file_inputs(blobs, flow, "e1", {"data": value})
        assert values == {"data": value} and written == []
    missing = tmp_path / "missing.csv"
    with pytest.raises(InputError, match=re.escape(f"input 'data': file not found: {missing}")):
        upload_file_inputs(blobs, flow, "e1", {"data": str(missing)})


def test_a_file_url_is_read_from_its_path(tmp_path: Path) -> None:
    data = tmp_path / "d.txt"
    data.write_text("hi")
    flow = load_flow(FLOW, "fileflow.yaml")
    blobs = LocalBlobStore(tmp_path / "storage")
    values, _ = upload_file_inputs(blobs, flow, "e1", {"data": data.as_uri()})
    assert blobs.get(values["data"]) == b"hi"


def test_run_reads_the_content_of_a_local_file_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a flow whose task reads its FILE input, and a file beside it
    (tmp_path / "fileflow.yaml").write_text(FLOW)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    home = tmp_path / "home"

    # When it runs with a relative path, from the file's folder
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke(
        "run", "fileflow.yaml", "--input", "data=./data.csv", "--json", "--home", str(home)
    )

    # Then read() saw the content, and the input is a storage URI of the execution
    assert code == 0, err
    execution_id = json.loads(out)["executionId"]
    store, _ = open_local_store(home)
    assert [entry.message for entry in store.list_logs(execution_id)] == ["a,b\n1,2\n"]
    execution = store.get_execution(execution_id)
    assert execution is not None
    assert execution.inputs["data"].startswith(f"strato:///tests.files/fileflow/executions/{execution_id}/")


def test_a_missing_file_is_refused_naming_the_input(tmp_path: Path) -> None:
    # Given a flow with a FILE input
    flow_file = tmp_path / "fileflow.yaml"
    flow_file.write_text(FLOW)
    home = tmp_path / "home"

    # When it runs with a path that does not exist
    code, _, err = invoke(
        "run", str(flow_file), "--input", f"data={tmp_path / 'nope.csv'}", "--home", str(home)
    )

    # Then it is refused before anything runs, naming the input and the path
    assert code == 2
    assert err.strip() == f"error: input 'data': file not found: {tmp_path / 'nope.csv'}"
    store, blobs = open_local_store(home)
    assert store.list_executions() == []
    assert blobs.list_keys("tests.files") == []


def test_a_refused_start_leaves_no_stored_copy(tmp_path: Path) -> None:
    # Given a flow with a FILE input and a required INT input
    flow_file = tmp_path / "fileflow.yaml"
    flow_file.write_text(FLOW.replace("tasks:", "  - id: count\n    type: INT\ntasks:"))
    (tmp_path / "data.csv").write_text("x")
    home = tmp_path / "home"

    # When the INT input is missing
    code, _, err = invoke(
        "run", str(flow_file), "--input", f"data={tmp_path / 'data.csv'}", "--home", str(home)
    )

    # Then the copy of the file is removed with the refusal
    assert code == 2, err
    _, blobs = open_local_store(home)
    assert blobs.list_keys("tests.files") == []
