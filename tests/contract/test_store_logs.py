"""Logs: order, filters and concurrent writers, on every ExecutionStore."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from stratoflow.domain import LogEntry
from stratoflow.store import ExecutionStore
from stratoflow.store.rules import MAX_LOG_MESSAGE_BYTES


def line(message: str, when: datetime, task_id: str | None = "extract", execution_id: str = "e1") -> LogEntry:
    return LogEntry(
        execution_id=execution_id,
        task_id=task_id,
        task_run_id=f"tr-{task_id}" if task_id else None,
        attempt=1,
        message=message,
        timestamp=when,
    )


def test_logs_come_back_in_timestamp_then_write_order(store: ExecutionStore, clock: Any) -> None:
    # Given lines written in several batches, some with the same timestamp
    t = clock.start
    store.append_logs([line("one", t), line("two", t), line("three", t + timedelta(seconds=1))])
    store.append_logs(
        [line("four", t + timedelta(seconds=1)), line("five", t + timedelta(seconds=2), task_id=None)]
    )
    store.append_logs([])

    # Then they come back in that order, each as written
    logs = store.list_logs("e1")
    assert [entry.message for entry in logs] == ["one", "two", "three", "four", "five"]
    assert logs[0] == line("one", t)
    assert logs[4].task_id is None


def test_filters_since_and_limit(store: ExecutionStore, clock: Any) -> None:
    t = clock.start
    store.append_logs(
        [line(f"m{i}", t + timedelta(seconds=i), task_id="a" if i % 2 else "b") for i in range(10)]
        + [line("elsewhere", t, execution_id="e2")]
    )

    def messages(**filters: Any) -> list[str]:
        return [entry.message for entry in store.list_logs("e1", **filters)]

    assert messages(task_id="a") == ["m1", "m3", "m5", "m7", "m9"]
    assert messages(since=t + timedelta(seconds=7)) == ["m7", "m8", "m9"]
    assert messages(limit=3) == ["m0", "m1", "m2"]
    assert messages(task_id="b", since=t + timedelta(seconds=3), limit=2) == ["m4", "m6"]
    assert messages(limit=0) == []
    assert [entry.message for entry in store.list_logs("e2")] == ["elsewhere"]
    assert store.list_logs("missing") == []


def test_many_lines_in_one_call(store: ExecutionStore, clock: Any) -> None:
    store.append_logs([line(f"m{i:03d}", clock.start) for i in range(120)])

    assert [entry.message for entry in store.list_logs("e1")] == [f"m{i:03d}" for i in range(120)]


def test_concurrent_writers_lose_nothing_and_keep_their_own_order(store: ExecutionStore, clock: Any) -> None:
    # Given 50 writers, each appending 4 lines in 2 batches at the same timestamps
    def write(n: int) -> None:
        for batch in range(2):
            when = clock.start + timedelta(seconds=batch)
            store.append_logs([line(f"w{n}-{batch}-{i}", when, task_id=f"t{n}") for i in range(2)])

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(write, range(50)))

    # Then all 200 lines are there, and each writer's lines are in its order
    logs = store.list_logs("e1")
    assert len(logs) == 200
    assert [entry.timestamp for entry in logs] == sorted(entry.timestamp for entry in logs)
    for n in (0, 17, 49):
        assert [e.message for e in store.list_logs("e1", task_id=f"t{n}")] == [
            f"w{n}-0-0",
            f"w{n}-0-1",
            f"w{n}-1-0",
            f"w{n}-1-1",
        ]


def test_huge_message_is_cut_not_refused(store: ExecutionStore, clock: Any) -> None:
    store.append_logs([line("é" * MAX_LOG_MESSAGE_BYTES, clock.start)])

    (entry,) = store.list_logs("e1")
    assert entry.message.startswith("é" * 100)
    assert len(entry.message.encode()) < MAX_LOG_MESSAGE_BYTES + 100
    assert entry.message.endswith(f"[truncated {MAX_LOG_MESSAGE_BYTES} bytes]")
