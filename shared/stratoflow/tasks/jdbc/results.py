"""What a query gives, by Kestra's `fetchType`: FETCH_ONE (`row`), FETCH (`rows`), STORE (an Ion
file: `uri`), NONE (nothing); `size` is the number of rows fetched or stored."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.files import safe_file_name

FetchType = Literal["FETCH_ONE", "FETCH", "STORE", "NONE"]


def output_value(value: Any) -> Any:
    """A column value as a task output (JSON): numbers, text, booleans and null as they are; dates
    and times as ISO-8601 text; decimals as numbers; bytes as base64."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): output_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [output_value(v) for v in value]
    return value


def ion_value(value: Any) -> Any:
    """A column value for an Ion file: Ion keeps decimals and timestamps; the rest as outputs."""
    if isinstance(value, Decimal | datetime):
        return value
    if isinstance(value, dict):
        return {str(k): ion_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [ion_value(v) for v in value]
    return output_value(value)


def fetch_result(
    ctx: RunContext, fetch_type: FetchType, columns: Sequence[str], rows: Iterable[Sequence[Any]], name: str
) -> dict[str, Any]:
    """The outputs of one result set: `rows` is consumed only as far as `fetch_type` needs."""
    if fetch_type == "NONE":
        return {}
    if fetch_type == "FETCH_ONE":
        first = next(iter(rows), None)
        if first is None:
            return {"row": None, "size": 0}
        return {"row": {c: output_value(v) for c, v in zip(columns, first, strict=True)}, "size": 1}
    if fetch_type == "FETCH":
        fetched = [{c: output_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        return {"rows": fetched, "size": len(fetched)}
    from stratoflow.tasks.serdes.ion import ion_line  # deferred: amazon.ion only when storing

    lines = [ion_line({c: ion_value(v) for c, v in zip(columns, row, strict=True)}) for row in rows]
    data = "".join(line + "\n" for line in lines).encode()
    return {"uri": ctx.put_file(safe_file_name(name) + ".ion", data), "size": len(lines)}


_STATEMENT_PARTS = re.compile(
    r"""('(?:[^']|'')*')            # a string
      |("(?:[^"]|"")*")            # a quoted identifier
      |(\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)  # a dollar-quoted body
      |(--[^\n]*)                  # a line comment
      |(/\*.*?\*/)                 # a block comment
      |(;)                         # the end of a statement
    """,
    re.VERBOSE | re.DOTALL,
)


def split_statements(sql: str) -> list[str]:
    """The statements of a script, split on the `;` outside strings, identifiers and comments."""
    statements, start = [], 0
    for found in _STATEMENT_PARTS.finditer(sql):
        if found.group(0) == ";":
            statements.append(sql[start : found.start()])
            start = found.end()
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.DOTALL)
    return bool(without_comments.strip())
