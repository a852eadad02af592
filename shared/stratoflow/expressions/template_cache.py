"""A persistent cache of compiled templates, so that the next process skips parsing and code generation.

Compiling a template (Jinja's parser, Stratoflow's rewrites, Jinja's code generator, Python's
`compile`) costs about half a millisecond; a flow of 100 tasks paid it 100 times in every `strato run`.
`strato run` keeps the compiled code under `<home>/cache/templates/`, one file per template:

- the file name is the SHA-256 of the template's source and of everything the generated code depends
  on: the bytecode magic number of this Python, Jinja's version, and the size and modification time of
  every module of `stratoflow.expressions` (its rewrites, filters and constant folding shape the code).
  An edited template, another Python or Jinja, or a changed expression module is simply a miss;
- the file holds the source, compared on load, and the code as `marshal` writes it, as `__pycache__`
  does (the folder is trusted like the installed code is); the sandbox is unaffected, since its checks
  run when the code runs (`environment.getattr`, `environment.call`), not when it is generated;
- a file is written under a temporary name and renamed, so a concurrent process never reads half of
  one; an unreadable or foreign file is a miss, and a folder that cannot be written only costs time;
- the folder is bounded (`MAX_ENTRIES`, `MAX_BYTES`) without a scan on every use: each write appends to
  the folder's `.writes` file a byte per started `WRITE_UNIT` bytes of its entry, and the write that
  brings it to `PRUNE_EVERY` bytes (or the first one in a folder without it) empties it and deletes the
  least recently used entries until `LOW_WATER` of each bound remains: room for the writes until the
  next prune. A hit renews its file's modification time (what "recently used" reads), at most once per
  `TOUCH_AFTER_SECONDS`.

Jinja's `FileSystemBytecodeCache` serves templates loaded by name through a loader and stores only the
code; a Stratoflow template is a string, and validation also needs the facts found while compiling it
(`references`), so the cache keeps its own entries. Deleting the folder is always safe.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import marshal
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2

# Bumped whenever the layout of an entry changes.
ENTRY_FORMAT = 2
# An entry is ~2 KB (a task property's template): ~20 MB of ~10,000 templates, a few hundred flows.
MAX_ENTRIES = 10_000
MAX_BYTES = 64 * 1024**2
PRUNE_EVERY = 500  # at most 500 entries and 2 MB written between two prunes: within 1 - LOW_WATER
WRITE_UNIT = 4096
LOW_WATER = 0.9
TOUCH_AFTER_SECONDS = 3600.0
STALE_TEMPORARY_SECONDS = 3600.0  # a temporary file this old was left by a process that died
WRITES = ".writes"


@dataclass(frozen=True)
class TemplateCode:
    """A compiled template before it is bound to the environment: what an entry of the cache holds."""

    source: str
    code: CodeType
    single: bool  # the source is one `{{ expression }}` between whitespace: rendered to its value
    prefix: str
    suffix: str
    calls: tuple[tuple[str, int], ...]  # (name, line) of the functions it calls (see `references`)
    outputs: frozenset[str]  # task ids it reads as outputs.<id>
    inputs: frozenset[str] = frozenset()  # input ids it reads as inputs.<id>


@functools.cache
def fingerprint() -> bytes:
    """What the generated code depends on besides the template's source (see the module docstring)."""
    digest = hashlib.sha256(f"{ENTRY_FORMAT}\0{jinja2.__version__}\0".encode())
    digest.update(importlib.util.MAGIC_NUMBER)
    for module in sorted(Path(__file__).parent.glob("*.py")):
        stat = module.stat()
        digest.update(f"\0{module.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.digest()


class TemplateCache:
    """Compiled templates in a folder, one file per template (made on the first store)."""

    def __init__(
        self,
        folder: Path,
        *,
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
        prune_every: int = PRUNE_EVERY,
    ):
        self.folder = folder
        self.max_entries, self.max_bytes, self.prune_every = max_entries, max_bytes, prune_every

    def _path(self, source: str) -> Path:
        key = hashlib.sha256(fingerprint() + source.encode("utf-8", "surrogatepass")).hexdigest()
        return self.folder / f"{key}.tpl"

    def load(self, source: str) -> TemplateCode | None:
        """The compiled template of `source`, or None when the cache has no valid entry for it."""
        path = self._path(source)
        try:
            with path.open("rb") as file:
                modified = os.fstat(file.fileno()).st_mtime
                entry: Any = marshal.loads(file.read())
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if not (isinstance(entry, tuple) and len(entry) == 9 and entry[:2] == (ENTRY_FORMAT, source)):
            return None
        _, _, code, single, prefix, suffix, calls, outputs, inputs = entry
        if not isinstance(code, CodeType):
            return None
        if time.time() - modified > TOUCH_AFTER_SECONDS:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: the last to be pruned
        return TemplateCode(
            source, code, bool(single), prefix, suffix, tuple(calls), frozenset(outputs), frozenset(inputs)
        )

    def store(self, compiled: TemplateCode) -> None:
        """Keep `compiled` for the next process; a folder that cannot be written is ignored."""
        entry = (
            ENTRY_FORMAT,
            compiled.source,
            compiled.code,
            compiled.single,
            compiled.prefix,
            compiled.suffix,
            compiled.calls,
            tuple(sorted(compiled.outputs)),
            tuple(sorted(compiled.inputs)),
        )
        path = self._path(compiled.source)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            data = marshal.dumps(entry)
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            return
        if self._count_write(len(data)):
            self.prune()

    def _count_write(self, size: int) -> bool:
        """Count a write in the `.writes` file; True when the folder is due a prune (the file emptied)."""
        writes = self.folder / WRITES
        try:
            fd = os.open(writes, os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:  # a new folder, or one made before the cache was bounded
            with contextlib.suppress(OSError):
                os.close(os.open(writes, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
                return True
            return False
        except OSError:
            return False
        try:
            os.write(fd, b"." * -(-size // WRITE_UNIT))
            if os.fstat(fd).st_size < self.prune_every:
                return False
            os.ftruncate(fd, 0)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def prune(self) -> int:
        """Delete the least recently used entries (and dead temporary files) until `LOW_WATER` of each
        bound remains; returns how many entries were deleted."""
        now = time.time()
        found: list[tuple[float, str, int]] = []
        try:
            listing = list(os.scandir(self.folder))
        except OSError:
            return 0
        for item in listing:
            with contextlib.suppress(OSError):
                stat = item.stat(follow_symlinks=False)
                if item.name.endswith(".tpl"):
                    found.append((stat.st_mtime, item.name, stat.st_size))
                elif item.name.endswith(".tmp") and now - stat.st_mtime > STALE_TEMPORARY_SECONDS:
                    os.unlink(item.path)
        found.sort()
        count, total = len(found), sum(size for _, _, size in found)
        keep_entries, keep_bytes = int(self.max_entries * LOW_WATER), int(self.max_bytes * LOW_WATER)
        deleted = 0
        for _, name, size in found:
            if count <= keep_entries and total <= keep_bytes:
                break
            with contextlib.suppress(OSError):
                os.unlink(self.folder / name)
                deleted += 1
            count, total = count - 1, total - size  # gone, or deleted by a concurrent prune
        return deleted


_active: TemplateCache | None = None


def active() -> TemplateCache | None:
    """The cache `compile_template` uses now, if any."""
    return _active


@contextmanager
def persistent_templates(folder: Path) -> Iterator[TemplateCache]:
    """Compile templates through a cache kept in `folder` while the block runs."""
    global _active
    previous, _active = _active, TemplateCache(folder)
    try:
        yield _active
    finally:
        _active = previous
