"""Kestra's text coercions of `IonToAvro` (and its writers): text cells typed by the Avro schema.

A CSV read by `CsvToIon` gives text; Kestra's Avro writer turns each text value into the type its
schema field declares: booleans from `trueValues` / `falseValues`, null from `nullValues` (on fields
that may be null or boolean, or on every field with `inferAllFields`), numbers with
`decimalSeparator`, and dates, times and timestamps parsed with `dateFormat`, `timeFormat` and
`datetimeFormat` — Java `DateTimeFormatter` patterns, `[...]` marking an optional part — in
`timeZoneId` when the text has no offset. Values that already have a type are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DATE_FORMAT = "yyyy-MM-dd[XXX]"
TIME_FORMAT = "HH:mm[:ss][.SSSSSS][XXX]"
DATETIME_FORMAT = "yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX]"
TRUE_VALUES = ["t", "true", "enabled", "1", "on", "yes"]
FALSE_VALUES = ["f", "false", "disabled", "0", "off", "no", ""]
NULL_VALUES = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "1.#IND", "1.#QNAN", "NA", "n/a", "nan", "null",
]  # fmt: skip

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
# Pattern letter -> (group name, regex of its text), by letter and count (Java's meaning).
_FIELDS: dict[str, Callable[[int], tuple[str, str]]] = {
    "y": lambda n: ("year", r"\d{2}" if n == 2 else r"\d{4}"),
    "u": lambda n: ("year", r"\d{2}" if n == 2 else r"\d{4}"),
    "M": lambda n: ("month", r"\d{1,2}" if n <= 2 else r"[A-Za-z]{3,9}"),
    "d": lambda n: ("day", r"\d{1,2}"),
    "H": lambda n: ("hour", r"\d{1,2}"),
    "h": lambda n: ("hour12", r"\d{1,2}"),
    "a": lambda n: ("ampm", r"[AaPp][Mm]"),
    "m": lambda n: ("minute", r"\d{1,2}"),
    "s": lambda n: ("second", r"\d{1,2}"),
    "S": lambda n: ("fraction", rf"\d{{1,{n}}}"),
    "n": lambda n: ("fraction", r"\d{1,9}"),
    "X": lambda n: ("offset", r"Z|[+-]\d{2}(?::?\d{2})?"),
    "x": lambda n: ("offset", r"[+-]\d{2}(?::?\d{2})?"),
    "Z": lambda n: ("offset", r"Z|[+-]\d{2}:?\d{2}"),
}


class PatternError(ValueError):
    """A date/time pattern this implementation cannot read."""


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regex of a Java DateTimeFormatter pattern (letters, 'quoted text', [optional parts])."""
    out: list[str] = []
    used: set[str] = set()
    depth, i = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise PatternError(f"unterminated quote in {pattern!r}")
            out.append(re.escape(pattern[i + 1 : end]) if end > i + 1 else "'")
            i = end + 1
        elif char == "[":
            depth += 1
            out.append("(?:")
            i += 1
        elif char == "]":
            if depth == 0:
                raise PatternError(f"unbalanced ']' in {pattern!r}")
            depth -= 1
            out.append(")?")
            i += 1
        elif char.isalpha():
            count = 1
            while i + count < len(pattern) and pattern[i + count] == char:
                count += 1
            if char not in _FIELDS:
                raise PatternError(f"pattern letter '{char}' is not supported in {pattern!r}")
            name, regex = _FIELDS[char](count)
            if name in used:  # a letter twice (in two optional parts): the first one names the value
                out.append(f"(?:{regex})")
            else:
                used.add(name)
                out.append(f"(?P<{name}>{regex})")
            i += count
        else:
            out.append(re.escape(char))
            i += 1
    if depth:
        raise PatternError(f"unbalanced '[' in {pattern!r}")
    return re.compile("".join(out))


def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
    return timezone(timedelta(minutes=minutes if text[0] == "+" else -minutes))


def _month(text: str) -> int:
    if text.isdigit():
        return int(text)
    return _MONTHS.index(text[:3].lower()) + 1


