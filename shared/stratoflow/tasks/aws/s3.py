"""S3 tasks: `aws.s3.Upload`, `Download`, `List`, `Copy` and `Delete`.

Files move between S3 and Stratoflow's storage: `Upload` reads a storage URI (or inline content),
`Download` writes one.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import Field, model_validator

from stratoflow.flow.fields import StrictModel
from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.aws.base import (
    KESTRA_AWS,
    EncryptedAwsTask,
    Statement,
    pattern,
    render_text,
    statement,
)
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import content_bytes, is_storage_uri, read_stored, safe_file_name

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CopySourceTypeDef


def object_arn(bucket: str, key: str | None = None) -> str:
    """The ARN of an object (or of every object under a key's static prefix)."""
    return f"arn:aws:s3:::{pattern(bucket)}/{pattern(key) if key is not None else '*'}"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{pattern(bucket)}"


def _etag(value: Any) -> str | None:
    return str(value).strip('"') if value is not None else None


class S3Task(EncryptedAwsTask):
    service: ClassVar[str] = "s3"

    def client(self, ctx: RunContext) -> S3Client:
        return cast("S3Client", super().client(ctx))  # a client of `service`

    bucket: str


@register
class Upload(S3Task):
    """Upload a stored file (`from`: a storage URI) or inline `content` to `s3://bucket/key`."""

    type_name: ClassVar[str] = "aws.s3.Upload"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.s3.Upload",)
    output_fields: ClassVar[dict[str, str]] = {
        "bucket": "the bucket",
        "key": "the object key",
        "uri": "`s3://bucket/key`",
        "eTag": "the object's ETag",
        "versionId": "its version (versioned buckets)",
        "size": "bytes uploaded",
    }

    key: str
    from_: str | None = Field(default=None, alias="from")
    content: str | dict[str, Any] | list[Any] | None = None
    content_type: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> Upload:
        if (self.from_ is None) == (self.content is None):
            raise ValueError("set exactly one of 'from' (a storage URI) and 'content'")
        return self

    def call(self, ctx: RunContext) -> dict[str, Any]:
        bucket, key = render_text(ctx, self.bucket), render_text(ctx, self.key)
        if self.from_ is not None:
            source = render_text(ctx, self.from_)
            if not is_storage_uri(source):
                raise TaskFailed(f"'from' must be a storage URI (strato:///...), got '{source}'")
            data = read_stored(ctx, source)
        else:
            data = content_bytes(ctx.render(self.content))
        request: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": data}
        if self.content_type is not None:
            request["ContentType"] = render_text(ctx, self.content_type)
        if self.metadata:
            request["Metadata"] = {as_text(k): as_text(v) for k, v in ctx.render(self.metadata).items()}
        if (
            self.kms_key_arn is not None
        ):  # the declared key encrypts the object, whatever the bucket's default
            request["ServerSideEncryption"] = "aws:kms"
            request["SSEKMSKeyId"] = render_text(ctx, self.kms_key_arn)
        response = self.client(ctx).put_object(**request)
        ctx.log("INFO", f"uploaded {len(data)} bytes to s3://{bucket}/{key}")
        return {
            "bucket": bucket,
            "key": key,
            "uri": f"s3://{bucket}/{key}",
            "eTag": _etag(response.get("ETag")),
            "versionId": response.get("VersionId"),
            "size": len(data),
        }

    def call_statements(self) -> list[Statement]:
        return [statement(["s3:PutObject"], [object_arn(self.bucket, self.key)])]


@register
class Download(S3Task):
    """Download `s3://bucket/key` into storage; outputs its storage `uri`."""

    type_name: ClassVar[str] = "aws.s3.Download"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.s3.Download",)
    output_fields: ClassVar[dict[str, str]] = {
        "uri": "storage URI of the downloaded file",
        "contentLength": "size in bytes",
        "contentType": "the object's content type",
        "eTag": "the object's ETag",
        "versionId": "its version (versioned buckets)",
        "metadata": "the object's user metadata",
    }

    key: str
    version_id: str | None = None

    def call(self, ctx: RunContext) -> dict[str, Any]:
        bucket, key = render_text(ctx, self.bucket), render_text(ctx, self.key)
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if self.version_id is not None:
            request["VersionId"] = render_text(ctx, self.version_id)
        response = self.client(ctx).get_object(**request)
        data: bytes = response["Body"].read()
        uri = ctx.put_file(safe_file_name(posixpath.basename(key), "object"), data)
        ctx.log("INFO", f"downloaded {len(data)} bytes from s3://{bucket}/{key}")
        return {
            "uri": uri,
            "contentLength": len(data),
            "contentType": response.get("ContentType"),
            "eTag": _etag(response.get("ETag")),
            "versionId": response.get("VersionId"),
            "metadata": response.get("Metadata") or {},
        }

    def call_statements(self) -> list[Statement]:
        actions = ["s3:GetObject"] + (["s3:GetObjectVersion"] if self.version_id is not None else [])
        return [statement(actions, [object_arn(self.bucket, self.key)])]


@register
class List(S3Task):
    """List objects under `prefix` (at most `maxKeys`), optionally keeping keys matching `regexp`."""

    type_name: ClassVar[str] = "aws.s3.List"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.s3.List",)
    output_fields: ClassVar[dict[str, str]] = {
        "objects": "`[{key, size, lastModified, eTag, uri}]`, in key order",
    }

    prefix: str | None = None
    delimiter: str | None = None
    max_keys: int = Field(default=1000, ge=1)
    regexp: str | None = None

    def call(self, ctx: RunContext) -> dict[str, Any]:
        bucket = render_text(ctx, self.bucket)
        request: dict[str, Any] = {"Bucket": bucket}
        if self.prefix is not None:
            request["Prefix"] = render_text(ctx, self.prefix)
        if self.delimiter is not None:
            request["Delimiter"] = render_text(ctx, self.delimiter)
        try:
            keep = re.compile(render_text(ctx, self.regexp)) if self.regexp is not None else None
        except re.error as error:
            raise TaskFailed(f"regexp is not a valid regular expression: {error}") from None
        objects: list[dict[str, Any]] = []
        for page in self.client(ctx).get_paginator("list_objects_v2").paginate(**request):
            for item in page.get("Contents", []):
                if keep is not None and not keep.search(item["Key"]):
                    continue
                objects.append(
                    {
                        "key": item["Key"],
                        "size": item.get("Size"),
                        "lastModified": item["LastModified"].isoformat() if "LastModified" in item else None,
                        "eTag": _etag(item.get("ETag")),
                        "uri": f"s3://{bucket}/{item['Key']}",
                    }
                )
                if len(objects) >= self.max_keys:
                    return {"objects": objects}
        return {"objects": objects}

    def call_statements(self) -> list[Statement]:
        return [statement(["s3:ListBucket"], [bucket_arn(self.bucket)])]


class ObjectRef(StrictModel):
    """An object: `bucket` and `key` (and `versionId` for a source)."""

    bucket: str | None = None
    key: str | None = None
    version_id: str | None = None


@register
class Copy(EncryptedAwsTask):
    """Copy `from: {bucket, key}` to `to: {bucket, key}` (each defaults to the source's); `delete`
    removes the source afterwards (a move)."""

    type_name: ClassVar[str] = "aws.s3.Copy"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.s3.Copy",)
    output_fields: ClassVar[dict[str, str]] = {
        "bucket": "the destination bucket",
        "key": "the destination key",
        "eTag": "the copy's ETag",
        "versionId": "the copy's version (versioned buckets)",
    }

    service: ClassVar[str] = "s3"

    def client(self, ctx: RunContext) -> S3Client:
        return cast("S3Client", super().client(ctx))  # a client of `service`

    from_: ObjectRef = Field(alias="from")
    to: ObjectRef = Field(default_factory=ObjectRef)
    delete: bool = False

    @model_validator(mode="after")
    def _source_named(self) -> Copy:
        if self.from_.bucket is None or self.from_.key is None:
            raise ValueError("'from' needs a 'bucket' and a 'key'")
        return self

    def _target(self) -> tuple[str, str]:
        assert self.from_.bucket is not None and self.from_.key is not None
        return self.to.bucket or self.from_.bucket, self.to.key or self.from_.key

    def call(self, ctx: RunContext) -> dict[str, Any]:
        assert self.from_.bucket is not None and self.from_.key is not None
        source: CopySourceTypeDef = {
            "Bucket": render_text(ctx, self.from_.bucket),
            "Key": render_text(ctx, self.from_.key),
        }
        if self.from_.version_id is not None:
            source["VersionId"] = render_text(ctx, self.from_.version_id)
        bucket, key = (render_text(ctx, part) for part in self._target())
        if (bucket, key) == (source["Bucket"], source["Key"]):
            raise TaskFailed(f"'from' and 'to' are the same object s3://{bucket}/{key}")
        client = self.client(ctx)
        response = client.copy_object(Bucket=bucket, Key=key, CopySource=source)
        if self.delete:
            client.delete_object(Bucket=source["Bucket"], Key=source["Key"])
        result = response.get("CopyObjectResult", {})
        return {
            "bucket": bucket,
            "key": key,
            "eTag": _etag(result.get("ETag")),
            "versionId": response.get("VersionId"),
        }

    def call_statements(self) -> list[Statement]:
        assert self.from_.bucket is not None
        source = object_arn(self.from_.bucket, self.from_.key)
        reads = ["s3:GetObject"] + (["s3:GetObjectVersion"] if self.from_.version_id is not None else [])
        statements = [statement(reads, [source]), statement(["s3:PutObject"], [object_arn(*self._target())])]
        if self.delete:
            statements.append(statement(["s3:DeleteObject"], [source]))
        return statements


@register
class Delete(S3Task):
    """Delete `s3://bucket/key` (one version with `versionId`)."""

    type_name: ClassVar[str] = "aws.s3.Delete"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.s3.Delete",)
    output_fields: ClassVar[dict[str, str]] = {
        "deleteMarker": "true when a delete marker was created (versioned buckets)",
        "versionId": "the version deleted or the delete marker's",
    }

    key: str
    version_id: str | None = None

    def call(self, ctx: RunContext) -> dict[str, Any]:
        request: dict[str, Any] = {"Bucket": render_text(ctx, self.bucket), "Key": render_text(ctx, self.key)}
        if self.version_id is not None:
            request["VersionId"] = render_text(ctx, self.version_id)
        response = self.client(ctx).delete_object(**request)
        return {"deleteMarker": bool(response.get("DeleteMarker")), "versionId": response.get("VersionId")}

    def call_statements(self) -> list[Statement]:
        actions = ["s3:DeleteObject"] + (["s3:DeleteObjectVersion"] if self.version_id is not None else [])
        return [statement(actions, [object_arn(self.bucket, self.key)])]
