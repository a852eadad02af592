"""Flow records too large for one table item well are kept in blob storage; the item holds a pointer and
the SHA-256 of the object, which every read checks.

A record (source + compiled definition, a big flow's parts included) is kept where it is read cheapest:

- up to INLINE_FLOW_BYTES as stored (its JSON, compressed past `rules.COMPRESS_FLOW_BYTES`) in the
  item itself, as before: one read, and the record items of DynamoDB cost one read unit per 4 KB;
- past that, as compressed JSON in blob storage under `flow-records/` (`storage_layout`), which never
  expires (the data bucket's lifecycle rule expires execution objects only), the item holding
  `FlowPointer`. No flow size then meets DynamoDB's 400 KB item limit.

Records written before pointers existed (`data`, `dataZ`) read as they always did. A store opened
without blob storage keeps every record inline and refuses one past `rules.MAX_RECORD_BYTES`.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from stratoflow.domain import FlowRecord
from stratoflow.errors import StorageError
from stratoflow.storage_layout import FLOW_RECORDS_PREFIX
from stratoflow.store import rules
from stratoflow.store.base import BlobStore

INLINE_FLOW_BYTES = 64 * 1024
"""A record that takes more than this as stored goes to blob storage."""


@dataclass(frozen=True)
class FlowPointer:
    """Where a record kept in blob storage is, and the SHA-256 (hex) of its stored bytes."""

    uri: str
    sha256: str


Kept = str | bytes | FlowPointer
"""What a store's row or item keeps of a record: its JSON, its compressed JSON, or a pointer."""


class FlowObjects:
    """Decides where each flow record is kept, and reads it back (checking its hash)."""

    def __init__(self, blobs: BlobStore | None) -> None:
        self._blobs = blobs

    def keep(self, record: FlowRecord) -> Kept:
        """Validate `record` and put it where it belongs: the value for the row or item (an object in
        blob storage is written first, so a row never points at nothing)."""
        data = rules.check_flow_record(record, limit=self._blobs is None)
        compressed = rules.flow_record_bytes(data)
        stored = len(compressed) if compressed is not None else len(data.encode())
        if self._blobs is None or stored <= INLINE_FLOW_BYTES:
            return compressed if compressed is not None else data
        body = compressed if compressed is not None else zlib.compress(data.encode(), 6)
        digest = hashlib.sha256(body).hexdigest()
        # The hash in the key: two deployers racing for one revision number never overwrite each other.
        key = (
            f"{FLOW_RECORDS_PREFIX}/{record.namespace}/{record.flow_id}/"
            f"{record.revision:010d}-{digest[:16]}.json.z"
        )
        return FlowPointer(self._blobs.put(key, body), digest)

    def load(self, kept: Kept) -> FlowRecord:
        if isinstance(kept, str):
            return FlowRecord.model_validate_json(kept)
        if isinstance(kept, bytes):
            return FlowRecord.model_validate_json(zlib.decompress(kept))
        if self._blobs is None:
            raise StorageError(f"flow record {kept.uri} is kept in blob storage, and this store has none")
        body = self._blobs.get(kept.uri)
        if hashlib.sha256(body).hexdigest() != kept.sha256:
            raise StorageError(f"flow record {kept.uri} does not match the SHA-256 its record holds")
        return FlowRecord.model_validate_json(zlib.decompress(body))
