"""How ForEachItem cuts a file: the ItemReader's `[number, text]` lines, and batches stored as files
when they would not fit a child execution's input."""

from __future__ import annotations

import json

from stratoflow.execution.runner.batches import cut, split_lines
from stratoflow.tasks.native import ItemBatch


def items(data: bytes) -> list[list[object]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def nowhere(_number: int, _text: str) -> str:
    raise AssertionError("nothing is stored while the batches fit their children's inputs")


def test_rows_and_partitions_batch_the_lines_where_they_travel() -> None:
    # Given five lines
    lines = split_lines("a\nb\nc\nd\ne\n", "\n")

    # When they are cut by rows, then by partitions
    by_rows = cut(lines, ItemBatch(rows=2), nowhere)
    by_partitions = cut(lines, ItemBatch(partitions=2), nowhere)

    # Then each line is an item with its number and separator, batched as the rule says
    assert items(by_rows.lines_file) == [[0, "a\n"], [1, "b\n"], [2, "c\n"], [3, "d\n"], [4, "e\n"]]
    assert (by_rows.batch_size, by_rows.count, by_rows.stored) == (2, 3, False)
    assert (by_partitions.batch_size, by_partitions.count) == (3, 2)


def test_bytes_batches_whole_lines_one_item_each() -> None:
    # When lines of 4 bytes are cut at 10 bytes
    batches = cut(split_lines("aaa\nbbb\nccc\n", "\n"), ItemBatch(bytes="10"), nowhere)

    # Then two lines fit a batch, never part of one
    assert items(batches.lines_file) == [[0, "aaa\nbbb\n"], [1, "ccc\n"]]
    assert (batches.batch_size, batches.count) == (1, 2)


def test_batches_too_large_to_travel_are_stored_and_travel_as_their_uris() -> None:
    # Given 3,000 lines of 100 characters in batches of 2,500 (about 270 KB as JSON: over a child's input)
    lines = ["x" * 100] * 3000
    stored: dict[int, str] = {}

    def store(number: int, text: str) -> str:
        stored[number] = text
        return f"strato:///batches/{number}.txt"

    # When they are cut
    batches = cut(lines, ItemBatch(rows=2500, separator=";"), store)

    # Then each batch was stored whole, and the items are its URI, one a batch
    assert batches.stored and (batches.batch_size, batches.count) == (1, 2)
    assert [len(stored[0]), len(stored[1])] == [2500 * 101, 500 * 101]
    assert items(batches.lines_file) == [[0, "strato:///batches/0.txt"], [1, "strato:///batches/1.txt"]]
