"""Conversions of input values, from CLI text or native values to JSON-friendly values.

Each function raises ValueError with a message that names the rule broken; the input models turn it
into an `InputError` naming the input.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeGuard, cast
from urllib.parse import urlsplit

from pydantic import JsonValue

from stratoflow.flow.fields import describe, format_iso_duration, parse_iso_duration
from stratoflow.flow.yaml_source import parse_yaml_value

_SCHEME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def is_template(value: object) -> TypeGuard[str]:
    """True for a string holding an expression, whose value is only known when rendered."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def to_text(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)
    raise ValueError(f"expected text, got {describe(raw)}")


def to_int(raw: object) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected an integer, got {describe(raw)}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an integer, got {describe(raw)}")


def to_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError(f"expected a number, got {describe(raw)}")
    value: float | None = None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {describe(raw)}")
    return value


def to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {describe(raw)}")


def to_datetime(raw: object) -> datetime:
    """An aware datetime; a value without an offset is taken as UTC."""
    value: datetime | None = None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, date):
        value = datetime.combine(raw, time())
    elif isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip())
        except ValueError:
            value = None
    if value is None:
        raise ValueError(f"expected an ISO-8601 date-time such as 2024-01-31T09:00:00Z, got {describe(raw)}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def datetime_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_date(raw: object) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an ISO-8601 date such as 2024-01-31, got {describe(raw)}")


def to_time(raw: object) -> time:
    if isinstance(raw, time):
        return raw
    if isinstance(raw, str):
        try:
            return time.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a time such as 09:30 or 09:30:00, got {describe(raw)}")


def to_duration(raw: object) -> timedelta:
    if isinstance(raw, timedelta):
        return raw
    if isinstance(raw, str):
        return parse_iso_duration(raw)
    raise ValueError(f"expected an ISO-8601 duration such as PT5M, got {describe(raw)}")


def duration_text(value: timedelta) -> str:
    return format_iso_duration(value)


def to_json_value(raw: object) -> JsonValue:
    """Text is parsed as JSON; a native value must be JSON-serialisable and is kept as it is."""
    if isinstance(raw, str):
        try:
            parsed: JsonValue = json.loads(raw)
            return parsed
        except json.JSONDecodeError as err:
            raise ValueError(f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    try:
        json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError(f"expected a JSON value, got {describe(raw)}") from None
    return cast(JsonValue, raw)  # json.dumps above accepted it


def to_yaml_value(raw: object) -> JsonValue:
    """Text is parsed as YAML (1.2 core types, as flow files are); a native value is kept."""
    if not isinstance(raw, str):
        return to_json_value(raw)
    return parse_yaml_value(raw)


def to_uri(raw: object) -> str:
    text = to_text(raw).strip()
    parts = urlsplit(text)
    if not parts.scheme or not _SCHEME_RE.fullmatch(parts.scheme) or not (parts.netloc or parts.path):
        raise ValueError(f"expected a URI such as https://example.com/data.csv, got {describe(raw)}")
    return text


def to_email(raw: object) -> str:
    text = to_text(raw).strip()
    if not _EMAIL_RE.fullmatch(text):
        raise ValueError(f"expected an e-mail address, got {describe(raw)}")
    return text


def to_file_uri(raw: object) -> str:
    """A storage URI (`strato:///...`, or another system's `scheme://...`), kept as it is.

    A local path or `file://` URI is refused: a value from a webhook, the console or another program
    must never make the platform read its own disk. `strato run` and `strato trigger` upload the
    local files their user names before the value gets here (stratoflow.local.file_inputs).
    """
    text = to_text(raw).strip()
    scheme = urlsplit(text).scheme
    # One-letter "schemes" are Windows drive letters, not URIs.
    if len(scheme) > 1 and "://" in text and scheme.lower() != "file":
        return text
    raise ValueError(
        f"expected a storage URI such as strato:///namespace/file.csv, got the local path {text!r} "
        "(only `strato run`/`strato trigger` upload local files)"
    )


def to_list(raw: object) -> list[object]:
    """A list, from a native list, a JSON array, or comma-separated text."""
    if isinstance(raw, list | tuple):
        return list(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            value = to_json_value(text)
            if isinstance(value, list):
                return list[object](value)
        elif text:
            return [item.strip() for item in text.split(",")]
        else:
            return []
    raise ValueError(f"expected a list (or a JSON array), got {describe(raw)}")