@dataclass(frozen=True)
class TextValues:
    """The coercion settings of one task (Kestra's property names in the comments)."""

    date_format: str = DATE_FORMAT  # dateFormat
    time_format: str = TIME_FORMAT  # timeFormat
    datetime_format: str = DATETIME_FORMAT  # datetimeFormat
    true_values: tuple[str, ...] = tuple(TRUE_VALUES)  # trueValues
    false_values: tuple[str, ...] = tuple(FALSE_VALUES)  # falseValues
    null_values: tuple[str, ...] = tuple(NULL_VALUES)  # nullValues
    decimal_separator: str = "."  # decimalSeparator
    time_zone_id: str = "UTC"  # timeZoneId: the zone of a text without an offset
    infer_all_fields: bool = False  # inferAllFields

    def zone(self) -> tzinfo:
        try:
            return ZoneInfo(self.time_zone_id)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{self.time_zone_id}'") from None

    def _match(self, pattern: str, text: str, what: str) -> dict[str, str]:
        found = compile_pattern(pattern).fullmatch(text.strip())
        if found is None:
            raise ValueError(f"'{text}' is not a {what} of the form {pattern}")
        return {k: v for k, v in found.groupdict().items() if v is not None}

    def parse_date(self, text: str) -> date:
        parts = self._match(self.date_format, text, "date")
        return date(int(parts["year"]), _month(parts.get("month", "1")), int(parts.get("day", "1")))

    def _clock(self, parts: dict[str, str]) -> tuple[int, int, int, int]:
        hour = int(parts.get("hour", parts.get("hour12", "0")))
        if "hour12" in parts and parts.get("ampm", "AM").upper() == "PM" and hour < 12:
            hour += 12
        fraction = (parts.get("fraction", "") + "000000")[:6]
        return hour, int(parts.get("minute", "0")), int(parts.get("second", "0")), int(fraction)

    def parse_time(self, text: str) -> time:
        parts = self._match(self.time_format, text, "time")
        return time(*self._clock(parts))

    def parse_datetime(self, text: str) -> datetime:
        parts = self._match(self.datetime_format, text, "date-time")
        day = date(int(parts["year"]), _month(parts.get("month", "1")), int(parts.get("day", "1")))
        moment = datetime.combine(day, time(*self._clock(parts)))
        offset = _offset(parts.get("offset"))
        return moment.replace(tzinfo=offset) if offset is not None else moment.replace(tzinfo=self.zone())

    def number(self, text: str) -> str:
        cleaned = text.strip()
        return cleaned.replace(self.decimal_separator, ".") if self.decimal_separator != "." else cleaned

    def coerce(self, value: Any, schema: Any) -> Any:
        """`value` as the (parsed, fastavro) schema `schema` wants it; text only, the rest as it is.
        Raises ValueError when the text fits none of the schema's types."""
        if not isinstance(value, str):
            return value
        branches = schema if isinstance(schema, list) else [schema]
        names = [_type_name(b) for b in branches]
        if value in self.null_values and ("null" in names or self.infer_all_fields):
            return None
        if "boolean" in names or self.infer_all_fields:
            if value in self.true_values:
                return True
            if value in self.false_values:
                return False
        problems = []
        for branch in branches:
            if _type_name(branch) in ("null", "boolean"):
                continue
            try:
                return self._one(value, branch)
            except (ValueError, InvalidOperation, ArithmeticError) as error:
                problems.append(str(error))
        raise ValueError(problems[0] if problems else f"'{value}' is not a {' or '.join(names)}")

    def _one(self, text: str, schema: Any) -> Any:
        kind, logical = _type_name(schema), schema.get("logicalType") if isinstance(schema, dict) else None
        if logical == "date":
            return self.parse_date(text)
        if logical in ("time-millis", "time-micros"):
            return self.parse_time(text)
        if logical in ("timestamp-millis", "timestamp-micros"):
            return self.parse_datetime(text)
        if logical in ("local-timestamp-millis", "local-timestamp-micros"):
            return self.parse_datetime(text).replace(tzinfo=None)
        if logical == "decimal":
            return Decimal(self.number(text))
        if kind in ("int", "long"):
            return int(self.number(text))
        if kind in ("float", "double"):
            return float(self.number(text))
        if kind == "bytes":
            return text.encode()
        return text  # string, enum, fixed...: fastavro's validation says whether it fits


def _type_name(schema: Any) -> str:
    if isinstance(schema, dict):
        return str(schema.get("type"))
    return str(schema)


def coerce_record(
    row: dict[str, Any], schema: dict[str, Any], values: TextValues, strict: bool
) -> dict[str, Any]:
    """The row with its text fields typed by the record `schema` (nested records too); with `strict`,
    a field the schema does not declare is an error (else it is left out)."""
    fields = {field["name"]: field["type"] for field in schema["fields"]}
    extra = [name for name in row if name not in fields]
    if strict and extra:
        raise ValueError(f"field '{extra[0]}' is not in the schema (strictSchema)")
    typed: dict[str, Any] = {}
    for name, kind in fields.items():
        if name not in row:
            continue
        value = row[name]
        record = next(
            (b for b in (kind if isinstance(kind, list) else [kind]) if _type_name(b) == "record"), None
        )
        try:
            if isinstance(value, dict) and record is not None:
                typed[name] = coerce_record(value, record, values, strict)
            else:
                typed[name] = values.coerce(value, kind)
        except ValueError as error:
            raise ValueError(f"field '{name}': {error}") from None
    return typed
