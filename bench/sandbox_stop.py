"""How long a sandboxed script runs on after its runner's stop check fires.

    .venv/bin/python -m bench.sandbox_stop              # 5 runs
    .venv/bin/python -m bench.sandbox_stop --runs 10

The path the cloud takes (`cloud.runtime.script_sandbox` -> `tasks.scripts.sandbox`): the runner signs
against a moto server on loopback, the sandbox runs as a child process without credentials, a script
sleeps. Once the script has started, the stop check fires; the figure is the time from then until the
invoke returned (the runner wrote the stop object, the sandbox's poll found it, killed the group and
answered). What the figure leaves out: the runner's check reads the record every 2 s (`kill_flag`), so
on AWS add up to 2 s between the KILLED record and the check firing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.cloudsim.loopback import loopback_moto
from stratoflow.sandbox_call import HandedFile, ScriptJob
from stratoflow.tasks.errors import TaskStopped
from stratoflow.tasks.scripts.process import stopped_when

BUCKET = "data"


class ChildProcessLambda:
    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "stratoflow.cloudsim.sandbox_process"],
            input=Payload,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "STRATOFLOW_WARM_SCRIPTS": "0"},
            check=True,
        )
        return {"Payload": io.BytesIO(done.stdout)}


def one_stop(s3: Any, folder: Path, number: int) -> float:
    root, started = folder / f"run{number}", folder / f"started{number}"
    job = ScriptJob(
        folders=[str(root)],
        cwd=str(root / "work"),
        argv=["/bin/sh", str(root / "script.sh")],
        env={"PATH": "/usr/bin:/bin"},
        files=[HandedFile.inline(str(root / "script.sh"), f"touch {started}\nsleep 60\n".encode())],
        timeout=60,
        whole_line_limit=1024,
    )
    fired: list[float] = []

    def check() -> str | None:
        if not started.exists():
            return None
        fired.append(time.monotonic())
        return "bench"

    sandboxes = LambdaScriptSandboxes(ChildProcessLambda(), s3, BUCKET, "Bench")
    try:
        with stopped_when(check):
            sandboxes.for_task_run("bench", "stop", "e", f"r{number}", 1).run(job)
    except TaskStopped:
        return time.monotonic() - fired[0]
    raise SystemExit("the script was not stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with loopback_moto() as endpoint:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        s3.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as folder:
            seconds = [one_stop(s3, Path(folder), number) for number in range(runs)]
    print(f"check fired -> script stopped and answered, {runs} runs:")
    print(f"  median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s")
    print("  (+ up to 2 s on AWS between the KILLED record and the check firing: kill_flag.POLL_SECONDS)")


if __name__ == "__main__":
    main()
