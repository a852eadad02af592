"""The local path must not pay for boto3's start-up."""

from __future__ import annotations


def test_cloud_stores_are_importable_from_the_package() -> None:
    from stratoflow import store
    from stratoflow.store.dynamo import DynamoExecutionStore
    from stratoflow.store.s3 import S3BlobStore

    assert store.DynamoExecutionStore is DynamoExecutionStore
    assert store.S3BlobStore is S3BlobStore
