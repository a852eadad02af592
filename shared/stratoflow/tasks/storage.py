"""`core.storage.*`: files in the execution's storage — write, concatenate, split, measure, delete,
and filter the items of an Ion file.

Each task reads its inputs whole: files are bounded by the task runner's memory (Lambda's, in the
cloud), as every task that reads a storage URI is.
"""

from __future__ import annotations

import builtins
import math
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from stratoflow import expressions
from stratoflow.flow.registry import kestra_aliases, register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import content_bytes, is_storage_uri, read_stored, safe_file_name

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3}


def _aliases(name: str) -> tuple[str, ...]:
    return kestra_aliases("storage", name, "storages")


def extension_of(value: str) -> str:
    """`.csv` from `csv` or `.csv`; the storage name's suffix."""
    value = value.strip()
    return "" if not value else (value if value.startswith(".") else "." + value)


def stored_uri(ctx: RunContext, value: Any, name: str) -> str:
    """A rendered property that must be a storage URI."""
    uri = as_text(ctx.render(value))
    if not is_storage_uri(uri):
        raise TaskFailed(f"'{name}' must be a storage URI (strato:///...), got '{uri[:200]}'")
    return uri


def parse_size(text: str) -> int:
    """Bytes from Kestra's sizes: `1048576`, `10KB`, `1MB`, `2GB`."""
    found = _SIZE.match(text)
    if found is None or found.group(2).upper() not in _UNITS:
        raise TaskFailed(f"'{text}' is not a size (examples: 1048576, 10KB, 1MB, 2GB)")
    return max(1, int(float(found.group(1)) * _UNITS[found.group(2).upper()]))


@register
class Write(RunnableTask):
    """Write `content` to a new file; outputs its `uri`."""

    type_name: ClassVar[str] = "storage.Write"
    aliases: ClassVar[tuple[str, ...]] = _aliases("Write")
    output_fields: ClassVar[dict[str, str]] = {"uri": "storage URI of the file"}

    content: str | dict[str, Any] | list[Any]
    extension: str = ".ion"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        data = content_bytes(ctx.render(self.content))
        name = safe_file_name(self.id) + extension_of(as_text(ctx.render(self.extension)))
        return {"uri": ctx.put_file(name, data)}


@register
class Concat(RunnableTask):
    """Concatenate `files` (a list of storage URIs, or an expression giving one) into one file,
    with `separator` between them; outputs its `uri`."""

    type_name: ClassVar[str] = "storage.Concat"
    aliases: ClassVar[tuple[str, ...]] = _aliases("Concat")
    output_fields: ClassVar[dict[str, str]] = {"uri": "storage URI of the concatenated file"}

    files: str | list[str] = Field(min_length=1)
    separator: str | None = None
    extension: str = ".tmp"

    def run(self, ctx: RunContext) -> dict[str, Any]:
        files = ctx.render(self.files)
        if isinstance(files, str):
            import json

            try:
                files = json.loads(files)
            except json.JSONDecodeError:
                files = [files]
        if not isinstance(files, list) or not files:
            raise TaskFailed("'files' must render to a non-empty list of storage URIs")
        separator = as_text(ctx.render(self.separator)).encode() if self.separator is not None else b""
        parts = []
        for index, item in enumerate(files):
            parts.append(read_stored(ctx, stored_uri(ctx, item, f"files[{index}]")))
        name = safe_file_name(self.id) + extension_of(as_text(ctx.render(self.extension)))
        return {"uri": ctx.put_file(name, separator.join(parts))}


@register
class Split(RunnableTask):
    """Split a file into several, by `bytes` (`10MB`), number of `partitions`, or `rows` each; lines
    end with `separator` and are never cut. Outputs `uris`."""

    type_name: ClassVar[str] = "storage.Split"
    aliases: ClassVar[tuple[str, ...]] = _aliases("Split")
    output_fields: ClassVar[dict[str, str]] = {"uris": "storage URIs of the parts, in order"}

    from_: str = Field(alias="from")
    bytes: str | None = None
    partitions: int | None = Field(default=None, ge=1)
    rows: int | None = Field(default=None, ge=1)
    separator: str = "\n"

    @model_validator(mode="after")
    def _one_rule(self) -> Split:
        if sum(rule is not None for rule in (self.bytes, self.partitions, self.rows)) != 1:
            raise ValueError("set exactly one of 'bytes', 'partitions' and 'rows'")
        return self

    def _groups(self, lines: list[builtins.bytes]) -> list[list[builtins.bytes]]:
        if self.rows is not None:
            return [lines[i : i + self.rows] for i in range(0, len(lines), self.rows)]
        if self.partitions is not None:
            size = max(1, math.ceil(len(lines) / self.partitions))
            return [lines[i : i + size] for i in range(0, len(lines), size)]
        assert self.bytes is not None
        limit, length = parse_size(self.bytes), 0
        groups: list[list[builtins.bytes]] = []
        current: list[builtins.bytes] = []
        for line in lines:
            if current and length + len(line) > limit:
                groups.append(current)
                current, length = [], 0
            current.append(line)
            length += len(line)
        return groups + ([current] if current else [])

    def run(self, ctx: RunContext) -> dict[str, Any]:
        source = stored_uri(ctx, self.from_, "from")
        separator = as_text(ctx.render(self.separator)).encode() or b"\n"
        data = read_stored(ctx, source)
        pieces = data.split(separator)
        if pieces and pieces[-1] == b"":
            pieces.pop()
        lines = [piece + separator for piece in pieces]
        stem, _, suffix = source.rsplit("/", 1)[-1].partition(".")
        extension = "." + suffix if suffix else ""
        uris = [
            ctx.put_file(f"{safe_file_name(stem)}-{index}{extension}", b"".join(group))
            for index, group in enumerate(self._groups(lines))
        ]
        return {"uris": uris}


