"""`python -m stratoflow.cloud.runtime.container_sandbox`: a Fargate container's one job, run by the
same sandbox code as a flow's sandbox function (`tasks.scripts.sandbox.run_job`).

The container's bootstrap (`container_bootstrap`) starts it with two variables, the bucket and key of
the job the runner's `prepare` call wrote (`execution.runner.container`). With the container's own
credentials (its task role, the flow's sandbox role, which ECS serves and refreshes for as long as
the container runs) it reads the job and the files it names, runs it, and writes what it hands back
under the attempt's `out/` folder: large output files, then its `SandboxReply` (`out/reply.json`),
which the runner's `collect` call reads. The role may read and write its own flow's sandbox folders
and nothing else of the bucket; no presigned URL is involved, so nothing expires during a long run.

When ECS stops the task (Step Functions stops it when the execution is stopped or the state is
abandoned), the SIGTERM it sends kills the command's process group at once.

A failed script is an answer (exit code 0); exit code 1 means the sandbox itself failed, and the
runner's `collect` then finds no reply. On a laptop (`local.containers`) and in the simulated cloud
the same module runs as a process; locally a folder stands for the bucket (`STRATOFLOW_JOB_FOLDER`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import boto3

from stratoflow.runner_call import JOB_BUCKET_VARIABLE, JOB_FOLDER_VARIABLE, JOB_KEY_VARIABLE
from stratoflow.sandbox_call import HandedFile, ScriptJob
from stratoflow.storage_layout import JOB_FILE, REPLY_FILE
from stratoflow.tasks.scripts.environment import LIBRARY
from stratoflow.tasks.scripts.process import stopped_when
from stratoflow.tasks.scripts.sandbox import run_job

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LIBRARY_TAIL = "/".join(LIBRARY.parts[-4:])  # stratoflow/tasks/scripts/pylib


class Objects(Protocol):
    def get(self, key: str) -> bytes: ...

    def put(self, key: str, data: bytes) -> None: ...


class BucketObjects:
    """The data bucket, with this environment's own credentials."""

    def __init__(self, bucket: str, client: S3Client | None = None):
        self.bucket = bucket
        self.client = client or boto3.client("s3")

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def put(self, key: str, data: bytes) -> None:
        # Tagged as history: what `collect` does not delete (a stopped execution's), the lifecycle expires.
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, Tagging="stratoflow=history")


class FolderObjects:
    """A folder standing for the bucket (the local blob store's: key `a/b` is the file `<root>/a/b`)."""

    def __init__(self, root: Path):
        self.root = root

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*key.split("/"))
        if ".." in key.split("/") or not path.is_relative_to(self.root):
            raise ValueError(f"key {key!r} is outside the folder")
        return path


def run_stored_job(objects: Objects, job_key: str) -> None:
    """Read the job at `job_key`, run it, write the reply beside it."""
    if not job_key.endswith("/" + JOB_FILE):
        raise ValueError(f"{job_key!r} is not a job ({JOB_FILE} in an attempt's sandbox folder)")
    folder = job_key[: -len(JOB_FILE)]
    job = ScriptJob.model_validate_json(objects.get(job_key))
    files = [_inline(objects, handed) for handed in job.files]

    def hand_back(name: str, content: bytes) -> str:
        key = f"{folder}out/{name}"
        objects.put(key, content)
        return key

    env = {**job.env, "PYTHONPATH": _here(job.env.get("PYTHONPATH", ""))}
    reply = run_job(job.model_copy(update={"files": files, "env": env}), hand_back=hand_back)
    objects.put(folder + REPLY_FILE, reply.model_dump_json(exclude_none=True).encode())


def _here(pythonpath: str) -> str:
    """The script's PYTHONPATH with the `kestra` library where this environment has it: the runner
    wrote where the task runner's layer has it (/opt/python), the bootstrap unpacked it elsewhere."""
    parts = [str(LIBRARY) if part.endswith(LIBRARY_TAIL) else part for part in pythonpath.split(os.pathsep)]
    return os.pathsep.join(part for part in parts if part)


def _inline(objects: Objects, handed: HandedFile) -> HandedFile:
    if handed.key is None:
        return handed
    return HandedFile.inline(handed.path, objects.get(handed.key), handed.executable)


def stopped_by_ecs() -> threading.Event:
    """Set once ECS asks the container to stop (StopTask sends SIGTERM to its first process, then
    SIGKILL after the task's stop timeout): the command's process group is killed meanwhile."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signal, _frame: stopping.set())
    return stopping


def main(environment: dict[str, str]) -> int:
    key = environment.get(JOB_KEY_VARIABLE)
    bucket, folder = environment.get(JOB_BUCKET_VARIABLE), environment.get(JOB_FOLDER_VARIABLE)
    if not key or not (bucket or folder):
        print(f"{JOB_KEY_VARIABLE} and {JOB_BUCKET_VARIABLE} must name the container's job", file=sys.stderr)
        return 1
    objects: Objects = FolderObjects(Path(folder)) if folder else BucketObjects(str(bucket))
    stopping = stopped_by_ecs()
    try:
        with stopped_when(lambda: "the container was stopped" if stopping.is_set() else None):
            run_stored_job(objects, key)
    except Exception as error:  # the sandbox's own fault: `collect` finds no reply and says so
        print(f"the script sandbox failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(dict(os.environ)))
