"""The working directory of one script run: input files in, output files out; an empty scratch
folder emptied after, or the shared one of an enclosing `WorkingDirectory` task.

Creating and removing folders is slow on some disks (a `mkdtemp` and its removal cost 5-8 ms on an ext4
disk mounted with `discard`, more than the rest of a warm script task), so the scratch folders are
made once per process and reused (`Scratch`): one is handed to one run at a time and emptied when the
run ends. A folder that cannot be emptied whole is removed instead and never handed out again, so a
run never sees a previous run's files. (A process that escaped its task's process group, a daemon in
a session of its own, outlives the task either way; it runs as the runner's user and could read the
runner's files before this too: see docs/security.md on script code.)

`outputFiles` are globs with Kestra's meaning (`stratoflow.tasks.scripts.globs`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import stat
import tempfile
import threading
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


class Scratch:
    """Reusable scratch folders of this process under one root (`<TMPDIR>/stratoflow-scratch-*`,
    removed when the process exits): each holds a `work` folder (the run's working directory) and
    is the run's private folder (its script file, its HOME). Thread-safe."""

    WORK = "work"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._pid = 0
        self._free: list[Path] = []
        self._made = 0

    def acquire(self) -> Path:
        """An empty folder holding an empty `work` folder, for one run."""
        with self._lock:
            if self._root is None or self._pid != os.getpid() or not self._root.is_dir():
                # First use, or a forked child (the parent's folders are the parent's), or the root
                # was removed under us (a temporary-files cleaner).
                self._root = Path(tempfile.mkdtemp(prefix="stratoflow-scratch-"))
                self._pid = os.getpid()
                self._free = []
                atexit.register(shutil.rmtree, self._root, True)
            while self._free:
                folder = self._free.pop()
                if (folder / self.WORK).is_dir():  # not removed meanwhile by a temporary-files cleaner
                    return folder
            self._made += 1
            folder = self._root / str(self._made)
        folder.mkdir()
        (folder / self.WORK).mkdir()
        return folder

    def release(self, folder: Path) -> None:
        """Empty `folder` for the next run; a folder that does not end up empty is removed instead."""
        if _empty(folder, keep=self.WORK) and _empty(folder / self.WORK):
            with self._lock:
                if self._root == folder.parent and self._pid == os.getpid():
                    self._free.append(folder)
                    return
        _remove_tree(str(folder))


def _empty(folder: Path, keep: str | None = None) -> bool:
    """Remove everything inside `folder` but the folder `keep` (itself, not a link to one); True when
    nothing else is left."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                if entry.name != keep:
                    _remove_tree(entry.path)
            else:
                os.unlink(entry.path)
    try:
        left = [name for name in os.listdir(folder) if name != keep]
        return not left and (keep is None or stat.S_ISDIR(os.lstat(folder / keep).st_mode))
    except OSError:
        return False


def _remove_tree(path: str) -> None:
    """Remove a folder a script left; one it made read-only is made writable first (its links are
    never followed)."""
    try:
        shutil.rmtree(path)
    except OSError:
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IRWXU)
        for parent, folders, _ in os.walk(path):
            for name in folders:
                inner = os.path.join(parent, name)
                with contextlib.suppress(OSError):
                    if stat.S_ISDIR(os.lstat(inner).st_mode):
                        os.chmod(inner, stat.S_IRWXU)
        shutil.rmtree(path, ignore_errors=True)


SCRATCH = Scratch()


@contextmanager
def working_directory(shared: Path | None = None) -> Iterator[WorkingDirectory]:
    """An empty scratch folder (under TMPDIR: /tmp in Lambda), emptied after the run; or, inside a
    `WorkingDirectory` task, the `shared` folder, which is kept for the next task."""
    root = SCRATCH.acquire()
    try:
        with ExitStack() as held:
            yield WorkingDirectory(shared or root / Scratch.WORK, root, held)
    finally:
        SCRATCH.release(root)
