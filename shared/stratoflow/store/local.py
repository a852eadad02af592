"""The embedded default: blobs as files under a folder, and `open_local_store` for `.stratoflow/`."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from stratoflow.errors import NotFoundError, StorageError
from stratoflow.store import rules
from stratoflow.store.sqlite import SqliteExecutionStore

# Suffix of a file being written (renamed into place when complete): never listed as a key.
PARTIAL = ".strato-partial"
# What the temporary name adds to a file's name: ".<name>." + 8 random characters + PARTIAL.
_TEMPORARY_NAME_ROOM = 2 + 8 + len(PARTIAL)


class LocalBlobStore:
    """BlobStore on a folder: key `a/b/c.json` is the file `<root>/a/b/c.json`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*rules.check_blob_key(key).split("/"))

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        self._check_names(key)
        try:
            self._write_file(path, data)
        except OSError as error:
            raise self._storage_error(error, key) from error
        return rules.uri_for(key)

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
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

    def _check_names(self, key: str) -> None:
        """Refuse a name the file system would refuse (with the room the temporary file name needs)."""
        limit = _name_max(self.root) - _TEMPORARY_NAME_ROOM
        for part in key.split("/"):
            if len(part.encode()) > limit:
                raise StorageError(
                    f"file name too long for the storage: {part!r} has {len(part.encode())} bytes, "
                    f"at most {limit} fit under {self.root}"
                )

    def _storage_error(self, error: OSError, key: str) -> OSError | StorageError:
        """A write failure in the user's words when the disk is the cause (else the error as it is)."""
        if error.errno == errno.ENOSPC:
            return StorageError(f"no space left on the device of {self.root}: could not store {key}")
        if error.errno == errno.ENAMETOOLONG:
            return StorageError(f"path too long for the storage under {self.root}: {key}")
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StorageError(f"the storage folder {self.root} is not writable: {error.strerror}")
        return error

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


def _name_max(folder: Path) -> int:
    """The longest file name the file system of `folder` takes, in bytes (255 on the usual ones)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


LOCAL_DATABASE = "stratoflow.db"
"""The local history's file under the home."""


def open_local_store(root: Path = Path(".stratoflow")) -> tuple[SqliteExecutionStore, LocalBlobStore]:
    """The embedded stores: `<root>/stratoflow.db` and `<root>/storage/` (both created if missing)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / "storage").mkdir(exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot use {root} as the Stratoflow home: {error.strerror}") from None
    blobs = LocalBlobStore(root / "storage")
    return SqliteExecutionStore(root / LOCAL_DATABASE, flow_blobs=blobs), blobs
