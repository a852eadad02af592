"""The task runner's side of a script run in a sandbox: hand the prepared run over, take the answer back.

The runner has done everything that needs the platform: rendered the task, read the namespace's and
the inputs' files under the namespace rules, written the script. It packs the run's folders into a
`ScriptJob`, empties them (the sandbox recreates them at the same paths: on a laptop-sized test the
two share one /tmp), and gets a `ScriptAnswer`. The answer comes from code that runs the flow's
script: it is input like any other. Log lines go through the task run's masking as they would from
a local process; output file names must be relative paths matching an `outputFiles` glob; a shared
working directory gets exactly the files the sandbox returned.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from stratoflow.flow.run_context import RunContext, ScriptSandbox
from stratoflow.sandbox_call import HandedFile, Launch, ScriptAnswer, ScriptJob
from stratoflow.tasks.errors import TaskError, TaskFailed, TaskTimeout
from stratoflow.tasks.files import relative_path
from stratoflow.tasks.scripts.dependencies import DependencyInstallFailed
from stratoflow.tasks.scripts.globs import glob_pattern
from stratoflow.tasks.scripts.process import LineHandler, OutputTooLarge
from stratoflow.tasks.scripts.workdir import WorkingDirectory

# The sandbox's word on how the command failed. Not "TaskStopped": a stop is the runner's own verdict
# (`cloud.runtime.script_sandbox` raises it when it asked for one); a sandbox that answers it
# unasked fails the task as any other unknown failure would.
FAILURES: dict[str, Callable[[str], TaskError]] = {
    "TaskFailed": TaskFailed,
    "TaskTimeout": TaskTimeout,
    "OutputTooLarge": OutputTooLarge,
    "DependencyInstallFailed": DependencyInstallFailed,
}


def run_in_sandbox(
    ctx: RunContext,
    sandbox: ScriptSandbox,
    workdir: WorkingDirectory,
    *,
    argv: list[str],
    env: dict[str, str],
    requirements: list[str],
    interpreter: str,
    launch: Launch,
    timeout: float | None,
    patterns: list[str],
    whole_line_limit: int,
    on_line: LineHandler,
) -> tuple[int, dict[str, str]]:
    """Run the prepared command in `sandbox`; (exit code, `{name: storage URI}` of output files)."""
    shared = ctx.working_dir is not None and not workdir.path.is_relative_to(workdir.private)
    folders = [workdir.private, *([workdir.path] if shared else [])]
    job = ScriptJob(
        folders=[str(folder) for folder in folders],
        cwd=str(workdir.path),
        argv=argv,
        env=env,
        files=[file for folder in folders for file in _pack(folder)],
        requirements=requirements,
        interpreter=interpreter,
        launch=launch,
        timeout=timeout,
        output_patterns=patterns,
        whole_line_limit=whole_line_limit,
        return_workdir=shared,
    )
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        answer = sandbox.run(job)
    except BaseException:
        if shared:  # the next tasks of the WorkingDirectory find it as it was
            _write(workdir.path, [file for file in job.files if Path(file.path).is_relative_to(workdir.path)])
        raise
    finally:
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
    return _take(ctx, answer, workdir.path if shared else None, patterns, on_line)


def take_answer(
    ctx: RunContext, job: ScriptJob, answer: ScriptAnswer, on_line: LineHandler
) -> tuple[int, dict[str, str]]:
    """A container's answer to `job` (handed over by an earlier call of the runner), taken as
    `run_in_sandbox` takes a sandbox function's: the shared working directory is this call's."""
    shared = ctx.working_dir if job.return_workdir else None
    return _take(ctx, answer, shared, job.output_patterns, on_line)


def _write(root: Path, files: list[HandedFile]) -> None:
    for handed in files:
        target = root / Path(handed.path).relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(handed.content())
        if handed.executable:
            target.chmod(0o755)


def _pack(folder: Path) -> list[HandedFile]:
    files = []
    for parent, folders, names in os.walk(folder):
        folders.sort()
        for name in sorted(names):
            path = Path(parent, name)
            if path.is_file() and not path.is_symlink():
                files.append(HandedFile.inline(str(path), path.read_bytes(), os.access(path, os.X_OK)))
    return files


def _take(
    ctx: RunContext,
    answer: ScriptAnswer,
    shared: Path | None,
    patterns: list[str],
    on_line: LineHandler,
) -> tuple[int, dict[str, str]]:
    for level, message in answer.logs:
        ctx.log(level if level in ("INFO", "WARN", "DEBUG") else "INFO", message)
    for stream, line in answer.lines:
        on_line("stderr" if stream == "stderr" else "stdout", line)
    if answer.failure is not None:
        raise FAILURES.get(answer.failure.type, TaskFailed)(answer.failure.message)
    if answer.exit_code is None:
        raise TaskFailed("the script sandbox answered without an exit code")
    if shared is not None:
        for handed in answer.workdir or []:
            target = shared.joinpath(*relative_path(handed.path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(handed.content())
            if handed.executable:
                target.chmod(0o755)
    matchers = [glob_pattern(pattern, "outputFiles") for pattern in patterns]
    stored: dict[str, str] = {}
    for handed in answer.files if answer.exit_code == 0 else []:
        name = relative_path(handed.path).as_posix()
        if not any(matcher.fullmatch(name) for matcher in matchers):
            raise TaskFailed(f"the script sandbox returned {name!r}, which no outputFiles pattern matches")
        try:
            stored[name] = ctx.put_file(name, handed.content())
        except ValueError as error:  # a name the storage refuses (an empty segment, ...)
            raise TaskFailed(f"cannot store output file '{name}': {error}") from None
    return answer.exit_code, stored
