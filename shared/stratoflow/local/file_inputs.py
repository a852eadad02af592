"""FILE inputs given on the command line as local paths: stored in the execution's storage, as
Kestra stores an uploaded file, so that `read()`, script `inputFiles` and every task see the content
through a `strato:///` URI (a `file://` URI would name a file only this machine has).

Only the CLI calls this, for the values its user typed: a path given by a webhook or another remote
caller is never read from this machine's disk here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stratoflow.errors import InputError
from stratoflow.flow import Flow
from stratoflow.flow.inputs import input_types
from stratoflow.store.base import BlobStore
from stratoflow.tasks.files import safe_file_name


def is_local_path(value: Any) -> bool:
    """A value that names a file on this machine, not a URI (`./data.csv`, `/tmp/x`, `~/x`, `file:///x`)."""
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    return text.startswith("file://") or "://" not in text


def _path(value: str) -> Path:
    text = value.strip()
    if text.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return Path(unquote(urlsplit(text).path))
    return Path(text).expanduser()


def upload_file_inputs(
    blobs: BlobStore, flow: Flow, execution_id: str, given: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """`given` with each FILE input that names an existing local file replaced by the URI of its copy
    under `<namespace>/<flow>/executions/<id>/inputs/<input>/<file name>`; and the URIs written.

    A path that is not a file is refused (InputError naming the input and the path) before anything
    is stored or runs.
    """
    file_input = input_types()["FILE"]
    values = dict(given)
    written: list[str] = []
    for item in flow.inputs:
        value = values.get(item.id)
        if not isinstance(item, file_input) or not is_local_path(value):
            continue
        path = _path(str(value))
        if not path.is_file():
            for uri in written:
                blobs.delete(uri)
            raise InputError(item.id, f"file not found: {value}")
        key = "/".join(
            [
                flow.namespace,
                flow.id,
                "executions",
                execution_id,
                "inputs",
                item.id,
                safe_file_name(path.name),
            ]
        )
        uri = blobs.put(key, path.read_bytes())
        written.append(uri)
        values[item.id] = uri
    return values, written
