"""Fixtures of the store contract suite: every test runs on every implementation.

`store` is a SQLite file in tmp_path or a DynamoDB table on moto created with the exact schema the CDK
stack deploys; `blobs` is a local folder or an S3 bucket on moto.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from stratoflow.cloudsim.stack import atomic_dynamodb_client, create_table
from stratoflow.domain import Execution
from stratoflow.store import BlobStore, ExecutionStore, LocalBlobStore, SqliteExecutionStore
from stratoflow.store.dynamo import DynamoExecutionStore
from stratoflow.store.s3 import S3BlobStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.start = now
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    """Fake credentials and region, and moto intercepting every AWS call, for one test module."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",  # boto3 1.44 with moto needs it
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            yield


@pytest.fixture(scope="module")
def dynamo_client(aws: None) -> Any:
    """One client per module (creating one costs ~80 ms); each test gets a table of its own."""
    # DynamoDB applies each request atomically; moto's in-memory backend does not: one at a time.
    client = atomic_dynamodb_client()
    return client


@pytest.fixture(scope="module")
def s3_client(aws: None) -> Any:
    return boto3.client("s3")


_names = itertools.count()


@pytest.fixture
def table(dynamo_client: Any) -> str:
    """A new table, created exactly as the CDK stack declares it."""
    name = f"stratoflow-{next(_names)}"
    create_table(dynamo_client, name)
    return name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[ExecutionStore]:
    if request.param == "sqlite":
        sqlite = SqliteExecutionStore(tmp_path / "stratoflow.db", clock=clock)
        yield sqlite
        sqlite.close()
    else:
        client = request.getfixturevalue("dynamo_client")
        yield DynamoExecutionStore(request.getfixturevalue("table"), client=client, clock=clock)


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "storage")
    client = request.getfixturevalue("s3_client")
    bucket = f"stratoflow-storage-{next(_names)}"
    client.create_bucket(Bucket=bucket)
    return S3BlobStore(bucket, prefix="storage", client=client)


@pytest.fixture
def new_execution(store: ExecutionStore) -> Callable[..., Execution]:
    """Create and store an execution: new_execution("e1", namespace=..., flow_id=..., minute=...)."""

    def create(
        execution_id: str, namespace: str = "team", flow_id: str = "etl", minute: int = 0, **fields: Any
    ) -> Execution:
        execution = Execution(
            id=execution_id,
            namespace=namespace,
            flow_id=flow_id,
            revision=1,
            start_date=T0 + timedelta(minutes=minute),
            **fields,
        )
        store.create_execution(execution)
        return execution

    return create
