"""The stop of a sandboxed script is the runner's word, and its URL is a read of one key (issue 15).

A task run recorded KILLED stops its script in the flow's sandbox through a stop object the runner
writes and the sandbox reads with a presigned GET (`cloud.runtime.script_sandbox`). Two ways a
script could abuse that: claim it was stopped (a KILLED run is never retried and skips nothing of
the record's checks), or use its stop URL, or its upload, to write a stop object (its own run's or
another's).
"""

from __future__ import annotations

from typing import Any

from stratoflow.cloud.runtime.script_sandbox import LambdaScriptSandboxes
from stratoflow.local import LocalPlatform
from stratoflow.sandbox_call import ScriptAnswer, ScriptFailure, ScriptJob
from stratoflow.tasks.scripts.process import stopped_when
from tests.unit.tasks.task_helpers import RunFlow, flow_source, task_run
from tests.unit.tasks.test_script_handover import FakeSandbox
from tests.unit.tasks.test_script_sandbox_stop import FakeS3, SandboxUntilStopped


def test_a_sandbox_claiming_its_script_was_stopped_fails_the_task_and_is_retried(
    platform: LocalPlatform, run_flow: RunFlow
) -> None:
    # Given a sandbox that answers "stopped" although nobody asked it to stop, for a task with a retry
    sandbox = FakeSandbox(
        ScriptAnswer(failure=ScriptFailure(type="TaskStopped", message="the command was killed: by me"))
    )
    platform.runner.sandboxes = sandbox
    source = flow_source(
        """
        - id: sh
          type: scripts.Shell
          script: 'true'
          retry: {type: constant, interval: PT1S, maxAttempts: 2}
        """
    )

    # When the task runs
    outcome = run_flow(source)

    # Then its run is not KILLED on the sandbox's word: it failed, and was retried as failures are
    run = task_run(outcome, "sh")
    assert run.state == "FAILED"
    assert len(sandbox.jobs) == 2


def test_the_stop_url_reads_the_runs_own_stop_object_which_its_upload_cannot_write() -> None:
    # Given a runner handing a command over while its stop check is installed
    s3 = FakeS3()
    posted: list[Any] = []
    s3.generate_presigned_post = lambda **policy: (
        posted.append(policy)
        or {  # type: ignore[method-assign]
            "url": "https://s3.test/",
            "fields": {"key": policy["Key"], "policy": "p"},
        }
    )
    lambda_client = SandboxUntilStopped(s3, stops=False)
    sandboxes = LambdaScriptSandboxes(lambda_client, s3, "data", "Stack")
    job = ScriptJob(folders=["/tmp/x"], cwd="/tmp/x", argv=["true"], env={}, whole_line_limit=1)

    # When the job is sent
    with stopped_when(lambda: None):
        sandboxes.for_task_run("team.app", "etl", "e1", "r1", 1).run(job)

    # Then the stop URL is a GET of this run's stop object and nothing else, and the sandbox's one
    # way to write (its upload) is held to keys under out/, which the stop object is not
    prefix = "team.app/etl/executions/e1/r1/sandbox/1/"
    assert [(operation, params) for operation, params, _ in s3.signed] == [
        ("get_object", {"Bucket": "data", "Key": f"{prefix}stop"})
    ]
    (policy,) = posted
    assert ["starts-with", "$key", f"{prefix}out/"] in policy["Conditions"]
    assert not f"{prefix}stop".startswith(f"{prefix}out/")
