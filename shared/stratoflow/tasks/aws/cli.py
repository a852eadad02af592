"""`aws.cli.AwsCLI`: shell `commands` that call `aws`, the AWS CLI v1 from the task runner's own
packages (it is in the Lambda layer, with the same botocore as the AWS tasks), with the flow's
credentials unless the task names its own."""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from pydantic import Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.aws.base import KESTRA_AWS
from stratoflow.tasks.core import as_text
from stratoflow.tasks.scripts.tasks import ScriptTask, default_python
from stratoflow.tasks.scripts.workdir import WorkingDirectory


@register
class AwsCLI(ScriptTask):
    """Run shell `commands` with `aws` (the AWS CLI) on the PATH, as the flow's role (or the given
    keys), in `region`, against `endpointOverride` when set."""

    type_name: ClassVar[str] = "aws.cli.AwsCLI"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.cli.AwsCLI",)
    kestra_gaps: ClassVar[str] = (
        "in the cloud the commands run as the flow's role, which holds only the IAM actions its other AWS "
        "tasks declare: give `accessKeyId`/`secretKeyId` for other calls; `containerImage`, `taskRunner`"
    )

    commands: list[str] = Field(min_length=1)
    region: str | None = None
    endpoint_override: str | None = None
    access_key_id: str | None = None
    secret_key_id: str | None = None
    session_token: str | None = None

    def _aws_environment(self, ctx: RunContext) -> dict[str, str]:
        """The CLI's variables for what the task names; the flow's own credentials reach every script
        already (see `scripts.environment`)."""

        def text(value: str | None) -> str | None:
            return (as_text(ctx.render(value)) or None) if value is not None else None

        env: dict[str, str] = {}
        if self.access_key_id is not None:
            given = {
                "AWS_ACCESS_KEY_ID": text(self.access_key_id),
                "AWS_SECRET_ACCESS_KEY": text(self.secret_key_id),
                "AWS_SESSION_TOKEN": text(self.session_token),
            }
            env.update({name: value for name, value in given.items() if value})
        region, endpoint = text(self.region), text(self.endpoint_override)
        if region:
            env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = region
        if endpoint:
            env["AWS_ENDPOINT_URL"] = endpoint
        return env

    def command(self, ctx: RunContext, workdir: WorkingDirectory, before: list[str]) -> list[str]:
        # `aws` is a tiny launcher of the awscli package with the task runner's Python: Lambda has no
        # `aws` binary, and the package is the one the layer carries.
        folder = workdir.private / "aws-cli"
        folder.mkdir(exist_ok=True)
        launcher = folder / "aws"
        launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(default_python())} -m awscli "$@"\n')
        launcher.chmod(0o755)
        path = f'export PATH={shlex.quote(str(folder))}:"$PATH"'
        return self.shell([path, *before], [as_text(c) for c in ctx.render(self.commands)])

    def run(self, ctx: RunContext) -> dict[str, Any]:
        # The task's keys, region and endpoint join its `env` (rendered already: they are text now).
        env = {**self.env, **self._aws_environment(ctx)}
        return ScriptTask.run(self.model_copy(update={"env": env}), ctx)
