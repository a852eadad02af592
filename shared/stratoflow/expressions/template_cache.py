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
  one; an unreadable or foreign file is a miss, and a folder that cannot be written only costs time.

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any

import jinja2

# Bumped whenever the layout of an entry changes.
ENTRY_FORMAT = 1


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

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, source: str) -> Path:
        key = hashlib.sha256(fingerprint() + source.encode("utf-8", "surrogatepass")).hexdigest()
        return self.folder / f"{key}.tpl"

    def load(self, source: str) -> TemplateCode | None:
        """The compiled template of `source`, or None when the cache has no valid entry for it."""
        try:
            entry: Any = marshal.loads(self._path(source).read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            return None
        if not (isinstance(entry, tuple) and len(entry) == 8 and entry[:2] == (ENTRY_FORMAT, source)):
            return None
        _, _, code, single, prefix, suffix, calls, outputs = entry
        if not isinstance(code, CodeType):
            return None
        return TemplateCode(source, code, bool(single), prefix, suffix, tuple(calls), frozenset(outputs))

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
        )
        path = self._path(compiled.source)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(marshal.dumps(entry))
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


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
