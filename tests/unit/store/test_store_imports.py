"""The local path must not pay for boto3's start-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_local_store_does_not_import_boto3(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from stratoflow.store import open_local_store\n"
        f"store, blobs = open_local_store(Path({str(tmp_path)!r}))\n"
        "store.kv_set('ns', 'k', 1)\n"
        "blobs.put('a/b', b'x')\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cloud_stores_are_importable_from_the_package() -> None:
    from stratoflow import store
    from stratoflow.store.dynamo import DynamoExecutionStore
    from stratoflow.store.s3 import S3BlobStore

    assert store.DynamoExecutionStore is DynamoExecutionStore
    assert store.S3BlobStore is S3BlobStore
