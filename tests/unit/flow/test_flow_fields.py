"""Shared building blocks: ISO-8601 durations, suggestions, labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stratoflow.flow.fields import (
    did_you_mean,
    format_iso_duration,
    hint,
    normalize_labels,
    parse_iso_duration,
)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("PT30S", timedelta(seconds=30)),
        ("PT5M", timedelta(minutes=5)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1D", timedelta(days=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("PT1,5S", timedelta(milliseconds=1500)),
        ("pt10m", timedelta(minutes=10)),
        ("-PT1M", timedelta(minutes=-1)),
        ("PT0S", timedelta(0)),
    ],
)
def test_parse_iso_duration(text: str, delta: timedelta) -> None:
    assert parse_iso_duration(text) == delta


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("5m", "not an ISO-8601 duration"),
        ("P", "not an ISO-8601 duration"),
        ("PT", "not an ISO-8601 duration"),
        ("P1DT", "not an ISO-8601 duration"),
        ("PT1H2H", "not an ISO-8601 duration"),
        ("P1Y", "years or months"),
        ("P3M", "years or months"),
        ("", "not an ISO-8601 duration"),
    ],
)
def test_invalid_durations(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_iso_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(days=2), "PT48H"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(minutes=-90), "-PT1H30M"),
    ],
)
def test_format_iso_duration_like_java(delta: timedelta, text: str) -> None:
    assert format_iso_duration(delta) == text


@given(st.timedeltas(min_value=timedelta(days=-999), max_value=timedelta(days=999)))
def test_duration_text_round_trips(delta: timedelta) -> None:
    assert parse_iso_duration(format_iso_duration(delta)) == delta


def test_did_you_mean() -> None:
    assert did_you_mean("mesage", ["message", "level"]) == "message"
    assert did_you_mean("LEVEL", ["message", "level"]) == "level"
    assert did_you_mean("zzz", ["message", "level"]) is None
    assert hint("levl", ["level"]) == " (did you mean level?)"
    assert hint("level", ["level"]) == ""


def test_labels_normalisation() -> None:
    assert normalize_labels(None) == {}
    assert normalize_labels({"a": 1, "b": False, "c": "x"}) == {"a": "1", "b": "false", "c": "x"}
    assert normalize_labels([{"key": "a", "value": 2.5}]) == {"a": "2.5"}


@pytest.mark.parametrize(
    ("typo", "choices", "expected"),
    [
        ("Lgo", ["Log", "Labels"], "Log"),
        ("fromat", ["format", "level"], "format"),
        ("extra", ["retry", "errors", "inputs"], None),
        ("allow_failur", ["allowFailure", "runIf"], "allowFailure"),
        ("regoin", ["region"], "region"),
        ("x", ["y", "z"], None),
        ("ID", ["id"], "id"),
        ("abc", [], None),
    ],
)
def test_suggestions_tolerate_short_typos_only(typo: str, choices: list[str], expected: str | None) -> None:
    assert did_you_mean(typo, choices) == expected
