"""Blob storage: keys, URIs and round trips, on every BlobStore."""

from __future__ import annotations

import pytest

from stratoflow.errors import NotFoundError
from stratoflow.store import BlobStore

KEY = "team/etl/executions/e1/tr-1/outputs.json"


def test_put_get_exists_delete(blobs: BlobStore) -> None:
    # Given bytes stored under a key
    uri = blobs.put(KEY, b'{"rows": 1}')

    # Then the URI names the key, and the bytes come back
    assert uri == f"strato:///{KEY}"
    assert blobs.get(uri) == b'{"rows": 1}'
    assert blobs.exists(uri)

    # And a second put replaces them
    assert blobs.put(KEY, b"\x00\xff binary") == uri
    assert blobs.get(uri) == b"\x00\xff binary"

    # And after delete they are gone; deleting again is fine
    blobs.delete(uri)
    assert not blobs.exists(uri)
    with pytest.raises(NotFoundError):
        blobs.get(uri)
    blobs.delete(uri)


def test_empty_and_large_data(blobs: BlobStore) -> None:
    empty = blobs.put("a/empty.bin", b"")
    large = blobs.put("a/large.bin", bytes(range(256)) * 20_000)

    assert blobs.get(empty) == b""
    assert blobs.get(large) == bytes(range(256)) * 20_000


def test_missing_keys(blobs: BlobStore) -> None:
    blobs.put("team/etl/file.txt", b"x")

    assert not blobs.exists("strato:///team/missing.txt")
    # A "folder" of stored keys is not itself stored data
    assert not blobs.exists("strato:///team/etl")
    with pytest.raises(NotFoundError):
        blobs.get("strato:///team/etl")
    with pytest.raises(NotFoundError):
        blobs.get("strato:///team/missing.txt")


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../outside", "team/../../outside", "team/./x", "team//x", "team/", "a\\b", "a\x00b"],
)
def test_unsafe_keys_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValueError):
        blobs.put(key, b"x")
    with pytest.raises(ValueError):
        blobs.get(f"strato:///{key}")
    with pytest.raises(ValueError):
        blobs.exists(f"strato:///{key}")
    with pytest.raises(ValueError):
        blobs.delete(f"strato:///{key}")


@pytest.mark.parametrize(
    "uri", ["s3://bucket/key", "team/etl/file.txt", "strato://team/file", "file:///etc/passwd"]
)
def test_other_uris_are_refused(blobs: BlobStore, uri: str) -> None:
    with pytest.raises(ValueError):
        blobs.get(uri)


def test_blob_store_implements_the_protocol(blobs: BlobStore) -> None:
    assert isinstance(blobs, BlobStore)


def test_list_keys_under_a_folder_prefix(blobs: BlobStore) -> None:
    # Given keys in a folder, in a sub-folder, and beside it
    for key in ["ns/files/b.txt", "ns/files/a/deep/c.py", "ns/files-other/x", "ns/filesx", "ns/other/y"]:
        blobs.put(key, b"x")

    # When / Then: the keys under the folder, sorted, nothing beside it
    assert blobs.list_keys("ns/files") == ["ns/files/a/deep/c.py", "ns/files/b.txt"]
    assert blobs.list_keys("ns") == [
        "ns/files-other/x",
        "ns/files/a/deep/c.py",
        "ns/files/b.txt",
        "ns/filesx",
        "ns/other/y",
    ]
    assert blobs.list_keys("ns/files/b.txt") == []  # a key is not a folder
    assert blobs.list_keys("missing") == []


def test_list_keys_sees_deletes_and_refuses_bad_prefixes(blobs: BlobStore) -> None:
    uri = blobs.put("ns/files/a.txt", b"x")
    blobs.delete(uri)

    assert blobs.list_keys("ns/files") == []
    for prefix in ["", "/ns", "ns/../x", "ns//files"]:
        with pytest.raises(ValueError):
            blobs.list_keys(prefix)
