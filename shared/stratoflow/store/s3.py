"""The cloud blob store: objects in an S3 bucket, under an optional key prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratoflow.errors import NotFoundError
from stratoflow.storage_layout import FLOW_RECORDS_PREFIX
from stratoflow.store import rules

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_s3 import S3Client


def _is_key(key: str) -> bool:
    try:
        rules.check_blob_key(key)
    except ValueError:
        return False
    return True


# Objects of executions (large outputs, task files) carry this tag: the data bucket's lifecycle rule
# expires tagged objects only, so namespace files (`namespaces/...`, see namespace_files) never expire.
HISTORY_TAG = ("stratoflow", "history")
# Kept as long as what owns them: namespace files, and flow records too large for a table item.
_KEPT_PREFIXES = ("namespaces/", f"{FLOW_RECORDS_PREFIX}/")


class S3BlobStore:
    """BlobStore on S3: key `a/b.json` is the object `<prefix>a/b.json` of `bucket`."""

    def __init__(self, bucket: str, prefix: str = "", client: S3Client | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client

    def _object_key(self, uri: str) -> str:
        return self.prefix + rules.key_of(uri)

    def put(self, key: str, data: bytes) -> str:
        uri = rules.uri_for(key)
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(uri), "Body": data}
        if not key.startswith(_KEPT_PREFIXES):
            request["Tagging"] = "=".join(HISTORY_TAG)
        self._client.put_object(**request)
        return uri

    def get(self, uri: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._object_key(uri))
        except self._client.exceptions.NoSuchKey:
            raise NotFoundError(f"nothing stored at {uri}") from None
        body: bytes = response["Body"].read()
        return body

    def exists(self, uri: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._object_key(uri))
        except self._client.exceptions.ClientError as error:
            # HEAD responses have no body: a missing object shows only as status 404.
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise
        return True

    def delete(self, uri: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=self._object_key(uri))

    def locate(self, key: str) -> tuple[str, str]:
        return self.bucket, self.prefix + rules.check_blob_key(key)

    def list_keys(self, prefix: str) -> list[str]:
        folder = self.prefix + rules.check_blob_key(prefix) + "/"
        keys: list[str] = []
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
            keys += [item["Key"][len(self.prefix) :] for item in page.get("Contents", [])]
        # Objects written by other tools may not be valid keys (a console "folder" ends with '/').
        return sorted(key for key in keys if _is_key(key))
