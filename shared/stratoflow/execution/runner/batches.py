"""How ForEachItem cuts a file into batches, as Kestra's split does: whole lines (each ended by the
batch's `separator`), `rows` a batch, `partitions` batches, or up to `bytes` a batch.

The result is the JSON Lines file its distributed Map's ItemReader reads: one `[number, text]` line
per item, `batchSize` items a batch. A batch whose lines fit a child execution's input travels there
(each line an item); when one would not, every batch is stored as a file first and its item is the
file's URI (`stored`), one item a batch.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stratoflow.tasks.native import ItemBatch

BATCH_INPUT_BYTES = 240 * 1024
"""What one batch's lines may take, as JSON, in the input of its child execution: Step Functions holds
an input to 256 KiB; the rest is left for the batch's reference to its execution and loops. Larger
batches are stored as files before the Map starts, and travel as their URIs."""


@dataclass(frozen=True)
class Batches:
    """The ItemReader's lines, how many of them make a batch, how many batches, and whether each
    item is a stored batch file's URI instead of a line."""

    lines_file: bytes
    batch_size: int
    count: int
    stored: bool


def split_lines(text: str, separator: str) -> list[str]:
    """The file's lines, each without its separator (a last separator ends the last line)."""
    lines = text.split(separator)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def cut(lines: list[str], batch: ItemBatch, store: Callable[[int, str], str]) -> Batches:
    """The batches of `lines` by the batch's rule; `store(number, text)` stores a batch's file and
    gives its URI, for batches too large to travel in their child execution's input."""
    separator = batch.separator
    limit = batch.byte_limit
    if limit is not None:
        # Cut by size here, as Kestra does: each batch is then one item, so the ItemBatcher takes one.
        texts = ["".join(group) for group in _by_bytes(lines, separator, limit)]
        inline = _inline(texts, "", 1)
        size = 1
    else:
        size = batch.rows or 1
        if batch.partitions is not None:
            size = max(1, math.ceil(len(lines) / batch.partitions))
        inline = _inline(lines, separator, size)
        texts = []
    if inline is not None:
        count = math.ceil(len(lines) / size) if limit is None else len(texts)
        return Batches(inline, size, count, stored=False)
    if limit is None:
        texts = [
            "".join(line + separator for line in lines[i : i + size]) for i in range(0, len(lines), size)
        ]
    uris = [store(number, text) for number, text in enumerate(texts)]
    stored = _inline(uris, "", 1)
    assert stored is not None  # a URI is far below a child's input limit
    return Batches(stored, 1, len(uris), stored=True)


def _inline(texts: list[str], separator: str, size: int) -> bytes | None:
    """`[number, text]` JSON lines; None when a batch of `size` of them would not fit a child's input."""
    written = io.StringIO()
    batch_bytes = 0
    for number, text in enumerate(texts):
        encoded = json.dumps([number, text + separator], ensure_ascii=False, separators=(",", ":"))
        written.write(encoded + "\n")
        batch_bytes = (0 if number % size == 0 else batch_bytes) + len(encoded.encode()) + 1
        if batch_bytes > BATCH_INPUT_BYTES:
            return None
    return written.getvalue().encode()


def _by_bytes(lines: list[str], separator: str, limit: int) -> list[list[str]]:
    """Consecutive lines (each ended by `separator`) up to `limit` bytes a group; a longer line alone."""
    groups: list[list[str]] = []
    current: list[str] = []
    length = 0
    for line in (line + separator for line in lines):
        size = len(line.encode())
        if current and length + size > limit:
            groups.append(current)
            current, length = [], 0
        current.append(line)
        length += size
    return groups + ([current] if current else [])
