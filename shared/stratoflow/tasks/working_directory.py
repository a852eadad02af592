"""`WorkingDirectory`: tasks that share one directory — a `git.Clone` then the scripts that use it.

On Step Functions each task runs in its own Lambda invocation, often on another instance, so the
directory travels through storage: before each task the runner restores it from
`<namespace>/<flow>/executions/<id>/workdirs/<WorkingDirectory task run>.tar.gz`, and after the task,
failed or not, saves it back. The local engine does the same. The tasks run one after another and
only runnable tasks are allowed inside (as in Kestra), so two tasks never change the directory at
once. Its size is bounded by the task runner's `/tmp` (512 MB by default in Lambda).
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, model_validator

from stratoflow.flow.registry import kestra_aliases, register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask, Task
from stratoflow.flow.task_lists import FlowableTask, NonEmptyTaskList
from stratoflow.tasks.files import file_or_content, relative_path


@register
class WorkingDirectory(FlowableTask):
    """Run `tasks` one after another in one shared working directory (`inputFiles` written into it
    first); `errors` run in it too when one fails."""

    type_name: ClassVar[str] = "WorkingDirectory"
    # Compiled as a Sequential is: the shared directory is the runner's business, not the states'.
    compiled_as: ClassVar[str] = "Sequential"
    kestra_gaps: ClassVar[str] = "`outputFiles`, `namespaceFiles`, `cache`, `taskRunner`"
    aliases: ClassVar[tuple[str, ...]] = kestra_aliases("flow", "WorkingDirectory", "flows")

    tasks: NonEmptyTaskList
    input_files: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _runnable_only(self) -> WorkingDirectory:
        for child in [*self.tasks, *self.errors]:
            if not isinstance(child, RunnableTask):
                raise ValueError(
                    f"task '{child.id}' ({child.type}) is a flowable task; a WorkingDirectory runs only "
                    "runnable tasks, one after another"
                )
        return self

    def body_lists(self) -> list[tuple[str, list[Task]]]:
        return [("tasks", self.tasks)]

    def shared_folder(self, ctx: RunContext, read: Any, write: Any, key: str) -> AbstractContextManager[Path]:
        """The folder one of its tasks runs in (`shared_directory`)."""
        return shared_directory(ctx, self, read, write, key)


def _archive(path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for item in sorted(path.rglob("*")):
            tar.add(item, arcname=item.relative_to(path).as_posix(), recursive=False)
    return buffer.getvalue()


def _restore(data: bytes, path: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        # The archive is our own, but it sits in storage: the `data` filter refuses absolute paths,
        # `..` and links that leave the directory.
        tar.extractall(path, filter="data")


@contextmanager
def shared_directory(
    ctx: RunContext, directory: WorkingDirectory, read: Any, write: Any, key: str
) -> Iterator[Path]:
    """The WorkingDirectory's folder for one task: restored from `key` (or new, with its
    `inputFiles`), saved back to `key` when the task ends. `read(key)` gives the stored archive or
    None, `write(key, data)` stores it."""
    root = Path(tempfile.mkdtemp(prefix="stratoflow-wd-"))
    try:
        stored = read(key)
        if stored is not None:
            _restore(stored, root)
        else:
            for name, value in directory.input_files.items():
                target = root.joinpath(*relative_path(str(name)).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(file_or_content(ctx, ctx.render(value)))
        try:
            yield root
        finally:
            write(key, _archive(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
