"""The embedded default: blobs as files under a folder, and `open_local_store` for `.stratoflow/`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from stratoflow.errors import NotFoundError
from stratoflow.store import rules
from stratoflow.store.sqlite import SqliteExecutionStore

# Suffix of a file being written (renamed into place when complete): never listed as a key.
PARTIAL = ".strato-partial"


class LocalBlobStore:
    """BlobStore on a folder: key `a/b/c.json` is the file `<root>/a/b/c.json`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*rules.check_blob_key(key).split("/"))

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target then rename: a reader sees the old bytes or the new, never half.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return rules.uri_for(key)

    def get(self, uri: str) -> bytes:
        path = self._path(rules.key_of(uri))
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(f"nothing stored at {uri}") from None

    def exists(self, uri: str) -> bool:
        return self._path(rules.key_of(uri)).is_file()

    def delete(self, uri: str) -> None:
        path = self._path(rules.key_of(uri))
        if path.is_file():
            path.unlink(missing_ok=True)

    def locate(self, key: str) -> tuple[str, str]:
        return LOCAL_BUCKET, rules.check_blob_key(key)

    def list_keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(
            f"{prefix}/{path.relative_to(folder).as_posix()}"
            for path in folder.rglob("*")
            if path.is_file() and not path.name.endswith(PARTIAL)
        )


LOCAL_BUCKET = "local"
"""The bucket a local blob key is said to be in: the local engine's S3 integration reads the folder."""


def open_local_store(root: Path = Path(".stratoflow")) -> tuple[SqliteExecutionStore, LocalBlobStore]:
    """The embedded stores: `<root>/stratoflow.db` and `<root>/storage/` (both created if missing)."""
    root.mkdir(parents=True, exist_ok=True)
    return SqliteExecutionStore(root / "stratoflow.db"), LocalBlobStore(root / "storage")
