"""The local engine's S3 integration: a distributed Map's ItemReader and ResultWriter on the blob folder."""

from __future__ import annotations

import json
from typing import Any

from stratoflow.engine import TaskCall
from stratoflow.store.base import BlobStore
from stratoflow.store.rules import uri_for

READ_OBJECT = "arn:aws:states:::s3:getObject"
WRITE_OBJECTS = "arn:aws:states:::s3:putObject"


class LocalObjects:
    """Answers `s3:getObject` (the object's text) and `s3:putObject` (a Map's results, as a manifest).

    The bucket is ignored: locally every key lives in the one blob folder (`BlobStore.locate`).
    """

    def __init__(self, blobs: BlobStore):
        self.blobs = blobs

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        if resource == READ_OBJECT:
            return self.blobs.get(uri_for(parameters["Key"])).decode("utf-8")
        key = f"{parameters['Prefix'].rstrip('/')}/manifest.json"
        self.blobs.put(key, json.dumps(parameters["Results"], separators=(",", ":")).encode())
        return {"Bucket": parameters["Bucket"], "Key": key}
