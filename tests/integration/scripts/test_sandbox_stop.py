"""A killed task run stops its script in the sandbox through a real presigned URL: the runner's side
(`cloud.runtime.script_sandbox`) writes the stop object to a moto server on loopback, the sandbox's
side (a child process with no AWS credentials) polls the stop URL with plain HTTP and kills the
command's process group, a background child of the script included."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.sandbox_call import HandedFile, ScriptJob
from stratoflow.tasks.errors import TaskStopped
from stratoflow.tasks.scripts.process import stopped_when
from tests.integration.scripts import test_sandbox_transfer
from tests.integration.scripts.test_sandbox_transfer import BUCKET, ChildProcessLambda

s3 = test_sandbox_transfer.s3  # the fixture: a moto server on loopback with the data bucket


def test_a_killed_task_run_stops_its_script_in_the_sandbox_through_the_stop_url(
    s3: Any, tmp_path: Path
) -> None:
    # Given a script that would run 60 s (a background child of its own included), and a task run
    # recorded KILLED once the script has started
    root = tmp_path / "run"
    pid_file = tmp_path / "child.pid"
    script = f"sleep 60 &\necho $! > {pid_file}\nwait\n"
    job = ScriptJob(
        folders=[str(root)],
        cwd=str(root / "work"),
        argv=["/bin/sh", str(root / "script.sh")],
        env={"PATH": "/usr/bin:/bin"},
        files=[HandedFile.inline(str(root / "script.sh"), script.encode())],
        timeout=30,  # should the stop not reach it: a TaskTimeout answer, not a hang
        whole_line_limit=1024,
    )
    lambda_client = AnswersKept()
    sandboxes = LambdaScriptSandboxes(lambda_client, s3, BUCKET, "Stack")

    def killed() -> str | None:
        return "task 'body' timed out" if pid_file.exists() and pid_file.read_text().strip() else None

    # When the runner hands it over
    with stopped_when(killed), pytest.raises(TaskStopped) as stopped:
        sandboxes.for_task_run("team.app", "etl", "e1", "r1", 1).run(job)

    # Then the runner stopped it in its own words, the script's process group is gone (the invoke
    # returned: the sandbox answered after killing it), and nothing is left in the bucket
    assert str(stopped.value) == "the command was killed: task 'body' timed out"
    (answer,) = lambda_client.answers
    assert answer["failure"] == {
        "type": "TaskStopped",
        "message": "the command was killed: task 'body' timed out",
    }
    stat = Path(f"/proc/{int(pid_file.read_text())}/stat")
    for _ in range(100):  # a killed child may stay a zombie until its reaper gets to it
        if not _running(stat):
            break
        time.sleep(0.1)
    assert not _running(stat)
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


class AnswersKept(ChildProcessLambda):
    """Keeps what the sandbox answered (the runner raises its own TaskStopped whatever it was)."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        response = super().invoke(FunctionName, InvocationType, Payload)
        body = response["Payload"].read()
        self.answers.append(json.loads(body)["answer"])
        return {"Payload": io.BytesIO(body)}


def _running(stat: Path) -> bool:
    try:
        return not stat.read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return False
