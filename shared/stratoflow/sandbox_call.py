"""The call the task runner makes to a flow's script sandbox, and what the sandbox answers.

In the cloud, script tasks (`scripts.*`, `aws.cli.AwsCLI`) do not run inside the task-runner Lambda,
whose role reaches every namespace: the runner prepares the run (renders the task, resolves secrets,
copies input and namespace files into a working directory) and hands the sandbox of the task's flow
(a Lambda function whose own role is the flow's sandbox role, `cloud.deploy.sandboxes`) a `ScriptJob`.
The sandbox recreates the folders at the same paths, installs the dependencies, runs the command and
answers a `ScriptAnswer`: the command's lines, its exit code, the output files. The runner then does
everything that needs the platform (masking, logs, outputs, storing files), treating the answer as
untrusted input.

Files travel inline (base64) when small; larger ones through presigned S3 URLs that the runner signs
for the task run's own keys only (a GET per input file, one POST policy restricted to a key prefix
for what comes back). An answer too large for Lambda's synchronous response is itself posted there,
and the sandbox answers with its key (`SandboxReply.answer_key`). Nothing is truncated: past a limit
the task fails naming it.

A task run recorded KILLED while its command runs (its flowable timed out, the execution was killed)
must stop it, but the sandbox may not read the table: the job carries `stop_url`, a presigned GET of
the task run's own "stop" object, which the runner writes when its stop check fires; the sandbox
polls it while the command runs and kills the command's process group once it exists.

A kernel module (it imports nothing of Stratoflow): the sandbox function imports it without the
execution core, and both sides read the same models.
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Lambda takes and returns at most 6 MB synchronously (request and response): past these, files and
# answers travel through S3. JSON and base64 take their share, hence well under the limit.
INLINE_FILE_BYTES = 256 * 1024
INLINE_JOB_BYTES = 5 * 1024**2
INLINE_ANSWER_BYTES = 5 * 1024**2
# How often the sandbox GETs the job's stop URL while the command runs (the runner reads the record
# every 2 s: a stop reaches the script within about 2.5 s of the KILLED record).
STOP_POLL_SECONDS = 0.5
# What `stop_url` gives of the reason the runner wrote.
MAX_STOP_REASON_BYTES = 2048
# What one presigned POST may carry (an output file, or an answer too large to return inline).
MAX_UPLOAD_BYTES = 5 * 1024**3

FailureType = Literal["TaskFailed", "TaskTimeout", "TaskStopped", "OutputTooLarge", "DependencyInstallFailed"]
Launch = Literal["spawn", "python", "exec"]


class Contract(BaseModel):
    """Field names as they are on the wire; an unknown field is refused, not ignored.

    Built on first use (`defer_build`): the task-runner Lambda imports this module at cold start but
    meets these models only when it runs a script task in a sandbox or a container; the sandbox builds
    them on its first job.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True, defer_build=True)


class HandedFile(Contract):
    """One file: in a job, an absolute path inside the job's folders; in an answer, a path relative to
    the working directory. Its bytes are `data` (base64), or behind `url` (a job's presigned GET), or
    at `key` (an answer's upload, under the task run's prefix)."""

    path: str
    size: int = Field(ge=0)
    data: str | None = None
    url: str | None = None
    key: str | None = None
    executable: bool = False

    @classmethod
    def inline(cls, path: str, content: bytes, executable: bool = False) -> HandedFile:
        return cls(
            path=path, size=len(content), data=base64.b64encode(content).decode(), executable=executable
        )

    def content(self) -> bytes:
        """The inline bytes; ValueError when the file travels by URL or key."""
        if self.data is None:
            raise ValueError(f"file {self.path!r} is not inline")
        return base64.b64decode(self.data, validate=True)


class Upload(Contract):
    """A presigned POST: `fields` plus `key` (which must start with `prefix`) and the file."""

    url: str
    fields: dict[str, str]
    prefix: str
    max_bytes: int


class ScriptJob(Contract):
    """Run `argv` in `cwd` with `env`, after writing `files` and installing `requirements`."""

    folders: list[str]  # absolute folders to create first: the run's own, a shared working directory
    cwd: str
    argv: list[str] = Field(min_length=1)
    env: dict[str, str]  # the script's environment, without credentials: the sandbox adds its own role's
    files: list[HandedFile] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
    interpreter: str = "python3"  # the Python that installs `requirements`
    launch: Launch = "spawn"  # a warm template's mode when the sandbox has templates, else a plain fork
    timeout: float | None = None
    output_patterns: list[str] = Field(default_factory=list)  # outputFiles globs, relative to cwd
    whole_line_limit: int  # an `::{"outputs":...}::` line up to this many bytes arrives whole
    return_workdir: bool = False  # a shared WorkingDirectory: every file of cwd comes back
    upload: Upload | None = None
    # A presigned GET of the task run's stop object: once it exists (its text is the reason), the
    # command is killed with its group. None (a runner before stops, no stop check): never stopped.
    stop_url: str | None = None


class ScriptFailure(Contract):
    type: FailureType
    message: str


class ScriptAnswer(Contract):
    """What the command did. `logs` come before `lines`: the install's (level, message), then the
    command's (stream, line)."""

    exit_code: int | None = None
    logs: list[tuple[str, str]] = Field(default_factory=list)
    lines: list[tuple[str, str]] = Field(default_factory=list)
    failure: ScriptFailure | None = None
    files: list[HandedFile] = Field(default_factory=list)
    workdir: list[HandedFile] | None = None


class SandboxReply(Contract):
    """The function's response: the answer itself, or the key it was posted to when too large."""

    answer: ScriptAnswer | None = None
    answer_key: str | None = None


__all__ = [
    "INLINE_ANSWER_BYTES",
    "INLINE_FILE_BYTES",
    "INLINE_JOB_BYTES",
    "MAX_STOP_REASON_BYTES",
    "MAX_UPLOAD_BYTES",
    "STOP_POLL_SECONDS",
    "HandedFile",
    "SandboxReply",
    "ScriptAnswer",
    "ScriptFailure",
    "ScriptJob",
    "Upload",
]