@register
class Size(RunnableTask):
    """Output the `size` in bytes of the stored file `uri`."""

    type_name: ClassVar[str] = "storage.Size"
    aliases: ClassVar[tuple[str, ...]] = _aliases("Size")
    output_fields: ClassVar[dict[str, str]] = {"size": "the file's size in bytes"}

    uri: str

    def run(self, ctx: RunContext) -> dict[str, Any]:
        return {"size": len(read_stored(ctx, stored_uri(ctx, self.uri, "uri")))}


@register
class Delete(RunnableTask):
    """Delete the stored file `uri` (of the flow's namespace); outputs `uri` and `deleted`."""

    type_name: ClassVar[str] = "storage.Delete"
    aliases: ClassVar[tuple[str, ...]] = _aliases("Delete")
    output_fields: ClassVar[dict[str, str]] = {
        "uri": "the file's storage URI",
        "deleted": "true when the file existed",
    }

    uri: str
    error_on_missing: bool = False

    def run(self, ctx: RunContext) -> dict[str, Any]:
        uri = stored_uri(ctx, self.uri, "uri")
        try:
            deleted = ctx.delete_file(uri)
        except ValueError as error:
            raise TaskFailed(str(error)) from None
        if not deleted and self.error_on_missing:
            raise TaskFailed(f"{uri} does not exist (errorOnMissing is true)")
        return {"uri": uri, "deleted": deleted}


@register
class FilterItems(RunnableTask):
    """Keep (INCLUDE) or drop (EXCLUDE) the items of an Ion file for which `filterCondition` is
    truthy. The condition sees the item as `value`, and a struct's fields by their names."""

    type_name: ClassVar[str] = "storage.FilterItems"
    aliases: ClassVar[tuple[str, ...]] = _aliases("FilterItems")
    output_fields: ClassVar[dict[str, str]] = {
        "uri": "storage URI of the filtered Ion file",
        "processedItemsTotal": "items read",
        "droppedItemsTotal": "items dropped",
    }

    from_: str = Field(alias="from")
    filter_condition: str
    filter_type: Literal["INCLUDE", "EXCLUDE"] = "INCLUDE"
    error_or_null_behavior: Literal["FAIL", "INCLUDE", "EXCLUDE"] = "FAIL"

    def _keep(self, ctx: RunContext, item: Any, index: int) -> bool:

        variables = {**item, "value": item} if isinstance(item, dict) else {"value": item}
        try:
            verdict = ctx.render(self.filter_condition, variables)
        except Exception as error:
            if self.error_or_null_behavior == "FAIL":
                raise TaskFailed(f"filterCondition failed on item {index + 1}: {error}") from None
            return self.error_or_null_behavior == "INCLUDE"
        if verdict is None or (isinstance(verdict, str) and verdict.strip() in ("", "null")):
            if self.error_or_null_behavior == "FAIL":
                raise TaskFailed(f"filterCondition gave null on item {index + 1}")
            return self.error_or_null_behavior == "INCLUDE"
        return expressions.is_truthy(verdict) == (self.filter_type == "INCLUDE")

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from stratoflow.tasks.serdes.ion import read_ion, write_ion  # deferred: amazon.ion, only when run

        source = stored_uri(ctx, self.from_, "from")
        items = read_ion(read_stored(ctx, source), source)
        kept = [item for index, item in enumerate(items) if self._keep(ctx, item, index)]
        uri = ctx.put_file(safe_file_name(self.id) + ".ion", write_ion(kept))
        return {"uri": uri, "processedItemsTotal": len(items), "droppedItemsTotal": len(items) - len(kept)}
