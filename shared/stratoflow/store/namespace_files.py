"""Namespace files: files stored for a namespace, which script tasks copy into their working directory
(`namespaceFiles`). They live in blob storage under `namespaces/<namespace>/files/<path>`; `strato files
put` writes them (locally, or to the stack's data bucket with `--remote`).

That prefix cannot meet the executions' keys (`<namespace>/<flow id>/executions/...`): their third
segment is always `executions`.
"""

from __future__ import annotations

import re

from stratoflow.storage_layout import NAMESPACE_FILES_PREFIX
from stratoflow.store import rules
from stratoflow.store.base import BlobStore

PREFIX = NAMESPACE_FILES_PREFIX
_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def files_prefix(namespace: str) -> str:
    """The storage folder of a namespace's files; ValueError for a name that is not a namespace."""
    if not _NAMESPACE.match(namespace) or len(namespace) > 150:
        raise ValueError(
            f"invalid namespace {namespace!r}: lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return f"{PREFIX}/{namespace}/files"


def file_key(namespace: str, path: str) -> str:
    """The storage key of the namespace file `path` (relative, '/'-separated, no '..')."""
    return rules.check_blob_key(f"{files_prefix(namespace)}/{rules.check_blob_key(path)}")


def put_namespace_file(blobs: BlobStore, namespace: str, path: str, data: bytes) -> str:
    """Store (or replace) a namespace file; returns its storage URI."""
    return blobs.put(file_key(namespace, path), data)


def list_namespace_files(blobs: BlobStore, namespace: str) -> dict[str, str]:
    """`{path: storage URI}` of every file of the namespace, by path."""
    folder = files_prefix(namespace) + "/"
    return {key[len(folder) :]: rules.uri_for(key) for key in blobs.list_keys(folder.rstrip("/"))}
