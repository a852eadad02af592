"""Flow records too large for one item are kept in blob storage, the item holding a pointer and a hash
(`stratoflow.store.flow_objects`): on SQLite + a local folder and on DynamoDB + S3 alike."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.domain import FlowRecord
from stratoflow.errors import StorageError
from stratoflow.storage_layout import FLOW_RECORDS_PREFIX
from stratoflow.store import (
    BlobStore,
    ExecutionStore,
    ItemTooLargeError,
    LocalBlobStore,
    SqliteExecutionStore,
)
from stratoflow.store.dynamo import DynamoExecutionStore
from stratoflow.store.s3 import HISTORY_TAG, S3BlobStore
from tests.contract.conftest import FakeClock

_buckets = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", "dynamodb"])
def kept(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    """A (store with blob storage for flow records, its blob store, a store on the same table without)."""
    if request.param == "sqlite":
        blobs: BlobStore = LocalBlobStore(tmp_path / "storage")
        store = SqliteExecutionStore(tmp_path / "stratoflow.db", clock=clock, flow_blobs=blobs)
        plain = SqliteExecutionStore(tmp_path / "stratoflow.db", clock=clock)
        yield store, blobs, plain
        store.close()
        plain.close()
        return
    client = request.getfixturevalue("dynamo_client")
    table = request.getfixturevalue("table")
    s3 = request.getfixturevalue("s3_client")
    bucket = f"stratoflow-records-{next(_buckets)}"
    s3.create_bucket(Bucket=bucket)
    blobs = S3BlobStore(bucket, client=s3)
    yield (
        DynamoExecutionStore(table, client=client, clock=clock, flow_blobs=blobs),
        blobs,
        DynamoExecutionStore(table, client=client, clock=clock),
    )


def record(revision: int = 1, source: str = "id: etl\nnamespace: team\n") -> FlowRecord:
    return FlowRecord(namespace="team", flow_id="etl", revision=revision, source=source, source_hash="h" * 64)


def incompressible(size: int) -> str:
    return base64.b64encode(random.Random(7).randbytes(size)).decode()


def test_a_record_past_the_item_limit_is_kept_in_storage_and_reads_back_whole(kept: Any) -> None:
    store, blobs, _ = kept
    # Given a revision whose source is about 600 KB of data that does not compress (past the 350 KiB limit)
    big = record(source=incompressible(450_000))

    # When it is stored
    store.put_flow(big)

    # Then it reads back exactly, alone and in the live list
    assert store.get_flow("team", "etl") == big
    assert store.list_flows("team") == [big]
    # and its bytes are one object under flow-records/ of the flow
    assert len(blobs.list_keys(f"{FLOW_RECORDS_PREFIX}/team/etl")) == 1


def test_a_small_record_stays_in_its_item(kept: Any) -> None:
    store, blobs, _ = kept
    small = record()
    store.put_flow(small)

    assert store.get_flow("team", "etl") == small
    assert blobs.list_keys(FLOW_RECORDS_PREFIX) == []


def test_a_record_whose_object_changed_is_refused_on_read(kept: Any) -> None:
    store, blobs, _ = kept
    # Given a record kept in storage, whose object was then overwritten
    store.put_flow(record(source=incompressible(200_000)))
    (key,) = blobs.list_keys(FLOW_RECORDS_PREFIX)
    blobs.put(key, b"not the record")

    # When it is read, Then the hash the item holds refuses it
    with pytest.raises(StorageError, match="SHA-256"):
        store.get_flow("team", "etl")


def test_records_written_inline_before_pointers_existed_still_read(kept: Any) -> None:
    store, _, plain = kept
    # Given revisions written by a store that keeps every record in its item (the former layout)
    small = record(1)
    compressed = record(2, source="- id: t\n  type: Log\n" * 20_000)
    plain.put_flow(small)
    plain.put_flow(compressed)

    # When a store with blob storage reads them, Then they read as written
    assert store.get_flow("team", "etl", 1) == small
    assert store.get_flow("team", "etl", 2) == compressed


def test_a_store_without_blob_storage_still_refuses_a_record_past_the_item_limit(kept: Any) -> None:
    _, _, plain = kept
    with pytest.raises(ItemTooLargeError):
        plain.put_flow(record(source=incompressible(450_000)))


def test_a_record_kept_in_s3_never_expires(s3_client: Any) -> None:
    # Given the data bucket's lifecycle rule, which expires only objects tagged as execution history
    s3_client.create_bucket(Bucket="stratoflow-lifecycle")
    blobs = S3BlobStore("stratoflow-lifecycle", client=s3_client)

    # When a flow record and an execution's output are written
    blobs.put(f"{FLOW_RECORDS_PREFIX}/team/etl/0000000001-abc.json.z", b"record")
    blobs.put("team/etl/executions/e1/out.json", b"output")

    # Then the record carries no history tag (kept while its flow exists), the output does
    def tags(key: str) -> list[Any]:
        return list(s3_client.get_object_tagging(Bucket="stratoflow-lifecycle", Key=key)["TagSet"])

    assert tags(f"{FLOW_RECORDS_PREFIX}/team/etl/0000000001-abc.json.z") == []
    assert tags("team/etl/executions/e1/out.json") == [{"Key": HISTORY_TAG[0], "Value": HISTORY_TAG[1]}]


def test_a_store_with_records_in_storage_reads_them_only_with_that_storage(kept: Any) -> None:
    store, _, plain = kept
    store.put_flow(record(source=incompressible(200_000)))

    with pytest.raises(StorageError, match="blob storage"):
        plain.get_flow("team", "etl")


def test_execution_store_protocol_is_kept(kept: Any) -> None:
    store, _, _ = kept
    assert isinstance(store, ExecutionStore)
