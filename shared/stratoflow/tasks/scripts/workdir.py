"""The working directory of one script run: input files in, output files out; a new scratch folder
removed after (`Scratch`: in the background, as removing folders is slow on some disks), or the
shared one of an enclosing `WorkingDirectory` task.

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
    """The scratch folders of this process under one root (`<TMPDIR>/stratoflow-scratch-*`, removed
    when the process exits): each run gets a new folder, its private folder (its script file, its
    HOME), holding an empty `work` folder (its working directory). A folder is never handed out
    twice, not even under the same name, so a process the run left behind (one that escaped its
    process group) cannot write into a later run's folders through its working directory or a path.

    Folders are made and removed off the run's path, by a background thread: it keeps `READY`
    folders made ahead (two `mkdir` each, 0.05-0.15 ms apiece), and removes the released ones,
    which a release moves (a rename) into the root's `trash` (removing one costs 1-10 ms on some
    disks, ext4 mounted with `discard`). A folder made ahead is handed out only if it is still empty
    (nothing guessed its name meanwhile); else it goes to the trash and a new one is made. Thread-safe."""

    WORK = "work"
    TRASH = "trash"
    BACKLOG = 64  # released folders waiting for removal beyond which a release removes its own
    READY = 2  # folders kept made ahead

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._root: Path | None = None
        self._pid = 0
        self._made = 0
        self._ready: list[Path] = []
        self._trash: list[Path] = []
        self._removing = 0
        self._keeper: threading.Thread | None = None

    def acquire(self) -> Path:
        """A new empty folder holding an empty `work` folder, for one run."""
        with self._lock:
            if self._root is None or self._pid != os.getpid() or not self._root.is_dir():
                # First use, or a forked child (the parent's folders are the parent's), or the root
                # was removed under us (a temporary-files cleaner).
                self._root = Path(tempfile.mkdtemp(prefix="stratoflow-scratch-"))
                (self._root / self.TRASH).mkdir()
                self._pid = os.getpid()
                self._ready = []
                self._trash = []
                self._keeper = None
                atexit.register(_remove_tree, str(self._root))
            root = self._root
            ready = self._ready.pop(0) if self._ready else None
            self._keep()
        if ready is not None and _empty(ready):
            return ready
        if ready is not None:
            self.release(ready)
        return self._make(root)

    def _make(self, root: Path) -> Path:
        with self._lock:
            self._made += 1
            folder = root / str(self._made)
        folder.mkdir()
        (folder / self.WORK).mkdir()
        return folder

    def release(self, folder: Path) -> None:
        """Remove `folder` and everything in it: at once out of sight, from the disk in the background."""
        with self._lock:
            root = self._root
            ours = root is not None and folder.parent == root and self._pid == os.getpid()
            backlog = len(self._trash) >= self.BACKLOG
        if not ours or backlog:
            _remove_tree(str(folder))
            return
        assert root is not None
        trashed = root / self.TRASH / folder.name
        try:
            folder.rename(trashed)
        except OSError:
            _remove_tree(str(folder))
            return
        with self._lock:
            self._trash.append(trashed)
            self._keep()

    def flush(self) -> None:
        """Wait until every released folder is removed from the disk and the folders ahead are made."""
        with self._lock:
            while self._keeper is not None and (
                self._trash or self._removing or len(self._ready) < self.READY
            ):
                self._lock.wait()

    def _keep(self) -> None:
        """Wake the background thread (started on first use; called under the lock)."""
        if self._keeper is None:
            self._keeper = threading.Thread(
                target=self._work, args=(self._root,), name="scratch", daemon=True
            )
            self._keeper.start()
        self._lock.notify_all()

    def _work(self, root: Path) -> None:
        """Keep READY folders made ahead, then remove the released ones; until the root changes."""
        while True:
            with self._lock:
                while self._root == root and len(self._ready) >= self.READY and not self._trash:
                    self._lock.wait()
                if self._root != root:
                    return
                folder = None if len(self._ready) < self.READY else self._trash.pop(0)
                self._removing += folder is not None
            if folder is None:
                try:
                    made = self._make(root)
                except OSError:  # the root went away: the next acquire makes a new one
                    with self._lock:
                        if self._root == root:
                            self._keeper = None
                        self._lock.notify_all()
                    return
                with self._lock:
                    if self._root == root:
                        self._ready.append(made)
                        self._lock.notify_all()
                continue
            try:
                _remove_tree(str(folder))
            finally:
                with self._lock:
                    self._removing -= 1
                    self._lock.notify_all()


def _empty(folder: Path) -> bool:
    """Whether `folder` holds its empty `work` folder and nothing else."""
    try:
        return os.listdir(folder) == [Scratch.WORK] and not os.listdir(folder / Scratch.WORK)
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
    """A new scratch folder (under TMPDIR: /tmp in Lambda), removed after the run; or, inside a
    `WorkingDirectory` task, the `shared` folder, which is kept for the next task."""
    root = SCRATCH.acquire()
    try:
        with ExitStack() as held:
            yield WorkingDirectory(shared or root / Scratch.WORK, root, held)
    finally:
        SCRATCH.release(root)
