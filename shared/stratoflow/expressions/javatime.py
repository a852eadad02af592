"""Java `DateTimeFormatter` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`), formatted and parsed in
Python, in English (Java's `Locale.US`).

Supported letters: G, y, u, Y, M, L, d, D, Q, q, w, E, e, c, a, H, h, k, K, m, s, S, n, A, Z, X, x,
O, z, V; `'quoted text'`, `''` for a quote, and optional-section brackets `[ ]` (always printed).
`z` prints the zone's abbreviation (`CET`, `UTC`) whatever the count, `w` is the ISO week number.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stratoflow.expressions.errors import ExpressionEvaluationError

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_LETTERS = frozenset("GyuYMLdDQqwEecaHhkKmsSnAZXxOzV")
_QUARTER_NAMES = ["1st quarter", "2nd quarter", "3rd quarter", "4th quarter"]

Token = tuple[str, int] | str


@functools.lru_cache(maxsize=256)
def tokenize(pattern: str) -> tuple[Token, ...]:
    """Split a pattern into `(letter, count)` fields and literal strings."""
    tokens: list[Token] = []
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        if char == "'":
            end = index + 1
            literal = ""
            while end < size:
                if pattern[end] == "'":
                    if end + 1 < size and pattern[end + 1] == "'":
                        literal += "'"
                        end += 2
                        continue
                    break
                literal += pattern[end]
                end += 1
            if end >= size:
                raise ExpressionEvaluationError(f"date pattern {pattern!r}: unterminated quote")
            tokens.append(literal if end > index + 1 else "'")
            index = end + 1
        elif char.isascii() and char.isalpha():
            end = index
            while end < size and pattern[end] == char:
                end += 1
            if char not in _LETTERS:
                raise ExpressionEvaluationError(f"date pattern {pattern!r}: unsupported letter {char!r}")
            tokens.append((char, end - index))
            index = end
        elif char in "#{}":
            raise ExpressionEvaluationError(f"date pattern {pattern!r}: reserved character {char!r}")
        else:
            if char not in "[]":
                tokens.append(char)
            index += 1
    return tuple(tokens)


def _offset(value: datetime) -> timedelta:
    return value.utcoffset() or timedelta(0)


def format_offset(value: datetime, letter: str, count: int) -> str:
    """Offset fields: `Z` (+0100), `X` (Z or +01:00 forms), `x` (+00 forms), `O` (GMT+1)."""
    total = int(_offset(value).total_seconds())
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    if letter == "O":
        if total == 0:
            return "GMT"
        return (
            f"GMT{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
            if count == 1
            else f"GMT{sign}{hours:02d}:{minutes:02d}"
        )
    if letter == "Z":
        if count == 4:
            return "GMT" if total == 0 else f"GMT{sign}{hours:02d}:{minutes:02d}"
        letter, count = ("X", 3) if count == 5 else ("x", 2)
    if letter == "X" and total == 0:
        return "Z"
    colon = ":" if count in (3, 5) else ""
    text = f"{sign}{hours:02d}"
    if count > 1 or minutes:
        text += f"{colon}{minutes:02d}"
    if count > 3 and seconds:
        text += f"{colon}{seconds:02d}"
    return text


def zone_id(value: datetime) -> str:
    zone = value.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    if zone is None or _offset(value) == timedelta(0):
        return "UTC"
    return format_offset(value, "X", 3)


def _text(names: list[str], index: int, count: int) -> str:
    name = names[index]
    return name[:3] if count <= 3 else name if count == 4 else name[0]


def _field(value: datetime, letter: str, count: int) -> str:
    if letter in "yuY":
        year = value.isocalendar().year if letter == "Y" else value.year
        return f"{year % 100:02d}" if count == 2 else f"{year:0{count}d}"
    if letter in "ML":
        return f"{value.month:0{count}d}" if count <= 2 else _text(MONTHS, value.month - 1, count)
    if letter in "Qq":
        quarter = (value.month - 1) // 3 + 1
        return (
            f"{quarter:0{count}d}"
            if count <= 2
            else f"Q{quarter}"
            if count == 3
            else _QUARTER_NAMES[quarter - 1]
        )
    if letter == "E" or (letter in "ec" and count >= 3):
        return _text(DAYS, value.weekday(), count)
    if letter in "ec":
        return f"{(value.weekday() + 1) % 7 + 1:0{count}d}"  # Locale.US weeks start on Sunday = 1
    if letter == "a":
        return "AM" if value.hour < 12 else "PM"
    if letter == "G":
        return "AD" if count <= 3 else "Anno Domini" if count == 4 else "A"
    if letter == "S":
        return f"{value.microsecond:06d}000".ljust(count, "0")[:count]
    if letter == "n":
        return str(value.microsecond * 1000)
    if letter in "ZXxO":
        return format_offset(value, letter, count)
    if letter == "z":
        return value.tzname() or "UTC"
    if letter == "V":
        return zone_id(value)
    number = {
        "d": value.day,
        "D": value.timetuple().tm_yday,
        "w": value.isocalendar().week,
        "H": value.hour,
        "h": value.hour % 12 or 12,
        "k": value.hour or 24,
        "K": value.hour % 12,
        "m": value.minute,
        "s": value.second,
        "A": ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000,
    }[letter]
    return f"{number:0{count}d}"


def format_datetime(value: datetime, pattern: str) -> str:
    return "".join(token if isinstance(token, str) else _field(value, *token) for token in tokenize(pattern))


_OFFSET = r"Z|z|GMT|UTC|(?:GMT|UTC)?[+-]\d{1,2}(?::?\d{2}){0,2}"


def _regex(letter: str, count: int) -> str:
    if letter in "ML" and count >= 3:
        names = MONTHS if count == 4 else [month[:3] for month in MONTHS]
        return f"(?P<month_name>{'|'.join(names)})"
    if letter in "Eec" and (letter == "E" or count >= 3):
        names = DAYS if count == 4 else [day[:3] for day in DAYS]
        return f"(?:{'|'.join(names)})"
    if letter in "yuY":
        return (
            r"(?P<year>\d{2})"
            if count == 2
            else r"(?P<year>[+-]?\d{4,9})"
            if count >= 4
            else r"(?P<year>\d+)"
        )
    if letter in "ZXxO":
        return f"(?P<offset>{_OFFSET})"
    if letter in "zV":
        return r"(?P<zone>[A-Za-z][A-Za-z0-9_/+-]*)"
    if letter == "a":
        return r"(?P<ampm>AM|PM|am|pm)"
    if letter == "S":
        return rf"(?P<fraction>\d{{{count}}})"
    group = {"M": "month", "L": "month", "d": "day", "H": "hour", "k": "hour", "h": "hour12", "K": "hour12"}
    group |= {"m": "minute", "s": "second"}
    if letter in group:
        digits = r"\d{1,2}" if count == 1 else rf"\d{{{count}}}"
        return f"(?P<{group[letter]}>{digits})"
    return r"\d+" if letter != "G" else r"(?:AD|BC)"


@functools.lru_cache(maxsize=256)
def _parser(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(token) if isinstance(token, str) else _regex(*token) for token in tokenize(pattern)]
    try:
        return re.compile("".join(parts), re.IGNORECASE)
    except re.error:
        raise ExpressionEvaluationError(
            f"date pattern {pattern!r} repeats a field; it cannot be parsed"
        ) from None


def parse_offset(text: str) -> tzinfo:
    text = text.upper().removeprefix("GMT").removeprefix("UTC")
    if text in ("", "Z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:-2] if len(digits) > 2 else digits)
    minutes = int(digits[-2:]) if len(digits) > 2 else 0
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def zone(name: str) -> tzinfo:
    """A time zone by IANA name (`Europe/Paris`), `UTC`/`Z`, or an offset (`+01:00`)."""
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    if name[:1] in "+-" or name.upper().startswith(("GMT+", "GMT-", "UTC+", "UTC-")):
        return parse_offset(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionEvaluationError(f"unknown time zone {name!r}") from None


def parse_datetime(text: str, pattern: str, default_zone: tzinfo) -> datetime:
    """Parse `text` written in `pattern`; fields it lacks default to 1970-01-01T00:00 in `default_zone`."""
    match = _parser(pattern).fullmatch(text.strip())
    if match is None:
        raise ExpressionEvaluationError(f"date {text!r} does not match the pattern {pattern!r}")
    fields = {key: value for key, value in match.groupdict().items() if value is not None}
    year = int(fields.get("year", 1970))
    if len(fields.get("year", "")) == 2:
        year += 2000
    month = int(fields["month"]) if "month" in fields else 1
    if "month_name" in fields:
        month = [name[:3].lower() for name in MONTHS].index(fields["month_name"][:3].lower()) + 1
    hour = int(fields.get("hour", 0))
    if "hour12" in fields:
        hour = int(fields["hour12"]) % 12 + (12 if fields.get("ampm", "AM").upper() == "PM" else 0)
    micro = int(fields.get("fraction", "0").ljust(6, "0")[:6])
    tz = default_zone
    if "offset" in fields:
        tz = parse_offset(fields["offset"])
    elif "zone" in fields:
        tz = zone(fields["zone"])
    try:
        return datetime(
            year, month, int(fields.get("day", 1)), hour % 24, int(fields.get("minute", 0)),
            int(fields.get("second", 0)), micro, tzinfo=tz,
        )  # fmt: skip
    except ValueError as error:
        raise ExpressionEvaluationError(f"date {text!r}: {error}") from None
