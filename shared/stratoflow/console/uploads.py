"""FILE inputs uploaded with a start: stored in the execution's storage before admission, as Kestra
stores an uploaded file, so every task reads them through a `strato:///` URI; removed again when
admission refuses the start. Both backends (local and cloud) store them the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from stratoflow.console.backend import UploadedFile
from stratoflow.errors import InputError
from stratoflow.flow import Flow
from stratoflow.flow.inputs import input_types
from stratoflow.store.base import BlobStore
from stratoflow.tasks.files import safe_file_name

T = TypeVar("T")


def upload_key(flow: Flow, execution_id: str, input_id: str, file_name: str) -> str:
    """Where an uploaded FILE input is kept: beside the execution's other files."""
    parts = [flow.namespace, flow.id, "executions", execution_id, "inputs", input_id]
    return "/".join([*parts, safe_file_name(file_name)])


def with_uploads(
    blobs: BlobStore,
    flow: Flow,
    execution_id: str,
    inputs: Mapping[str, Any],
    files: Mapping[str, UploadedFile],
    admit: Callable[[dict[str, Any]], T],
) -> T:
    """Store each uploaded file under its execution, put its URI in the inputs and call `admit` with
    them; a file for an input that is not a FILE input is refused (InputError) before any write."""
    file_input = input_types()["FILE"]
    declared = {item.id: item for item in flow.inputs}
    for input_id in files:
        if input_id not in declared:
            raise InputError(input_id, f"is not an input of flow {flow.namespace}.{flow.id}")
        if not isinstance(declared[input_id], file_input):
            raise InputError(input_id, "is not a FILE input: send its value as text")
    values = dict(inputs)
    written: list[str] = []
    try:
        for input_id, upload in files.items():
            uri = blobs.put(upload_key(flow, execution_id, input_id, upload.name), upload.data)
            written.append(uri)
            values[input_id] = uri
        return admit(values)
    except BaseException:
        for uri in written:
            blobs.delete(uri)
        raise
