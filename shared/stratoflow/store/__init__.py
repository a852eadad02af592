"""Execution store and blob storage: SQLite + a local folder (embedded default), DynamoDB + S3 (cloud).

The adapters are imported on first use of their name: the local path never pays for boto3's start-up,
and a Lambda function, which imports `stratoflow.store.s3` or `.dynamo` (and so this package), never
loads sqlite3 and the SQLite store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stratoflow.store.base import BlobStore, ExecutionStore, FlowHead, SlotOutcome, TriggerState
from stratoflow.store.rules import ItemTooLargeError

if TYPE_CHECKING:
    from stratoflow.store.dynamo import DynamoExecutionStore
    from stratoflow.store.local import LocalBlobStore, open_local_store
    from stratoflow.store.s3 import S3BlobStore
    from stratoflow.store.sqlite import SqliteExecutionStore

    def _conforms(
        sqlite: SqliteExecutionStore, dynamo: DynamoExecutionStore, local: LocalBlobStore, s3: S3BlobStore
    ) -> tuple[ExecutionStore, ExecutionStore, BlobStore, BlobStore]:
        """Never called: mypy checks here that every implementation matches its protocol."""
        return sqlite, dynamo, local, s3


_ADAPTERS = {
    "DynamoExecutionStore": "stratoflow.store.dynamo",
    "S3BlobStore": "stratoflow.store.s3",
    "LocalBlobStore": "stratoflow.store.local",
    "open_local_store": "stratoflow.store.local",
    "SqliteExecutionStore": "stratoflow.store.sqlite",
}

__all__ = [
    "BlobStore",
    "DynamoExecutionStore",
    "ExecutionStore",
    "FlowHead",
    "ItemTooLargeError",
    "LocalBlobStore",
    "S3BlobStore",
    "SlotOutcome",
    "SqliteExecutionStore",
    "TriggerState",
    "open_local_store",
]


def __getattr__(name: str) -> Any:
    if name in _ADAPTERS:
        return getattr(importlib.import_module(_ADAPTERS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
