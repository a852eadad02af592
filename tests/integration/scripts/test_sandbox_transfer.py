"""Large files and answers between the task runner and a sandbox, through real presigned S3 URLs: the
runner's side (`cloud.runtime.script_sandbox`) signs against a moto server on loopback, the sandbox's
side (`tasks.scripts.sandbox`, run in a child process with no AWS credentials at all) uses the URLs
with plain HTTP. Nothing is truncated: what is over Lambda's response size comes back whole."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.cloudsim.loopback import loopback_moto
from stratoflow.sandbox_call import INLINE_ANSWER_BYTES, INLINE_FILE_BYTES, HandedFile, ScriptJob

BUCKET = "data"


@pytest.fixture
def s3() -> Iterator[Any]:
    with loopback_moto() as endpoint:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="runner",
            aws_secret_access_key="runner-secret",
        )
        client.create_bucket(Bucket=BUCKET)
        yield client


class ChildProcessLambda:
    """Invoke = the sandbox's handler in a child process whose environment holds no credentials."""

    def __init__(self) -> None:
        self.payloads: list[int] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        self.payloads.append(len(Payload))
        done = subprocess.run(
            [sys.executable, "-m", "stratoflow.cloudsim.sandbox_process"],
            input=Payload,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "STRATOFLOW_WARM_SCRIPTS": "0"},
            check=True,
        )
        return {"Payload": io.BytesIO(done.stdout)}


def test_large_files_and_a_large_answer_travel_whole_through_presigned_urls(s3: Any, tmp_path: Path) -> None:
    # Given a 1 MiB input file, a script that copies it and prints over Lambda's response size
    root = tmp_path / "run"
    big = bytes(range(256)) * 4096
    script = (
        "import shutil, sys\n"
        "shutil.copy('in.bin', 'out.bin')\n"
        "line = 'x' * 1000\n"
        f"for _ in range({INLINE_ANSWER_BYTES // 1000 + 100}): print(line)\n"
    )
    job = ScriptJob(
        folders=[str(root)],
        cwd=str(root / "work"),
        argv=[sys.executable, str(root / "script.py")],
        env={"PATH": "/usr/bin:/bin"},
        files=[
            HandedFile.inline(str(root / "work" / "in.bin"), big),
            HandedFile.inline(str(root / "script.py"), script.encode()),
        ],
        output_patterns=["out.bin"],
        whole_line_limit=1024,
    )
    lambda_client = ChildProcessLambda()
    sandboxes = LambdaScriptSandboxes(lambda_client, s3, BUCKET, "Stack")

    # When the runner hands it to the sandbox
    answer = sandboxes.for_task_run("team.app", "etl", "e1", "r1", 1).run(job)

    # Then the file went by URL, came back whole by upload, and so did every line
    assert answer.failure is None and answer.exit_code == 0
    (payload,) = lambda_client.payloads
    assert payload < INLINE_FILE_BYTES
    (output,) = answer.files
    assert output.path == "out.bin" and output.content() == big
    assert len(answer.lines) == INLINE_ANSWER_BYTES // 1000 + 100
    # and nothing of the handover is left in the bucket
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
    assert not root.exists()  # the sandbox removed its folders (here the same machine)


def test_the_sandbox_refuses_a_folder_outside_its_temporary_area(tmp_path: Path) -> None:
    # Given a job naming a folder outside the sandbox's temporary folder
    job = {
        "folders": ["/etc/stratoflow"],
        "cwd": "/etc/stratoflow",
        "argv": ["true"],
        "env": {},
        "whole_line_limit": 1,
    }
    # When the sandbox runs it
    done = subprocess.run(
        [sys.executable, "-m", "stratoflow.cloudsim.sandbox_process"],
        input=json.dumps(job).encode(),
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
        check=True,
    )
    # Then it answers a failure naming the folder, and created nothing
    reply = json.loads(done.stdout)
    assert reply["answer"]["failure"]["type"] == "TaskFailed"
    assert "outside the sandbox's folder" in reply["answer"]["failure"]["message"]
    assert not Path("/etc/stratoflow").exists()
