"""The Fargate container's program as a process (no Docker here, and the image is a stock one): its
bootstrap downloads the sandbox's code zip from S3 (a loopback moto server), signs the GET itself,
unpacks it and runs the sandbox program from it, which runs the job the runner wrote and answers
beside it, with nothing but its own credentials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratoflow.cloud.runtime import container_bootstrap
from stratoflow.runner_call import JOB_BUCKET_VARIABLE, JOB_KEY_VARIABLE
from stratoflow.sandbox_call import HandedFile, SandboxReply, ScriptJob

LIBRARY = Path(container_bootstrap.__file__).parents[2]
JOB_KEY = "team.a/etl/executions/e1/e1-crunch/sandbox/1/job.json"


@pytest.fixture
def s3() -> Iterator[tuple[Any, str, str]]:
    """A client, the server's endpoint, and a suffix for this test's buckets (moto's servers in one
    process share their state)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    suffix = uuid.uuid4().hex[:8]
    for bucket in ("assets", "data"):
        client.create_bucket(
            Bucket=f"{bucket}-{suffix}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    yield client, endpoint, suffix
    server.stop()


def _code_zip(path: Path) -> bytes:
    """The sandbox's code as the layer's asset lays it out: `python/stratoflow/...` (its pinned
    dependencies are this interpreter's own here)."""
    with zipfile.ZipFile(path, "w") as archive:
        for file in LIBRARY.rglob("*.py"):
            if "_platform" not in file.parts and "__pycache__" not in file.parts:
                archive.write(file, f"python/{file.relative_to(LIBRARY.parent)}")
    return path.read_bytes()


def _job(tmp_path: Path) -> ScriptJob:
    folder = tmp_path / "run"
    script = (
        "import kestra, os\n"
        "print('hello from', os.environ.get('WHO'))\n"
        "open('out.txt', 'w').write('x' * 300_000)\n"
        "kestra.Kestra.outputs({'library': kestra.__file__})\n"
    )
    return ScriptJob(
        folders=[str(folder)],
        cwd=str(folder / "work"),
        argv=[sys.executable, str(folder / "script.py")],
        env={
            "WHO": "the container",
            "PYTHONPATH": "/opt/python/stratoflow/tasks/scripts/pylib",
            "PATH": "/usr/bin:/bin",
        },
        files=[HandedFile.inline(str(folder / "script.py"), script.encode())],
        output_patterns=["out.txt"],
        whole_line_limit=1 << 20,
    )


def _run_container(endpoint: str, assets: str, data: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The container's command, `python -c <bootstrap>`, with the environment ECS gives it: the code's
    and the job's places, and S3 at the loopback endpoint."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "TMPDIR": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "STRATOFLOW_CODE_BUCKET": assets,
        "STRATOFLOW_CODE_KEY": "code/3f2e.zip",
        JOB_BUCKET_VARIABLE: data,
        JOB_KEY_VARIABLE: JOB_KEY,
    }
    return subprocess.run(
        [sys.executable, "-c", Path(container_bootstrap.__file__).read_text()],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_bootstrap_runs_the_downloaded_sandbox_on_the_job_and_answers_beside_it(
    s3: tuple[Any, str, str], tmp_path: Path
) -> None:
    # Given the sandbox's code zip in the assets bucket, a job in the data bucket, and keys
    client, endpoint, suffix = s3
    assets, data = f"assets-{suffix}", f"data-{suffix}"
    client.put_object(Bucket=assets, Key="code/3f2e.zip", Body=_code_zip(tmp_path / "code.zip"))
    client.put_object(Bucket=data, Key=JOB_KEY, Body=_job(tmp_path).model_dump_json().encode())

    # When the container's command runs: `python -c <bootstrap>`
    done = _run_container(endpoint, assets, data, tmp_path)

    # Then it exited 0 and answered beside the job: the script's line, its large output file handed back
    # under `out/`, and the `kestra` library of the downloaded code (not this checkout's)
    assert done.returncode == 0, done.stderr
    folder = JOB_KEY.removesuffix("job.json")
    reply = SandboxReply.model_validate_json(
        client.get_object(Bucket=data, Key=folder + "out/reply.json")["Body"].read()
    )
    assert reply.answer is not None and reply.answer.exit_code == 0
    assert ("stdout", "hello from the container") in reply.answer.lines
    [handed] = reply.answer.files
    assert handed.key is not None and handed.key.startswith(folder + "out/")
    assert len(client.get_object(Bucket=data, Key=handed.key)["Body"].read()) == 300_000
    [outputs] = [json.loads(line[2:-2]) for _, line in reply.answer.lines if line.startswith("::")]
    library = Path(outputs["outputs"]["library"])
    assert library.is_relative_to(tmp_path) and "stratoflow-code-" in str(library)


def test_a_job_it_cannot_read_exits_1_and_leaves_no_answer(s3: tuple[Any, str, str], tmp_path: Path) -> None:
    # Given the sandbox's code but no job where the environment says
    client, endpoint, suffix = s3
    assets, data = f"assets-{suffix}", f"data-{suffix}"
    client.put_object(Bucket=assets, Key="code/3f2e.zip", Body=_code_zip(tmp_path / "code.zip"))

    # When the container runs
    done = _run_container(endpoint, assets, data, tmp_path)

    # Then it fails as the sandbox's own fault (the runner's collect then finds no reply)
    assert done.returncode == 1
    assert "the script sandbox failed" in done.stderr
    assert "Contents" not in client.list_objects_v2(Bucket=data)
