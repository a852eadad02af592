"""The sandbox's side of a script run: what `functions/script_sandbox` calls with a `ScriptJob`.

It runs in an execution environment whose own credentials are the flow's sandbox role: whatever the
script reads (its environment, `/proc/<pid>/environ` of its parent or of process 1, the Lambda
runtime API, files) holds nothing more. It imports nothing that needs the table or the data bucket:
files come and go through what the job carries (inline bytes, presigned URLs).

Steps: create the job's folders at the paths the runner used (its argv and environment name them),
write the files, install the requirements (the dependency cache of this environment), run the command
(forked from a warm template when the job says so and the templates are on), collect the files that
match `outputFiles` (and the whole working directory for a shared one), and answer. An answer larger
than Lambda's response is posted through the job's upload and answered by key. While the install and
the command run, the job's stop URL is polled: once the runner has written the stop object, the
command's process group is killed and the answer says TaskStopped.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from stratoflow.sandbox_call import (
    INLINE_ANSWER_BYTES,
    INLINE_FILE_BYTES,
    HandedFile,
    SandboxReply,
    ScriptAnswer,
    ScriptFailure,
    ScriptJob,
)
from stratoflow.tasks.errors import TaskError, TaskFailed, TaskStopped, TaskTimeout
from stratoflow.tasks.scripts import dependencies, transfer, warm
from stratoflow.tasks.scripts.environment import CREDENTIAL_VARIABLES, installer_environment, with_packages
from stratoflow.tasks.scripts.globs import glob_pattern
from stratoflow.tasks.scripts.process import SPAWN, Launcher, OutputTooLarge, run_process, stopped_when

# What this environment's own role gives the script: the flow's sandbox role, as keys in Lambda, as
# ECS's credentials endpoint in a Fargate container (which the SDKs read again before they expire).
OWN_VARIABLES = (
    *CREDENTIAL_VARIABLES.values(),
    "AWS_DEFAULT_REGION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
# Lambda's one writable folder (/tmp), where the runner's working directories are too.
ALLOWED_ROOT = Path(tempfile.gettempdir())


class _Logs:
    """Collects what the install logs (dependencies.installed calls `log`)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def log(self, level: str, message: str) -> None:
        self.entries.append((level, message))


def handle(event: Mapping[str, Any]) -> dict[str, Any]:
    """The sandbox function's whole work: a job in, the reply as JSON out."""
    return run_job(ScriptJob.model_validate(event)).model_dump(mode="json", exclude_none=True)


HandBack = Callable[[str, bytes], str]
"""Stores a file the sandbox hands back (a name under the run's `out/` folder, its bytes); its key."""


def run_job(job: ScriptJob, root: Path = ALLOWED_ROOT, hand_back: HandBack | None = None) -> SandboxReply:
    """Run the job to its end; a failure of the command is an answer, not an exception. Large output
    files and a large answer go through `hand_back` (a container's own role), else the job's upload."""
    if hand_back is None and job.upload is not None:
        hand_back = functools.partial(transfer.upload, job.upload)
    logs = _Logs()
    lines: list[tuple[str, str]] = []
    answer: ScriptAnswer
    try:
        with _folders(job, root):
            code, files, workdir = _run(job, root, logs, lines, hand_back)
            answer = ScriptAnswer(
                exit_code=code, logs=logs.entries, lines=lines, files=files, workdir=workdir
            )
    except TaskError as error:
        answer = ScriptAnswer(
            logs=logs.entries,
            lines=lines,
            failure=ScriptFailure(type=_failure_type(error), message=error.message),
        )
    return _reply(answer, hand_back)


def _failure_type(error: TaskError) -> str:
    for kind in (OutputTooLarge, TaskTimeout, TaskStopped, dependencies.DependencyInstallFailed):
        if isinstance(error, kind):
            return kind.__name__
    return "TaskFailed"


@contextmanager
def _folders(job: ScriptJob, root: Path) -> Iterator[None]:
    created = []
    try:
        for folder in job.folders:
            path = _inside(folder, root)
            path.mkdir(parents=True, exist_ok=True)
            created.append(path)
        yield
    finally:
        for path in created:
            shutil.rmtree(path, ignore_errors=True)


def _inside(name: str, root: Path) -> Path:
    path = Path(os.path.normpath(name))
    if not path.is_absolute() or not path.is_relative_to(root) or path == root:
        raise TaskFailed(f"the job names {name!r}, outside the sandbox's folder {root}")
    return path


