"""How rendered values become text, JSON and plain data, and Kestra's truthiness rule.

In text, as in Kestra: `null` renders as an empty string, booleans as `true`/`false`, maps and lists
as compact JSON (`{"a":1}`), dates as ISO-8601 (`Z` for UTC).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from jinja2.runtime import Undefined

_FALSY_TEXT = frozenset({"false", "0", "-0", ""})


class MapEntry(NamedTuple):
    """What `{% for entry in map %}` gives, as in Pebble: `entry.key`, `entry.value`; it also unpacks,
    so `{% for key, value in map %}` works."""

    key: Any
    value: Any


def fail_if_undefined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


def iso_datetime(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso_duration(value: timedelta) -> str:
    """ISO-8601 duration, as Java prints it: `PT1H30M`, `P2DT3H`, `PT0S`."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    days, seconds = value.days, value.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
    text = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if secs or fraction or not (days or clock):
        clock += f"{secs}{fraction}S"
    return sign + text + ("T" + clock if clock else "")


def to_plain(value: Any) -> Any:
    """A copy of `value` made of JSON types only: mappings become dicts, dates ISO strings."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Undefined):
        fail_if_undefined(value)
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, Iterator)):
        # Iterators: what Jinja's `map`, `select`, ... filters return.
        return [to_plain(item) for item in value]
    if isinstance(value, datetime):
        return iso_datetime(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return iso_duration(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def to_json(value: Any, indent: int | None = None) -> str:
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(to_plain(value), separators=separators, ensure_ascii=False, indent=indent)


def to_text(value: Any) -> str:
    """The text of a value printed inside a string: `{{ x }}` in `"a {{ x }} b"`."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, Undefined):
        fail_if_undefined(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return to_json(value)
    plain = to_plain(value)
    return plain if isinstance(plain, str) else to_text(plain)


def is_truthy(value: Any) -> bool:
    """Kestra's rule: false for false, "false" (any case), "0", "-0", 0, null and empty; true otherwise."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY_TEXT
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    if isinstance(value, Undefined):
        fail_if_undefined(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return len(value) > 0
    return True
