"""Where a task inside a `WorkingDirectory` finds the shared directory: restored from storage before
it runs, saved back after (see `stratoflow.tasks.working_directory`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from stratoflow.domain import Execution
from stratoflow.execution.ids import Scope, parent_scope, task_run_id
from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.flow import Flow, registry
from stratoflow.flow.task import Task
from stratoflow.store.base import BlobStore
from stratoflow.store.rules import URI_SCHEME

if TYPE_CHECKING:
    from stratoflow.tasks.working_directory import WorkingDirectory


@contextmanager
def shared_directory_of(
    flow: Flow, execution: Execution, task: Task, scope: Scope, blobs: BlobStore, ctx: TaskRunContext
) -> Iterator[None]:
    """Set `ctx.working_dir` for the run of a task inside a WorkingDirectory; nothing otherwise."""
    # Among the task types imported already: a WorkingDirectory in the flow imported its module when the
    # flow was loaded, and a runner whose flows have none never loads it (nor tarfile, for its archives).
    kind = registry.registered("WorkingDirectory")
    enclosing = [p for p in flow.task_parents(task.id) if kind is not None and isinstance(p, kind)]
    if not enclosing:
        yield
        return
    directory = cast("WorkingDirectory", enclosing[-1])
    # One directory per run of the WorkingDirectory: each loop iteration around it has its own.
    run_id = task_run_id(execution.id, directory.id, parent_scope(scope, directory.id))
    key = f"{execution.namespace}/{execution.flow_id}/executions/{execution.id}/workdirs/{run_id}.tar.gz"

    def read(name: str) -> bytes | None:
        uri = URI_SCHEME + name
        return blobs.get(uri) if blobs.exists(uri) else None

    with directory.shared_folder(ctx, read, blobs.put, key) as path:
        ctx.working_dir = path
        try:
            yield
        finally:
            ctx.working_dir = None
