"""Dates: Java patterns, time zones, `now()`, `dateAdd`, `timestamp`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from stratoflow.expressions import ExpressionEvaluationError, render_string
from stratoflow.expressions.javatime import format_datetime, parse_datetime, tokenize

MOMENT = "2024-03-05T07:04:09.123456Z"


def _format(pattern: str, time_zone: str = "UTC", value: Any = MOMENT) -> Any:
    return render_string("{{ d | date(p, timeZone=tz) }}", {"d": value, "p": pattern, "tz": time_zone})


@pytest.mark.parametrize(
    ("pattern", "time_zone", "expected"),
    [
        ("yyyy-MM-dd", "UTC", "2024-03-05"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "UTC", "2024-03-05T07:04:09.123Z"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "America/New_York", "2024-03-05T02:04:09.123-05:00"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "Europe/Paris", "2024-03-05T08:04:09.123+01:00"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "Asia/Kolkata", "2024-03-05T12:34:09.123+05:30"),
        ("yy M d H", "UTC", "24 3 5 7"),
        ("hh:mm a", "Asia/Kolkata", "12:34 PM"),
        ("h:mm a", "America/New_York", "2:04 AM"),
        ("MMM MMMM", "UTC", "Mar March"),
        ("EEE EEEE", "UTC", "Tue Tuesday"),
        ("Z", "America/New_York", "-0500"),
        ("Z", "UTC", "+0000"),
        ("X", "UTC", "Z"),
        ("X", "Europe/Paris", "+01"),
        ("X", "Asia/Kolkata", "+0530"),
        ("XXX", "Asia/Kolkata", "+05:30"),
        ("z", "Europe/Paris", "CET"),
        ("z", "America/New_York", "EST"),
        ("VV", "Europe/Paris", "Europe/Paris"),
        ("SSS SSSSSS SSSSSSSSS", "UTC", "123 123456 123456000"),
        ("'Day' D 'of' yyyy", "UTC", "Day 65 of 2024"),
        ("''yyyy'' 'o''clock'", "UTC", "'2024' o'clock"),
        ("dd/MM/yyyy [HH:mm]", "UTC", "05/03/2024 07:04"),
    ],
)
def test_java_patterns_in_time_zones(pattern: str, time_zone: str, expected: str) -> None:
    assert _format(pattern, time_zone) == expected


def test_summer_time_changes_the_offset() -> None:
    assert _format("HH:mm XXX z", "Europe/Paris", "2024-07-01T12:00:00Z") == "14:00 +02:00 CEST"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 3, 5, 7, 4, 9, tzinfo=UTC), "2024-03-05 07:04:09"),
        (datetime(2024, 3, 5, 7, 4, 9), "2024-03-05 07:04:09"),
        (date(2024, 3, 5), "2024-03-05 00:00:00"),
        ("2024-03-05", "2024-03-05 00:00:00"),
        ("2024-03-05T08:04:09+01:00", "2024-03-05 07:04:09"),
        ("2024-03-05T08:04:09.123456789+01:00[Europe/Paris]", "2024-03-05 07:04:09"),
        (1709622249, "2024-03-05 07:04:09"),
    ],
)
def test_dates_are_read_from_many_forms(value: Any, expected: str) -> None:
    assert _format("yyyy-MM-dd HH:mm:ss", "UTC", value) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("iso", "2024-03-05T07:04:09.123456Z"),
        ("iso_date", "2024-03-05"),
        ("sql", "2024-03-05 07:04:09.123456"),
        ("iso_zoned_date_time", "2024-03-05T07:04:09.123456Z[UTC]"),
        ("rfc_1123_date_time", "Tue, 5 Mar 2024 07:04:09 GMT"),
    ],
)
def test_named_formats(name: str, expected: str) -> None:
    assert _format(name) == expected


def test_the_default_format_is_iso_with_microseconds() -> None:
    assert render_string("{{ d | date }}", {"d": MOMENT}) == "2024-03-05T07:04:09.123456Z"


def test_existing_format_parses_the_input() -> None:
    template = (
        "{{ d | date('yyyy-MM-dd HH:mm', existingFormat='dd MMM yyyy h:mm a', timeZone='Europe/Paris') }}"
    )
    assert render_string(template, {"d": "05 Mar 2024 3:15 PM"}) == "2024-03-05 15:15"


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("20240305", "yyyyMMdd", datetime(2024, 3, 5, tzinfo=UTC)),
        ("5/3/24 07:04:09.5", "d/M/yy HH:mm:ss.S", datetime(2024, 3, 5, 7, 4, 9, 500000, tzinfo=UTC)),
        ("2024-03-05T10:00+05:30", "yyyy-MM-dd'T'HH:mmXXX", datetime(2024, 3, 5, 4, 30, tzinfo=UTC)),
        ("March 5, 2024 Europe/Paris", "MMMM d, yyyy VV", datetime(2024, 3, 4, 23, tzinfo=UTC)),
    ],
)
def test_parse_datetime(text: str, pattern: str, expected: datetime) -> None:
    assert parse_datetime(text, pattern, UTC) == expected


def test_format_datetime_with_a_fixed_offset() -> None:
    moment = datetime(2024, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
    assert format_datetime(moment, "HH:mm XXX xx") == "09:00 -03:30 -0330"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("yyyy-bb", "unsupported letter 'b'"), ("'open", "unterminated quote"), ("yyyy#", "reserved character")],
)
def test_bad_patterns_are_clear_errors(pattern: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match=message):
        tokenize(pattern)


def test_now_is_an_aware_datetime_in_utc_or_the_given_zone() -> None:
    # Given
    before = datetime.now(UTC)
    # When
    in_utc = render_string("{{ now() | date('iso') }}", {})
    in_tokyo = render_string("{{ now(timeZone='Asia/Tokyo') | date('XXX VV') }}", {})
    native = render_string("{{ now() }}", {})
    after = datetime.now(UTC)
    # Then
    assert before <= datetime.fromisoformat(in_utc) <= after
    assert in_tokyo == "+09:00 Asia/Tokyo"
    assert before <= datetime.fromisoformat(native) <= after


@pytest.mark.parametrize(
    ("amount", "unit", "time_zone", "expected"),
    [
        (1, "DAYS", "UTC", "2024-03-11T01:30:00Z"),
        (-1, "days", "UTC", "2024-03-09T01:30:00Z"),
        (2, "WEEKS", "UTC", "2024-03-24T01:30:00Z"),
        (90, "MINUTES", "UTC", "2024-03-10T03:00:00Z"),
        (30, "SECONDS", "UTC", "2024-03-10T01:30:30Z"),
        (1, "YEARS", "UTC", "2025-03-10T01:30:00Z"),
        # A day keeps the local time across the DST change, an hour moves the instant.
        (1, "DAYS", "America/New_York", "2024-03-10T20:30:00-04:00"),
        (1, "HOURS", "America/New_York", "2024-03-09T21:30:00-05:00"),
        (6, "HOURS", "America/New_York", "2024-03-10T03:30:00-04:00"),
    ],
)
def test_date_add(amount: int, unit: str, time_zone: str, expected: str) -> None:
    context = {"d": "2024-03-10T01:30:00Z", "n": amount, "u": unit, "tz": time_zone}
    assert render_string("{{ d | dateAdd(n, u, timeZone=tz) }}", context) == expected


def test_date_add_clamps_to_the_end_of_month() -> None:
    assert render_string("{{ '2024-01-31' | dateAdd(1, 'MONTHS') | date('yyyy-MM-dd') }}", {}) == "2024-02-29"
    assert (
        render_string("{{ '2024-03-31' | dateAdd(-13, 'MONTHS') | date('yyyy-MM-dd') }}", {}) == "2023-02-28"
    )


def test_date_add_moves_a_time_in_a_dst_gap_forward() -> None:
    # Given 02:30 on 9 March in New York: the next day 02:30 does not exist
    moment = datetime(2024, 3, 9, 2, 30, tzinfo=ZoneInfo("America/New_York"))
    # Then
    assert render_string("{{ d | dateAdd(1, 'DAYS') }}", {"d": moment}) == "2024-03-10T03:30:00-04:00"


def test_date_add_refuses_unknown_units_and_fractions() -> None:
    with pytest.raises(ExpressionEvaluationError, match="unknown unit 'FORTNIGHTS'"):
        render_string("{{ now() | dateAdd(1, 'FORTNIGHTS') }}", {})
    with pytest.raises(ExpressionEvaluationError, match="amount must be an integer"):
        render_string("{{ now() | dateAdd(1.5, 'DAYS') }}", {})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ '2024-03-05T07:04:09Z' | timestamp }}", 1709622249),
        ("{{ '2024-03-05T08:04:09+01:00' | timestamp }}", 1709622249),
        ("{{ '2024-03-05T07:04:09.5Z' | timestampMilli }}", 1709622249500),
        ("{{ '2024-03-05T07:04:09.000001Z' | timestampMicro }}", 1709622249000001),
        ("{{ '1970-01-01T00:00:01Z' | timestampNano }}", 1_000_000_000),
        ("{{ '2024-03-05 08:04:09' | timestamp(timeZone='Europe/Paris') }}", 1709622249),
    ],
)
def test_timestamps(template: str, expected: int) -> None:
    assert render_string(template, {}) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'yesterday' | date('yyyy') }}", "'yesterday' is not an ISO-8601 date"),
        ("{{ now() | date('yyyy', timeZone='Mars/Olympus') }}", "unknown time zone 'Mars/Olympus'"),
        ("{{ '2024' | date('yyyy', existingFormat='dd/MM') }}", "does not match the pattern"),
        ("{{ none | date('yyyy') }}", "a date is needed, got null"),
    ],
)
def test_date_errors(template: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError, match=message):
        render_string(template, {})
