"""Script tasks: `scripts.Python`, `scripts.Shell` and `scripts.Commands`.

Each run gets a fresh working directory (removed afterwards) holding the namespace's files
(`namespaceFiles`), then its `inputFiles`; `scripts.Python` installs its `dependencies` (see the
`dependencies` module). The command runs there in a subprocess, in its own process group, bounded by
the task's `timeout` (an install included). Its stdout lines are INFO logs and its stderr lines WARN
logs, except Kestra's output lines `::{"outputs": {...}}::`, whose values become the output `vars`.
Files matching `outputFiles` are stored and output as `outputFiles: {name: uri}`. A non-zero exit
fails the task (TaskFailed).

A line that must arrive whole (an outputs line) may be up to MAX_OUTPUTS_BYTES long; a longer one
fails the task. Python scripts (and shell commands) are forked from a warm template process
(`warm`) unless `STRATOFLOW_WARM_SCRIPTS=0`; the script's environment is built from an allow-list
(`environment`), and `pip install` lines of `beforeCommands` join the cached `dependencies`.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.flow.task_runners import (
    DOCKER,
    DockerRunner,
    FargateRunner,
    TaskRunner,
    container_of,
    short_runner_names,
)
from stratoflow.sandbox_call import ScriptAnswer, ScriptJob
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import is_storage_uri, read_stored
from stratoflow.tasks.scripts import dependencies, warm
from stratoflow.tasks.scripts.before_commands import split_pip_installs
from stratoflow.tasks.scripts.environment import (
    in_lambda,
    installer_environment,
    script_environment,
    with_packages,
)
from stratoflow.tasks.scripts.handover import run_in_sandbox, take_answer
from stratoflow.tasks.scripts.namespace_files import NamespaceFiles
from stratoflow.tasks.scripts.process import SPAWN, Launcher, run_process
from stratoflow.tasks.scripts.workdir import WorkingDirectory, working_directory

OUTPUT_LINE = re.compile(r"^::(\{.*\})::\s*$")
# The output size limit: an `::{"outputs": ...}::` line up to this size arrives whole, a larger one
# fails the task (large data belongs in outputFiles).
MAX_OUTPUTS_BYTES = 16 * 1024**2
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
    return "python3" if in_lambda() else sys.executable


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
    # Kestra's flows name a container image; Stratoflow runs scripts in its own environment (locally
    # in process, in the cloud in the flow's sandbox function, or in a stock Python image on Fargate).
    # Accepted so those flows load, and ignored with a warning.
    container_image: str | None = None
    # Where the script runs: the task runner (Process), or a Fargate container (`flow.task_runners`).
    task_runner: TaskRunner | None = None
    docker: dict[str, Any] | None = None

    @field_validator("task_runner", mode="before")
    @classmethod
    def _short_runner_names(cls, value: Any) -> Any:
        return short_runner_names(value)

    def container(self) -> FargateRunner | None:
        return container_of(self.task_runner)

    @abstractmethod
    def command(self, ctx: RunContext, workdir: WorkingDirectory, before: list[str]) -> list[str]:
        """The argv to run inside the working directory, after the shell lines `before`."""

    def interpreter_for(self, ctx: RunContext) -> str:
        """The Python that installs the task's dependencies (and runs a Python script)."""
        return default_python()

    def requirements(self, ctx: RunContext) -> list[str]:
        """pip requirements the task declares (`dependencies`)."""
        return []

    def warm_python(self, ctx: RunContext, before: list[str]) -> bool:
        """Whether argv is `[python, script]` run by the template's own interpreter."""
        return False

    def run(self, ctx: RunContext) -> dict[str, Any]:
        where = {"containerImage": self.container_image, "docker": self.docker}
        ignored = [name for name, value in where.items() if value]
        if ignored:
            ctx.log("WARN", f"{', '.join(ignored)} ignored: scripts run in Stratoflow's own environment")
        if isinstance(self.task_runner, DockerRunner):
            ctx.log("WARN", f"taskRunner {DOCKER}: no Docker here, the script runs as a process")
        task_env = {as_text(k): as_text(v) for k, v in ctx.render(self.env).items()}
        inputs = self._input_files(ctx)
        patterns = [as_text(p) for p in ctx.render(self.output_files)]
        output = ScriptOutput(ctx)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout.total_seconds()

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        with working_directory(ctx.working_dir) as workdir:
            if self.namespace_files is not None:
                self.namespace_files.write(ctx, workdir)
            workdir.write_inputs(ctx, inputs)  # after the namespace's files: a task's own inputs win
            before, pip_lines = split_pip_installs([as_text(c) for c in ctx.render(self.before_commands)])
            sandbox = ctx.script_sandbox()
            env = script_environment(
                task_env,
                home=workdir.home,
                packages=workdir.packages,
                # In a sandbox, the script gets the sandbox's own credentials (the flow's), not these.
                credentials=None if sandbox is not None else ctx.aws_credentials(),
            )
            requirements = [*self.requirements(ctx), *pip_lines]
            if sandbox is not None:
                argv = [workdir.localize(ctx, part) for part in self.command(ctx, workdir, before)]
                code, files = run_in_sandbox(
                    ctx,
                    sandbox,
                    workdir,
                    argv=argv,
                    env=env,
                    requirements=requirements,
                    interpreter=self.interpreter_for(ctx),
                    launch="python" if self.warm_python(ctx, before) else "exec",
                    timeout=remaining(),
                    patterns=patterns,
                    whole_line_limit=MAX_OUTPUTS_BYTES,
                    on_line=output.on_line,
                )
                self._check_exit(code, output)
                return {"exitCode": code, "vars": output.vars, "outputFiles": files}
            installed = self._install(ctx, workdir, env, requirements, remaining())
            env = env if installed is None else with_packages(env, installed)
            argv = [workdir.localize(ctx, part) for part in self.command(ctx, workdir, before)]
            code = run_process(
                argv,
                cwd=workdir.path,
                env=env,
                timeout=remaining(),
                on_line=output.on_line,
                launcher=self._launcher(ctx, before, env, installed),
                whole_lines=b"::{",
                whole_limit=MAX_OUTPUTS_BYTES,
            )
            self._check_exit(code, output)
            files = workdir.collect_outputs(ctx, patterns)
        return {"exitCode": code, "vars": output.vars, "outputFiles": files}

    def collect(self, ctx: RunContext, job: ScriptJob, answer: ScriptAnswer) -> dict[str, Any]:
        """The outputs of a run whose command ran in a container: `job` is what `run` handed over,
        `answer` the container's; taken exactly as a sandbox function's answer is."""
        output = ScriptOutput(ctx)
        code, files = take_answer(ctx, job, answer, output.on_line)
        self._check_exit(code, output)
        return {"exitCode": code, "vars": output.vars, "outputFiles": files}

    @staticmethod
    def _check_exit(code: int, output: ScriptOutput) -> None:
        if code != 0:
            detail = f": {output.last_error}" if output.last_error else ""
            raise TaskFailed(f"the command exited with code {code}{detail}")

    def _install(
        self,
        ctx: RunContext,
        workdir: WorkingDirectory,
        env: dict[str, str],
        requirements: list[str],
        timeout: float | None,
    ) -> Path | None:
        """Install `requirements` (cached, see `dependencies`), never into Stratoflow's own
        environment; returns the folder they are in."""
        if not requirements:
            return None
        return workdir.enter_context(
            dependencies.installed(
                ctx,
                requirements,
                self.interpreter_for(ctx),
                cwd=workdir.path,
                env=installer_environment(env),
                timeout=timeout,
            )
        )

    def _launcher(
        self, ctx: RunContext, before: list[str], env: dict[str, str], installed: Path | None
    ) -> Launcher:
        if not warm.enabled():
            return SPAWN
        if self.warm_python(ctx, before):
            return warm.launcher("python", env, installed)
        return warm.launcher("exec", env, None)

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

    def shell(self, before: list[str], commands: list[str], fail_fast: bool = True) -> list[str]:
        """`/bin/sh -c` running `before` then `commands`; `set -e` stops at the first failure."""
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

    def interpreter_for(self, ctx: RunContext) -> str:
        return as_text(ctx.render(self.interpreter)) if self.interpreter else default_python()

    def requirements(self, ctx: RunContext) -> list[str]:
        return [as_text(r).strip() for r in ctx.render(self.dependencies)]

    def warm_python(self, ctx: RunContext, before: list[str]) -> bool:
        return self.interpreter is None and not before

    def command(self, ctx: RunContext, workdir: WorkingDirectory, before: list[str]) -> list[str]:
        interpreter = self.interpreter_for(ctx)
        path = self._script_path(ctx, workdir)
        if not before:
            return [interpreter, str(path)]
        return self.shell(before, [f"exec {shlex.quote(interpreter)} {shlex.quote(str(path))}"])

    def _script_path(self, ctx: RunContext, workdir: WorkingDirectory) -> Path:
        target = workdir.private / "script.py"
        if self.script is not None:
            target.write_text(workdir.localize(ctx, as_text(ctx.render(self.script))))
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

    def command(self, ctx: RunContext, workdir: WorkingDirectory, before: list[str]) -> list[str]:
        return self.shell(before, [as_text(c) for c in ctx.render(self.commands)], self.fail_fast)


@register
class Shell(ScriptTask):
    """Run an inline shell `script` with `/bin/sh`."""

    type_name: ClassVar[str] = "scripts.Shell"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.shell.Script",)

    script: str

    def command(self, ctx: RunContext, workdir: WorkingDirectory, before: list[str]) -> list[str]:
        # The script runs as written (no `set -e` of ours): it decides how it handles failures.
        body = as_text(ctx.render(self.script))
        if before:
            body = "\n".join(["set -e", *before, "set +e", body])
        return [*SHELL, body]
