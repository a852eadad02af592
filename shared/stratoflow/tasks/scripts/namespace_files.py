"""`namespaceFiles` of script tasks: the files stored for the flow's namespace (`strato files put`),
copied into the working directory before the command runs, at their paths.

`include` and `exclude` are globs on those paths, as Kestra's: `*` and `?` stay inside one folder,
`**` crosses folders (`**/` also matches no folder at all: `**/*.py` matches `main.py`), `[abc]` is
one of the characters and `{a,b}` one of the alternatives. No `include` means every file.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field

from stratoflow.tasks.context import RunContext
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.fields import StrictModel
from stratoflow.tasks.files import read_stored, relative_path
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
        include = [glob_pattern(as_text(p)) for p in ctx.render(self.include)]
        exclude = [glob_pattern(as_text(p)) for p in ctx.render(self.exclude)]
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


@lru_cache(maxsize=256)
def glob_pattern(glob: str) -> re.Pattern[str]:
    """A compiled regular expression matching the whole path for a glob; TaskFailed for a bad one."""
    out, i, depth = [], 0, 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                raise TaskFailed(f"namespaceFiles: unclosed '[' in the glob {glob!r}")
            body = glob[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end + 1
            continue
        elif char == "{":
            out.append("(?:")
            depth += 1
        elif char == "}" and depth:
            out.append(")")
            depth -= 1
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        raise TaskFailed(f"namespaceFiles: unclosed '{{' in the glob {glob!r}")
    return re.compile("".join(out))
