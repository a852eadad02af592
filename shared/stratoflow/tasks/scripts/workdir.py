"""The fresh working directory of one script run: input files in, output files out, removed after."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from stratoflow.tasks.context import RunContext
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import file_or_content, relative_path

T = TypeVar("T")


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

    def collect_outputs(self, ctx: RunContext, patterns: list[str]) -> dict[str, str]:
        """Store the files matching the globs; `{relative name: storage URI}`."""
        found: dict[str, Path] = {}
        for pattern in patterns:
            relative_path(pattern)  # same rule as input names: no absolute paths, no '..'
            for match in sorted(self.path.glob(pattern)):
                if match.is_file() and not match.is_symlink():
                    found.setdefault(match.relative_to(self.path).as_posix(), match)
        stored: dict[str, str] = {}
        for name, path in found.items():
            try:
                stored[name] = ctx.put_file(name, path.read_bytes())
            except ValueError as error:  # a name the storage refuses (an empty segment, ...)
                raise TaskFailed(f"cannot store output file '{name}': {error}") from None
        return stored


@contextmanager
def working_directory() -> Iterator[WorkingDirectory]:
    """A new temporary folder (under TMPDIR: /tmp in Lambda), removed with everything in it."""
    root = Path(tempfile.mkdtemp(prefix="stratoflow-"))
    try:
        work, private = root / "work", root / "private"
        work.mkdir()
        private.mkdir()
        with ExitStack() as held:
            yield WorkingDirectory(work, private, held)
    finally:
        shutil.rmtree(root, ignore_errors=True)
