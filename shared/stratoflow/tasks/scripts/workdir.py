"""The working directory of one script run: input files in, output files out; a fresh one removed
after, or the shared one of an enclosing `WorkingDirectory` task.

`outputFiles` are globs with Kestra's meaning (`stratoflow.tasks.scripts.globs`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import STORAGE_SCHEME, file_or_content, read_stored, relative_path
from stratoflow.tasks.scripts.globs import glob_pattern

T = TypeVar("T")
# A storage URI inside a command or script, up to the first character a shell or Python would end it at.
STORED = re.compile(re.escape(STORAGE_SCHEME) + r"""[^\s'"`;|&<>(){}\[\],]+""")


@dataclass(frozen=True)
class WorkingDirectory:
    """`path` is where the command runs; `private` holds what Stratoflow writes for it (the script
    file), outside `path` so that `outputFiles: ["*"]` never picks it up."""

    path: Path
    private: Path
    held: ExitStack = field(default_factory=ExitStack, compare=False, repr=False)

    def enter_context(self, context: AbstractContextManager[T]) -> T:
        """Enter `context` until the run ends (its dependencies stay installed while the script runs)."""
        return self.held.enter_context(context)

    def write_inputs(self, ctx: RunContext, files: Mapping[str, Any]) -> None:
        """`{name: content or storage URI}` -> files under the working directory."""
        for name, value in files.items():
            target = self.path.joinpath(*relative_path(str(name)).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file_or_content(ctx, value))

    @property
    def home(self) -> Path:
        """The script's HOME (what it writes there, like pip's cache, is no output file)."""
        return self.private

    @property
    def packages(self) -> Path:
        """Where a `pip install` of the script goes (its PIP_TARGET, on its PYTHONPATH)."""
        return self.private / "packages"

    def localize(self, ctx: RunContext, text: str) -> str:
        """`text` with each storage URI replaced by the path of a local copy of its file, as Kestra
        does for the commands of script tasks (`cat {{ outputs.t.uri }}` reads the file)."""
        copies: dict[str, str] = {}
        for uri in dict.fromkeys(STORED.findall(text)):
            folder = self.private / "files" / str(len(copies))
            folder.mkdir(parents=True)
            name = uri.rstrip("/").rsplit("/", 1)[-1] or "file"
            target = folder / name
            target.write_bytes(read_stored(ctx, uri))
            copies[uri] = str(target)
        if not copies:
            return text
        return STORED.sub(lambda match: copies[match.group(0)], text)

    def collect_outputs(self, ctx: RunContext, patterns: list[str]) -> dict[str, str]:
        """Store the files matching the globs; `{relative name: storage URI}`."""
        matchers = []
        for pattern in patterns:
            relative_path(pattern)  # same rule as input names: no absolute paths, no '..'
            matchers.append(glob_pattern(pattern, "outputFiles"))
        found: dict[str, Path] = {}
        for name, path in _files(self.path):
            if any(matcher.fullmatch(name) for matcher in matchers):
                found.setdefault(name, path)
        stored: dict[str, str] = {}
        for name, path in found.items():
            try:
                stored[name] = ctx.put_file(name, path.read_bytes())
            except ValueError as error:  # a name the storage refuses (an empty segment, ...)
                raise TaskFailed(f"cannot store output file '{name}': {error}") from None
        return stored


def _files(root: Path) -> list[tuple[str, Path]]:
    """Every regular file under `root` (not following links), by relative name, sorted."""
    found = []
    for parent, folders, files in os.walk(root):
        folders.sort()
        for name in files:
            path = Path(parent, name)
            if path.is_file() and not path.is_symlink():
                found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


@contextmanager
def working_directory(shared: Path | None = None) -> Iterator[WorkingDirectory]:
    """A new temporary folder (under TMPDIR: /tmp in Lambda), removed with everything in it; or, inside
    a `WorkingDirectory` task, the `shared` folder, which is kept for the next task."""
    root = Path(tempfile.mkdtemp(prefix="stratoflow-"))
    try:
        # Each folder costs its creation and removal: the root is the private one.
        work = shared or root / "work"
        work.mkdir(exist_ok=True)
        with ExitStack() as held:
            yield WorkingDirectory(work, root, held)
    finally:
        shutil.rmtree(root, ignore_errors=True)
