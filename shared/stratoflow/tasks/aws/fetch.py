"""Kestra's `fetchType` for tasks that return rows: keep them in outputs, or store them as a file."""

from __future__ import annotations

import json
from typing import Any, Literal

from stratoflow.flow.run_context import RunContext

FetchType = Literal["FETCH", "FETCH_ONE", "STORE", "NONE"]
FETCH_OUTPUTS: dict[str, str] = {
    "rows": "the rows (fetchType FETCH)",
    "row": "the first row (fetchType FETCH_ONE)",
    "uri": "storage URI of the rows as JSON lines (fetchType STORE)",
    "size": "number of rows",
}


def json_lines(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, default=str) + "\n" for row in rows).encode()


def fetch_outputs(ctx: RunContext, rows: list[dict[str, Any]], fetch_type: FetchType) -> dict[str, Any]:
    """`rows`, `row` or `uri` (a JSON-lines file) as `fetchType` asks, and `size`."""
    outputs: dict[str, Any] = {"size": len(rows)}
    if fetch_type == "FETCH":
        outputs["rows"] = rows
    elif fetch_type == "FETCH_ONE":
        outputs["row"] = rows[0] if rows else None
    elif fetch_type == "STORE":
        outputs["uri"] = ctx.put_file("rows.jsonl", json_lines(rows))
    return outputs
