"""Files between tasks: a file is a storage URI (`strato:///...`) that tasks write with `ctx.put_file`
and read with `ctx.read_file` (or `read()` in an expression).

Helpers shared by the task families that take a file or content (`scripts.*` inputFiles,
`aws.s3.Upload`, `aws.sqs.Publish`) or name a stored file (downloads).
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import PurePosixPath
from typing import Any

from stratoflow.errors import NotFoundError
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.errors import TaskFailed

STORAGE_SCHEME = "strato:///"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def is_storage_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(STORAGE_SCHEME)


def content_bytes(value: Any) -> bytes:
    """Inline content as bytes: text as UTF-8, maps and lists as JSON, null as empty."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict | list):
        return json.dumps(value).encode()
    return str(value).encode()


def file_or_content(ctx: RunContext, value: Any) -> bytes:
    """The bytes of a storage URI's file, or of inline content."""
    if is_storage_uri(value):
        return read_stored(ctx, value)
    return content_bytes(value)


def read_stored(ctx: RunContext, uri: str) -> bytes:
    """A stored file's bytes; a missing file fails the task with the URI in the message."""
    try:
        return ctx.read_file(uri)
    except (NotFoundError, ValueError) as error:  # nothing stored there, or not a storage URI
        raise TaskFailed(f"cannot read {uri}: {error}") from None


def safe_file_name(name: str, fallback: str = "file") -> str:
    """A single path segment safe for storage keys and file systems (`a b/c?.csv` -> `c_.csv`)."""
    base = posixpath.basename(name.replace("\\", "/").rstrip("/"))
    cleaned = _UNSAFE_NAME.sub("_", base).strip("._")
    return cleaned or fallback


def relative_path(name: str) -> PurePosixPath:
    """A relative path inside a working directory; refuses absolute paths and `..` (TaskFailed)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or any(part in ("..", "") for part in path.parts):
        raise TaskFailed(f"'{name}' must be a relative path inside the working directory (no '..')")
    return path