def _run(
    job: ScriptJob, root: Path, logs: _Logs, lines: list[tuple[str, str]], hand_back: HandBack | None
) -> tuple[int, list[HandedFile], list[HandedFile] | None]:
    folders = [_inside(folder, root) for folder in job.folders]
    for handed in job.files:
        target = Path(os.path.normpath(handed.path))
        if not any(target.is_relative_to(folder) and target != folder for folder in folders):
            raise TaskFailed(f"the job's file {handed.path!r} is outside its folders")
        target.parent.mkdir(parents=True, exist_ok=True)
        if handed.url is not None:
            transfer.download(handed.url, target, handed.size)
        else:
            target.write_bytes(handed.content())
        if handed.executable:
            target.chmod(0o755)
    cwd = _inside(job.cwd, root)
    cwd.mkdir(parents=True, exist_ok=True)  # empty folders are not handed over
    env = {**_own_credentials(), **job.env}
    # The task's timeout covers the install and the command together, as it does locally.
    deadline = None if job.timeout is None else time.monotonic() + job.timeout

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    with ExitStack() as held:
        # Stopped during the install too (pip runs as a command); a job from a runner before stops
        # has no stop URL: it runs to its end.
        if job.stop_url is not None:
            held.enter_context(stopped_when(transfer.stop_check(job.stop_url)))
        installed = None
        if job.requirements:
            installed = held.enter_context(
                dependencies.installed(
                    logs,
                    job.requirements,
                    job.interpreter,
                    cwd=cwd,
                    env=installer_environment(env),
                    timeout=remaining(),
                )
            )
            env = with_packages(env, installed)
        code = run_process(
            job.argv,
            cwd=cwd,
            env=env,
            timeout=remaining(),
            on_line=lambda stream, line: lines.append((stream, line)),
            launcher=_launcher(job, env, installed),
            whole_lines=b"::{",
            whole_limit=job.whole_line_limit,
        )
    # A failed command's files are not outputs (the runner would not store them).
    matching = _matching(cwd, job.output_patterns) if code == 0 else []
    files = [_hand_back(hand_back, name, path) for name, path in matching]
    every = _every_file(cwd) if job.return_workdir else None
    workdir = None if every is None else [_hand_back(hand_back, name, path) for name, path in every]
    return code, files, workdir


def _own_credentials() -> dict[str, str]:
    return {name: os.environ[name] for name in OWN_VARIABLES if os.environ.get(name)}


def _launcher(job: ScriptJob, env: dict[str, str], installed: Path | None) -> Launcher:
    if job.launch == "spawn" or not warm.enabled():
        return SPAWN
    return warm.launcher(job.launch, env, installed if job.launch == "python" else None)


def _every_file(root: Path) -> list[tuple[str, Path]]:
    found = []
    for parent, folders, names in os.walk(root):
        folders.sort()
        for name in names:
            path = Path(parent, name)
            if path.is_file() and not path.is_symlink():
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def _matching(root: Path, patterns: list[str]) -> list[tuple[str, Path]]:
    matchers = [glob_pattern(pattern, "outputFiles") for pattern in patterns]
    return [(name, path) for name, path in _every_file(root) if any(m.fullmatch(name) for m in matchers)]


def _hand_back(hand_back: HandBack | None, name: str, path: Path) -> HandedFile:
    content = path.read_bytes()
    executable = os.access(path, os.X_OK)
    if len(content) <= INLINE_FILE_BYTES:
        return HandedFile.inline(name, content, executable)
    if hand_back is None:
        raise TaskFailed(f"output file {name!r} takes {len(content)} bytes and the job gave no upload for it")
    key = hand_back(f"files/{len(name)}-{name}", content)
    return HandedFile(path=name, size=len(content), key=key, executable=executable)


def _reply(answer: ScriptAnswer, hand_back: HandBack | None) -> SandboxReply:
    text = answer.model_dump_json()
    if len(text) <= INLINE_ANSWER_BYTES:
        return SandboxReply(answer=answer)
    if hand_back is None:
        failure = ScriptFailure(
            type="TaskFailed",
            message=f"the script's logs and outputs take {len(text)} bytes, over the {INLINE_ANSWER_BYTES} "
            "a sandbox answers inline, and the job gave no upload for them",
        )
        return SandboxReply(answer=ScriptAnswer(failure=failure))
    return SandboxReply(answer_key=hand_back("answer.json", text.encode()))
