"""`namespaceFiles` of script tasks: the files stored for the flow's namespace (`strato files put`),
copied into the working directory before the command runs, at their paths.

`include` and `exclude` are globs on those paths, as Kestra's (`stratoflow.tasks.scripts.globs`).
No `include` means every file.
"""

from __future__ import annotations

from pydantic import Field

from stratoflow.flow.fields import StrictModel
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.core import as_text
from stratoflow.tasks.files import read_stored, relative_path
from stratoflow.tasks.scripts.globs import glob_pattern
from stratoflow.tasks.scripts.workdir import WorkingDirectory


class NamespaceFiles(StrictModel):
    """Which files of the flow's namespace the working directory gets."""

    enabled: bool = True
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    def write(self, ctx: RunContext, workdir: WorkingDirectory) -> list[str]:
        """Copy the selected files into the working directory; returns their paths."""
        if not self.enabled:
            return []
        include = [glob_pattern(as_text(p), "namespaceFiles") for p in ctx.render(self.include)]
        exclude = [glob_pattern(as_text(p), "namespaceFiles") for p in ctx.render(self.exclude)]
        copied = []
        for path, uri in ctx.namespace_files().items():
            if include and not any(p.fullmatch(path) for p in include):
                continue
            if any(p.fullmatch(path) for p in exclude):
                continue
            target = workdir.path.joinpath(*relative_path(path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(read_stored(ctx, uri))
            copied.append(path)
        ctx.log("DEBUG", f"namespace files: {len(copied)} copied into the working directory")
        return copied
