"""Kestra's date functions and filters: `now()`, `date`, `dateAdd`, `timestamp`.

A date can be given as a datetime, an ISO-8601 string (`2024-03-01T10:00:00Z`, `2024-03-01`, Java's
`...+01:00[Europe/Paris]`), or epoch seconds. A date without a zone is read in `timeZone` (UTC by
default). `now()` and `dateAdd` return datetimes: in text they print as ISO-8601, and a template that
is exactly one expression returns them as ISO-8601 strings.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from stratoflow.expressions.errors import ExpressionEvaluationError
from stratoflow.expressions.javatime import format_datetime, parse_datetime, zone
from stratoflow.expressions.registry import template_filter, template_function

DEFAULT_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
# Kestra's named formats (Java's ISO formatters, with a fixed six-digit fraction).
NAMED_FORMATS = {
    "iso": DEFAULT_FORMAT,
    "iso_offset_date_time": DEFAULT_FORMAT,
    "iso_date_time": DEFAULT_FORMAT,
    "iso_zoned_date_time": DEFAULT_FORMAT + "'['VV']'",
    "iso_local_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSSSS",
    "iso_date": "yyyy-MM-dd",
    "iso_local_date": "yyyy-MM-dd",
    "iso_offset_date": "yyyy-MM-ddXXX",
    "iso_time": "HH:mm:ss.SSSSSS",
    "iso_local_time": "HH:mm:ss.SSSSSS",
    "iso_offset_time": "HH:mm:ss.SSSSSSXXX",
    "iso_ordinal_date": "yyyy-DDDXXX",
    "basic_iso_date": "yyyyMMddXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "rfc_1123_date_time": "EEE, d MMM yyyy HH:mm:ss 'GMT'",
}
# Microseconds per unit: Python datetimes stop at microseconds, so NANOS rounds.
_TIME_UNITS = {
    "NANOS": 0.001,
    "MICROS": 1,
    "MILLIS": 1_000,
    "SECONDS": 1_000_000,
    "MINUTES": 60_000_000,
    "HOURS": 3_600_000_000,
    "HALF_DAYS": 43_200_000_000,
}
_DATE_UNITS = {"DAYS": (0, 1), "WEEKS": (0, 7), "MONTHS": (1, 0), "YEARS": (12, 0), "DECADES": (120, 0)}


def _zone_or_utc(time_zone: str | None) -> tzinfo:
    return UTC if time_zone is None else zone(time_zone)


def to_datetime(value: Any, time_zone: str | None = None, existing_format: str | None = None) -> datetime:
    """Read `value` as an aware datetime (see the module docstring for what is accepted)."""
    default_zone = _zone_or_utc(time_zone)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=default_zone)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=default_zone)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ExpressionEvaluationError(f"{value} is not a date")
        return datetime.fromtimestamp(value, UTC).astimezone(default_zone)
    if not isinstance(value, str):
        raise ExpressionEvaluationError(
            f"a date is needed, got {'null' if value is None else type(value).__name__}"
        )
    if existing_format is not None:
        return parse_datetime(
            value, NAMED_FORMATS.get(existing_format.lower(), existing_format), default_zone
        )
    text = value.strip()
    zone_name = None
    if text.endswith("]") and "[" in text:
        text, zone_name = text[:-1].split("[", 1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ExpressionEvaluationError(f"{value!r} is not an ISO-8601 date") from None
    if zone_name is not None:
        return parsed.astimezone(zone(zone_name)) if parsed.tzinfo else parsed.replace(tzinfo=zone(zone_name))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=default_zone)


@template_function("now")
def now(timeZone: str | None = None) -> datetime:
    """The current instant, in `timeZone` (UTC by default)."""
    return datetime.now(_zone_or_utc(timeZone))


@template_filter("date")
def date_filter(
    value: Any,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str:
    """Format a date with a Java pattern (`yyyy-MM-dd`) or a named format (`iso`, `sql`, `iso_date`...),
    in `timeZone` when given; `existingFormat` is the Java pattern of a string input. `locale` is
    accepted for Kestra compatibility and ignored: month and day names are English."""
    moment = to_datetime(value, timeZone, existingFormat)
    if timeZone is not None:
        moment = moment.astimezone(zone(timeZone))
    pattern = DEFAULT_FORMAT if format is None else NAMED_FORMATS.get(format.lower(), format)
    if pattern == NAMED_FORMATS["rfc_1123_date_time"]:
        moment = moment.astimezone(UTC)
    return format_datetime(moment, pattern)


def add(moment: datetime, amount: int, unit: str) -> datetime:
    """Java's `ZonedDateTime.plus`: time units move the instant; date units move the local date and
    keep the local time (end of month clamped, a time in a DST gap moved forward)."""
    name = unit.upper()
    if name in _TIME_UNITS:
        shift = timedelta(microseconds=amount * _TIME_UNITS[name])
        return (moment.astimezone(UTC) + shift).astimezone(moment.tzinfo)
    if name not in _DATE_UNITS:
        units = ", ".join([*_TIME_UNITS, *_DATE_UNITS])
        raise ExpressionEvaluationError(f"dateAdd: unknown unit {unit!r} (use one of {units})")
    months, days = _DATE_UNITS[name]
    if months:
        total = moment.year * 12 + moment.month - 1 + amount * months
        year, month = divmod(total, 12)
        month += 1
        last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        local = moment.replace(year=year, month=month, day=min(moment.day, last_day))
    else:
        local = moment + timedelta(days=amount * days)
    # A naive wall-clock result can fall in a DST gap; a round trip through UTC resolves it as Java does.
    return local.astimezone(UTC).astimezone(moment.tzinfo)


@template_filter("dateAdd")
def date_add(value: Any, amount: int, unit: str, timeZone: str | None = None) -> datetime:
    """`{{ now() | dateAdd(-1, 'DAYS') }}`: units NANOS ... HOURS, DAYS, WEEKS, MONTHS, YEARS."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ExpressionEvaluationError("dateAdd: the amount must be an integer")
    moment = to_datetime(value, timeZone)
    if timeZone is not None:
        moment = moment.astimezone(zone(timeZone))
    return add(moment, amount, unit)


def _epoch(value: Any, time_zone: str | None, existing_format: str | None) -> timedelta:
    return to_datetime(value, time_zone, existing_format) - datetime(1970, 1, 1, tzinfo=UTC)


@template_filter("timestamp")
def timestamp(value: Any, timeZone: str | None = None, existingFormat: str | None = None) -> int:
    """Epoch seconds of a date."""
    return _epoch(value, timeZone, existingFormat) // timedelta(seconds=1)


@template_filter("timestampMilli")
def timestamp_milli(value: Any, timeZone: str | None = None, existingFormat: str | None = None) -> int:
    return _epoch(value, timeZone, existingFormat) // timedelta(milliseconds=1)


@template_filter("timestampMicro")
def timestamp_micro(value: Any, timeZone: str | None = None, existingFormat: str | None = None) -> int:
    return _epoch(value, timeZone, existingFormat) // timedelta(microseconds=1)


@template_filter("timestampNano")
def timestamp_nano(value: Any, timeZone: str | None = None, existingFormat: str | None = None) -> int:
    return _epoch(value, timeZone, existingFormat) // timedelta(microseconds=1) * 1000
