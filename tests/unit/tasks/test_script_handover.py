"""A script task handed to a sandbox (what the cloud's runner does): the job it sends, and the answer
taken as untrusted input. A fake sandbox answers here; no process runs."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.local import LocalPlatform
from stratoflow.sandbox_call import HandedFile, ScriptAnswer, ScriptFailure, ScriptJob
from tests.unit.tasks.task_helpers import RunFlow, flow_source, logs_of, outputs_of, task_run


class FakeSandbox:
    """Records the jobs it is given and answers `answer` to each."""

    def __init__(self, answer: ScriptAnswer):
        self.answer = answer
        self.jobs: list[ScriptJob] = []
        self.places: list[tuple[Any, ...]] = []

    def for_task_run(self, *place: Any) -> FakeSandbox:
        self.places.append(place)
        return self

    def run(self, job: ScriptJob) -> ScriptAnswer:
        self.jobs.append(job)
        return self.answer


@pytest.fixture
def sandbox(platform: LocalPlatform) -> FakeSandbox:
    fake = FakeSandbox(ScriptAnswer(exit_code=0))
    platform.runner.sandboxes = fake
    return fake


def test_the_job_carries_the_prepared_run_and_no_credentials(
    sandbox: FakeSandbox, run_flow: RunFlow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given runner credentials in the environment, and a Python task with inputs and a dependency
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "runner-secret")
    source = flow_source(
        """
        - id: py
          type: scripts.Python
          dependencies: ["tabulate==0.9.0"]
          env: {MODE: "{{ 'fast' }}"}
          inputFiles: {data.csv: "a,b"}
          outputFiles: ["*.json"]
          script: print("{{ 1 + 1 }}")
        """
    )
    # When it runs with a sandbox
    outcome = run_flow(source)
    # Then the sandbox got the rendered run: files, requirements, the warm Python launch; no credentials
    assert outcome.execution.state == "SUCCESS"
    (job,) = sandbox.jobs
    files = {file.path.rsplit("/", 1)[-1]: file.content() for file in job.files}
    assert files["data.csv"] == b"a,b" and files["script.py"] == b'print("2")'
    assert job.requirements == ["tabulate==0.9.0"] and job.launch == "python"
    assert job.output_patterns == ["*.json"] and job.env["MODE"] == "fast"
    assert not [value for value in job.env.values() if "runner-secret" in value]
    assert not any(name.startswith("AWS_") for name in job.env)
    assert sandbox.places[0][:2] == ("tests.tasks", "demo")


def test_the_answers_lines_are_logged_and_parsed_as_from_a_local_process(
    sandbox: FakeSandbox, platform: LocalPlatform, run_flow: RunFlow
) -> None:
    # Given a sandbox that answers an install log, lines and an outputs line
    sandbox.answer = ScriptAnswer(
        exit_code=0,
        logs=[("INFO", "dependencies: installing x")],
        lines=[("stdout", "hello"), ("stderr", "careful"), ("stdout", '::{"outputs": {"n": 3}}::')],
        files=[HandedFile.inline("out/a.json", b"{}")],
    )
    source = flow_source("- {id: sh, type: scripts.Shell, script: 'true', outputFiles: ['out/*.json']}")
    # When the task runs
    outcome = run_flow(source)
    # Then the lines became logs, the outputs vars, the file a stored output
    outputs = outputs_of(platform, outcome, "sh")
    assert outputs["vars"] == {"n": 3} and list(outputs["outputFiles"]) == ["out/a.json"]
    logged = [(entry.level, entry.message) for entry in logs_of(platform, outcome, "sh")]
    assert ("INFO", "dependencies: installing x") in logged
    assert ("INFO", "hello") in logged and ("WARN", "careful") in logged


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../../escape.txt", "must be a relative path"),
        ("/etc/passwd", "must be a relative path"),
        ("other.txt", "which no outputFiles pattern matches"),
    ],
)
def test_an_output_file_the_task_did_not_ask_for_is_refused(
    sandbox: FakeSandbox, run_flow: RunFlow, name: str, message: str
) -> None:
    # Given a sandbox answering a file outside the working directory or the task's patterns
    sandbox.answer = ScriptAnswer(exit_code=0, files=[HandedFile.inline(name, b"x")])
    source = flow_source("- {id: sh, type: scripts.Shell, script: 'true', outputFiles: ['*.csv']}")
    # When the task runs
    outcome = run_flow(source)
    # Then it fails naming the file, and stored nothing
    run = task_run(outcome, "sh")
    assert run.state == "FAILED" and message in (run.error or "")


def test_a_failure_in_the_sandbox_fails_the_task_with_its_name(
    sandbox: FakeSandbox, run_flow: RunFlow
) -> None:
    # Given a sandbox whose command timed out
    sandbox.answer = ScriptAnswer(failure=ScriptFailure(type="TaskTimeout", message="ran longer than 5 s"))
    source = flow_source("- {id: sh, type: scripts.Shell, script: 'sleep 9'}")
    # When the task runs
    outcome = run_flow(source)
    # Then the task failed with the sandbox's error, under its ASL error name
    run = task_run(outcome, "sh")
    assert run.state == "FAILED" and "ran longer than 5 s" in (run.error or "")


def test_a_non_zero_exit_in_the_sandbox_fails_the_task_with_the_last_error_line(
    sandbox: FakeSandbox, run_flow: RunFlow
) -> None:
    # Given a sandbox whose command exited 2 after an error line
    sandbox.answer = ScriptAnswer(exit_code=2, lines=[("stderr", "no such table")])
    # When the task runs
    outcome = run_flow(flow_source("- {id: sh, type: scripts.Shell, script: 'false'}"))
    # Then it failed as a local command would
    assert "the command exited with code 2: no such table" in (task_run(outcome, "sh").error or "")


class RaisingOnce(FakeSandbox):
    """Fails the first job as a sandbox that could not be reached, then answers."""

    def run(self, job: ScriptJob) -> ScriptAnswer:
        self.jobs.append(job)
        if len(self.jobs) == 1:
            raise RuntimeError("the sandbox could not be reached")
        return self.answer


def test_a_shared_working_directory_gets_what_the_sandbox_returned_and_keeps_it_when_a_run_fails(
    platform: LocalPlatform, run_flow: RunFlow
) -> None:
    # Given a WorkingDirectory of three scripts: the first's sandbox fails, the second returns a file
    sandbox = RaisingOnce(ScriptAnswer(exit_code=0, workdir=[HandedFile.inline("made.txt", b"made")]))
    platform.runner.sandboxes = sandbox
    source = flow_source(
        """
        - id: shared
          type: WorkingDirectory
          inputFiles: {seed.txt: "seed"}
          tasks:
            - {id: broken, type: scripts.Shell, script: 'true', allowFailure: true}
            - {id: make, type: scripts.Shell, script: 'true'}
            - {id: read, type: scripts.Shell, script: 'true'}
        """
    )
    # When it runs
    run_flow(source)
    # Then the second job still had the seed (the failure put it back), the third had what came back
    names = [sorted(file.path.rsplit("/", 1)[-1] for file in job.files) for job in sandbox.jobs]
    assert all(job.return_workdir for job in sandbox.jobs)
    assert "seed.txt" in names[1] and "made.txt" in names[2]
