"""`git.Clone`: clone a repository into the shared directory of the enclosing `WorkingDirectory`,
with dulwich (pure Python: no git binary, which Lambda does not have)."""

from __future__ import annotations

import io
from typing import Any, ClassVar

from pydantic import Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import relative_path


@register
class Clone(RunnableTask):
    """Clone `url` (at `branch`, `depth` commits deep) into `directory` of the enclosing
    WorkingDirectory; outputs that `directory`."""

    type_name: ClassVar[str] = "git.Clone"
    kestra_gaps: ClassVar[str] = (
        "SSH (`privateKey`, `passphrase`), `trustedCaPemPath`: HTTP(S) and local URLs only"
    )
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.git.Clone",)
    output_fields: ClassVar[dict[str, str]] = {
        "directory": "where the repository is, relative to the working directory",
    }

    url: str
    directory: str | None = None
    branch: str | None = None
    depth: int = Field(default=1, ge=1)
    username: str | None = None
    password: str | None = None
    clone_submodules: bool = False

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from dulwich import porcelain  # deferred: only flows that clone pay for dulwich's imports
        from dulwich.client import HTTPUnauthorized
        from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

        if ctx.working_dir is None:
            raise TaskFailed(
                "git.Clone must run inside a WorkingDirectory task: its files would be gone when the task ends"
            )
        directory = as_text(ctx.render(self.directory)) if self.directory is not None else ""
        target = ctx.working_dir.joinpath(*relative_path(directory).parts) if directory else ctx.working_dir
        if target.exists() and any(target.iterdir()):
            raise TaskFailed(f"the directory '{directory or '.'}' is not empty; set another 'directory'")
        url = as_text(ctx.render(self.url))
        options: dict[str, Any] = {}
        if self.username is not None:
            options["username"] = as_text(ctx.render(self.username))
        if self.password is not None:
            options["password"] = as_text(ctx.render(self.password))
        branch = as_text(ctx.render(self.branch)) if self.branch is not None else None
        target.mkdir(parents=True, exist_ok=True)
        try:
            porcelain.clone(
                url,
                str(target),
                depth=self.depth,
                branch=branch,
                recurse_submodules=self.clone_submodules,
                errstream=io.BytesIO(),
                **options,
            ).close()
        except ValueError as error:  # dulwich's answer to a branch or tag the repository lacks
            raise TaskFailed(f"cannot clone {url}: no branch or tag '{branch}' ({error})") from None
        except HTTPUnauthorized:
            raise TaskFailed(f"cannot clone {url}: the server refused the credentials") from None
        except (GitProtocolError, HangupException, NotGitRepository, OSError) as error:
            raise TaskFailed(f"cannot clone {url}: {str(error) or type(error).__name__}") from None
        ctx.log("INFO", f"cloned {url}{f' ({branch})' if branch else ''} into '{directory or '.'}'")
        return {"directory": directory or "."}
