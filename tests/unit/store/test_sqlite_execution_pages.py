"""A page of executions after a cursor is one range read of an index, whatever the history's size."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stratoflow.store import open_local_store


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ("", "executions_by_start"),
        ("namespace = 'n' AND ", "executions_by_namespace"),
        ("namespace = 'n' AND flow_id = 'f' AND ", "executions_by_flow"),
        ("state = 'FAILED' AND ", "executions_by_state"),
    ],
)
def test_each_filter_pages_through_an_index(tmp_path: Path, where: str, index: str) -> None:
    # Given the local store's schema
    store, _ = open_local_store(tmp_path)
    store.close()

    # When the query a page after a cursor runs is planned
    with sqlite3.connect(tmp_path / "stratoflow.db") as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT data FROM executions WHERE "
            f"{where}(start_key, id) < ('2026', 'x') ORDER BY start_key DESC, id DESC LIMIT 50"
        ).fetchall()

    # Then it searches the index from the cursor on (no scan of the table, no sort)
    details = " ".join(str(row[3]) for row in plan)
    assert f"SEARCH executions USING INDEX {index}" in details and "(start_key,id)<" in details
    assert "TEMP B-TREE" not in details
