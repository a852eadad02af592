"""Script tasks: `scripts.Python`, `scripts.Shell` and `scripts.Commands`.

Each run gets a fresh working directory (removed afterwards) holding the namespace's files
(`namespaceFiles`), then its `inputFiles`; `scripts.Python` installs its `dependencies` (see the
`dependencies` module). The command runs there in a subprocess, in its own process group, bounded by
the task's `timeout` (an install included). Its stdout lines are INFO logs and its stderr lines WARN
logs, except Kestra's output lines `::{"outputs": {...}}::`, whose values become the output `vars`.
Files matching `outputFiles` are stored and output as `outputFiles: {name: uri}`. A non-zero exit
fails the task (TaskFailed).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from stratoflow.tasks.base import RunnableTask
from stratoflow.tasks.context import RunContext
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import is_storage_uri, read_stored
from stratoflow.tasks.registry import register
from stratoflow.tasks.scripts import dependencies
from stratoflow.tasks.scripts.namespace_files import NamespaceFiles
from stratoflow.tasks.scripts.process import run_process
from stratoflow.tasks.scripts.workdir import WorkingDirectory, working_directory

OUTPUT_LINE = re.compile(r"^::(\{.*\})::\s*$")
SHELL = ["/bin/sh", "-c"]
KESTRA_SCRIPTS = "io.kestra.plugin.scripts"
SCRIPT_OUTPUTS: dict[str, str] = {
    "exitCode": "the exit code of the command (0: a failure fails the task)",
    "vars": 'values printed as `::{"outputs": {...}}::` lines',
    "outputFiles": "`{name: storage URI}` of the files matching `outputFiles`",
}


def default_python() -> str:
    """`python3` in Lambda (the runtime's own); locally the interpreter running Stratoflow, so that
    the packages of its virtual environment are importable by the script."""
    return "python3" if "AWS_LAMBDA_FUNCTION_NAME" in os.environ else sys.executable


def script_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The task runner's environment without local secrets (`SECRET_*`: a script gets a secret only
    when the flow passes it, as `env: {TOKEN: "{{ secret('TOKEN') }}"}`), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECRET_")}
    if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
        # `python` and `pip` in commands mean the interpreter running Stratoflow, as `scripts.Python` does.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"  # lines arrive as they are printed, interleaved as written
    env.update(extra)
    return env


class ScriptOutput:
    """Receives the command's lines: logs them, and keeps the values of `::{"outputs": ...}::` lines."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.vars: dict[str, Any] = {}
        self.last_error: str | None = None

    def on_line(self, stream: str, line: str) -> None:
        match = OUTPUT_LINE.match(line)
        if match:
            try:
                document = json.loads(match.group(1))
            except json.JSONDecodeError:
                document = None
            if isinstance(document, dict) and ("outputs" in document or "metrics" in document):
                outputs = document.get("outputs")
                if isinstance(outputs, dict):
                    self.vars.update(outputs)
                if "metrics" in document:
                    self.ctx.log("DEBUG", f"metrics (not recorded): {json.dumps(document['metrics'])}")
                return
        if stream == "stderr":
            self.last_error = line or self.last_error
            self.ctx.log("WARN", line)
        else:
            self.ctx.log("INFO", line)


class ScriptTask(RunnableTask):
    """What every script task shares: environment, files in and out, commands run first."""

    output_fields: ClassVar[dict[str, str]] = SCRIPT_OUTPUTS
    enforces_timeout: ClassVar[bool] = True

    env: dict[str, str] = Field(default_factory=dict)
    input_files: dict[str, Any] | str = Field(default_factory=dict)
    output_files: list[str] = Field(default_factory=list)
    before_commands: list[str] = Field(default_factory=list)
    namespace_files: NamespaceFiles | None = None
    # Kestra's flows say where to run (a container); Stratoflow runs in the task runner itself. They
    # are accepted so those flows load, and ignored with a warning.
    container_image: str | None = None
    task_runner: dict[str, Any] | None = None
    docker: dict[str, Any] | None = None

    @abstractmethod
    def command(self, ctx: RunContext, workdir: WorkingDirectory) -> list[str]:
        """The argv to run inside the working directory."""

    def prepare(
        self, ctx: RunContext, workdir: WorkingDirectory, env: dict[str, str], timeout: float | None
    ) -> dict[str, str]:
        """What must happen before the command (within `timeout` seconds); returns its environment."""
        return env

    def run(self, ctx: RunContext) -> dict[str, Any]:
        where = {
            "containerImage": self.container_image,
            "taskRunner": self.task_runner,
            "docker": self.docker,
        }
        ignored = [name for name, value in where.items() if value]
        if ignored:
            ctx.log("WARN", f"{', '.join(ignored)} ignored: scripts run in the task runner's own environment")
        env = {as_text(k): as_text(v) for k, v in ctx.render(self.env).items()}
        inputs = self._input_files(ctx)
        patterns = [as_text(p) for p in ctx.render(self.output_files)]
        output = ScriptOutput(ctx)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout.total_seconds()

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        with working_directory() as workdir:
            if self.namespace_files is not None:
                self.namespace_files.write(ctx, workdir)
            workdir.write_inputs(ctx, inputs)  # after the namespace's files: a task's own inputs win
            process_env = self.prepare(ctx, workdir, script_environment(env), remaining())
            argv = self.command(ctx, workdir)
            code = run_process(
                argv, cwd=workdir.path, env=process_env, timeout=remaining(), on_line=output.on_line
            )
            if code != 0:
                detail = f": {output.last_error}" if output.last_error else ""
                raise TaskFailed(f"the command exited with code {code}{detail}")
            files = workdir.collect_outputs(ctx, patterns)
        return {"exitCode": code, "vars": output.vars, "outputFiles": files}

    def _input_files(self, ctx: RunContext) -> dict[str, Any]:
        rendered = ctx.render(self.input_files)
        if isinstance(rendered, str):  # an expression giving the map, or the map as JSON
            try:
                rendered = json.loads(rendered) if rendered.strip() else {}
            except json.JSONDecodeError:
                rendered = None
        if not isinstance(rendered, dict):
            raise TaskFailed("inputFiles must be a map of file name to content or storage URI")
        return rendered

    def shell(self, ctx: RunContext, commands: list[str], fail_fast: bool = True) -> list[str]:
        """`/bin/sh -c` running `beforeCommands` then `commands`; `set -e` stops at the first failure."""
        before = [as_text(c) for c in ctx.render(self.before_commands)]
        lines = [*before, *commands]
        if fail_fast:
            lines.insert(0, "set -e")
        return [*SHELL, "\n".join(lines)]


@register
class Python(ScriptTask):
    """Run a Python script: inline `script`, or a `file` (a storage URI, a file of `inputFiles` or of
    the namespace, or a local path), after pip installs its `dependencies`. `script` is rendered
    first: write a literal `{{` as `{{ '{{' }}`."""

    type_name: ClassVar[str] = "scripts.Python"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.python.Script",)

    script: str | None = None
    file: str | None = None
    interpreter: str | None = None
    # pip requirement strings (`pandas>=2`, `./my_package`), installed before the script runs.
    dependencies: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _script_or_file(self) -> Python:
        if (self.script is None) == (self.file is None):
            raise ValueError("set exactly one of 'script' (inline code) and 'file'")
        return self

    @field_validator("dependencies")
    @classmethod
    def _requirements(cls, value: list[str]) -> list[str]:
        for requirement in value:
            if not requirement.strip():
                raise ValueError("a dependency must not be empty")
            if requirement.lstrip().startswith("-"):
                raise ValueError(f"{requirement!r}: dependencies are requirements, not pip options")
        return value

    def _interpreter(self, ctx: RunContext) -> str:
        return as_text(ctx.render(self.interpreter)) if self.interpreter else default_python()

    def prepare(
        self, ctx: RunContext, workdir: WorkingDirectory, env: dict[str, str], timeout: float | None
    ) -> dict[str, str]:
        requirements = [as_text(r).strip() for r in ctx.render(self.dependencies)]
        if not requirements:
            return env
        folder = workdir.enter_context(
            dependencies.installed(
                ctx, requirements, self._interpreter(ctx), cwd=workdir.path, env=env, timeout=timeout
            )
        )
        return dependencies.with_dependencies(env, folder)

    def command(self, ctx: RunContext, workdir: WorkingDirectory) -> list[str]:
        interpreter = self._interpreter(ctx)
        path = self._script_path(ctx, workdir)
        if not self.before_commands:
            return [interpreter, str(path)]
        return self.shell(ctx, [f"exec {shlex.quote(interpreter)} {shlex.quote(str(path))}"])

    def _script_path(self, ctx: RunContext, workdir: WorkingDirectory) -> Path:
        target = workdir.private / "script.py"
        if self.script is not None:
            target.write_text(as_text(ctx.render(self.script)))
            return target
        name = as_text(ctx.render(self.file))
        if is_storage_uri(name):
            target.write_bytes(read_stored(ctx, name))
            return target
        local = Path(name)
        if not local.is_absolute() and ".." not in local.parts:
            inside = workdir.path / local  # a file of inputFiles
            if inside.is_file():
                return inside
        if not local.is_file():
            raise TaskFailed(f"script file '{name}' not found (in inputFiles, storage or on disk)")
        target.write_bytes(local.read_bytes())
        return target


@register
class Commands(ScriptTask):
    """Run shell commands one after another (`/bin/sh -c`); the first failing one fails the task
    (`failFast`)."""

    type_name: ClassVar[str] = "scripts.Commands"
    aliases: ClassVar[tuple[str, ...]] = (
        f"{KESTRA_SCRIPTS}.shell.Commands",
        f"{KESTRA_SCRIPTS}.python.Commands",
    )

    commands: list[str] = Field(min_length=1)
    fail_fast: bool = True

    def command(self, ctx: RunContext, workdir: WorkingDirectory) -> list[str]:
        return self.shell(ctx, [as_text(c) for c in ctx.render(self.commands)], self.fail_fast)


@register
class Shell(ScriptTask):
    """Run an inline shell `script` with `/bin/sh`."""

    type_name: ClassVar[str] = "scripts.Shell"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.shell.Script",)

    script: str

    def command(self, ctx: RunContext, workdir: WorkingDirectory) -> list[str]:
        # The script runs as written (no `set -e` of ours): it decides how it handles failures.
        before = [as_text(c) for c in ctx.render(self.before_commands)]
        body = as_text(ctx.render(self.script))
        if before:
            body = "\n".join(["set -e", *before, "set +e", body])
        return [*SHELL, body]
