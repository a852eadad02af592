"""Kestra's internal file format: Amazon Ion text, one value per line (rows are structs).

Values are read into plain Python (dict, list, str, int, float, bool, None, Decimal for Ion decimals,
datetime for timestamps, bytes for blobs), so expressions and the other formats see ordinary data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from amazon.ion import simpleion
from amazon.ion.core import IonType

from stratoflow.tasks.errors import TaskFailed


def plain(value: Any) -> Any:
    """An Ion value (IonPy*) as the Python value it stands for."""
    ion_type = getattr(value, "ion_type", None)
    if ion_type is None:
        return value
    if getattr(value, "is_null", False) or ion_type is IonType.NULL:
        return None
    if ion_type is IonType.STRUCT:
        return {str(key): plain(item) for key, item in value.items()}
    if ion_type in (IonType.LIST, IonType.SEXP):
        return [plain(item) for item in value]
    if ion_type is IonType.BOOL:
        return bool(value)
    if ion_type is IonType.INT:
        return int(value)
    if ion_type is IonType.FLOAT:
        return float(value)
    if ion_type is IonType.DECIMAL:
        return Decimal(value)
    if ion_type is IonType.TIMESTAMP:
        return datetime.fromisoformat(value.isoformat())
    if ion_type in (IonType.SYMBOL, IonType.STRING):
        return str(getattr(value, "text", value))
    if ion_type in (IonType.BLOB, IonType.CLOB):
        return bytes(value)
    return value


def read_ion(data: bytes, source: str = "the file") -> list[Any]:
    """Every top-level value of an Ion file (text or binary)."""
    if not data.strip():
        return []
    try:
        return [plain(value) for value in simpleion.loads(data, single_value=False)]
    except Exception as err:  # amazon.ion raises ValueError, IonException and others on bad input
        raise TaskFailed(f"{source} is not valid Ion: {err}") from None


def ion_line(value: Any) -> str:
    """One value as a line of Ion text."""
    text: str = simpleion.dumps(value, binary=False, omit_version_marker=True)
    return text


def write_ion(values: Iterable[Any]) -> bytes:
    return "".join(ion_line(value) + "\n" for value in values).encode()


def json_default(value: Any) -> Any:
    """JSON for the values Ion has and JSON has not."""
    if isinstance(value, Decimal):
        # 12 stays an integer in JSON; 12.50 and 1E+3 become numbers with a fraction.
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def json_text(value: Any) -> str:
    return json.dumps(value, default=json_default, ensure_ascii=False)


def iter_lines(data: bytes, charset: str = "utf-8") -> Iterator[str]:
    for line in data.decode(charset).splitlines():
        if line.strip():
            yield line
