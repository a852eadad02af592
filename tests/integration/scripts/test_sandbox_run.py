"""The sandbox's side run directly (`tasks.scripts.sandbox.run_job`): its failures are answers, named
as the task's errors, and a failed command hands no output files back."""

from __future__ import annotations

from pathlib import Path

from stratoflow.sandbox_call import HandedFile, ScriptJob
from stratoflow.tasks.scripts.sandbox import run_job


def _job(root: Path, command: str, **fields: object) -> ScriptJob:
    return ScriptJob.model_validate(
        {
            "folders": [str(root)],
            "cwd": str(root / "work"),
            "argv": ["/bin/sh", "-c", command],
            "env": {"PATH": "/usr/bin:/bin"},
            "whole_line_limit": 64,
            "output_patterns": ["*.txt"],
            **fields,
        }
    )


def test_a_command_over_its_timeout_is_answered_as_a_task_timeout(tmp_path: Path) -> None:
    # Given a command that sleeps past its timeout
    job = _job(tmp_path / "run", "echo started; sleep 30", timeout=0.5)
    # When the sandbox runs it
    reply = run_job(job, root=tmp_path)
    # Then the answer is a TaskTimeout with the line printed before
    assert reply.answer is not None and reply.answer.failure is not None
    assert reply.answer.failure.type == "TaskTimeout"
    assert reply.answer.lines == [("stdout", "started")]


def test_an_outputs_line_over_the_limit_is_answered_as_output_too_large(tmp_path: Path) -> None:
    # Given a command printing an outputs line longer than the job's limit
    job = _job(tmp_path / "run", """printf '::{"outputs": {"x": "%0100d"}}::\\n' 1""")
    # When the sandbox runs it, Then it says so by name instead of cutting the line
    reply = run_job(job, root=tmp_path)
    assert reply.answer is not None and reply.answer.failure is not None
    assert reply.answer.failure.type == "OutputTooLarge"


def test_a_failed_command_hands_back_no_output_files_and_its_folders_are_removed(tmp_path: Path) -> None:
    # Given a command that writes a matching file, then fails
    root = tmp_path / "run"
    job = _job(
        root, "echo x > out.txt; exit 3", files=[HandedFile.inline(str(root / "work" / "in.txt"), b"in")]
    )
    # When the sandbox runs it
    reply = run_job(job, root=tmp_path)
    # Then the exit code comes back without files, and nothing is left of the run
    assert reply.answer is not None and reply.answer.exit_code == 3 and reply.answer.files == []
    assert not root.exists()
