"""Fire times in the trigger's time zone across DST changes, `trigger.*`, and execution ids.

EventBridge Scheduler evaluates a cron in the schedule's time zone; its user guide ("Time zones on
EventBridge Scheduler") says that when clocks go forward, an invocation on a time that does not exist
is skipped, and when they go back, the schedule "runs only once and does not repeat its invocation".
These tables encode exactly that for the local engine: skipped local times do not run, a repeated
local time runs once, at its first occurrence (the earlier instant).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stratoflow.triggers import CronSchedule, parse_instant, schedule_execution_id, trigger_context, utc_iso


def _day(cron: str, zone: str, day: str) -> list[str]:
    """Local fire times (HH:MM±hh:mm) within one local calendar day."""
    schedule = CronSchedule(cron, zone)
    start = parse_instant(day, zone)
    end = parse_instant((datetime.fromisoformat(day) + timedelta(days=1)).date().isoformat(), zone)
    return [
        schedule.local_iso(instant)[11:16] + schedule.local_iso(instant)[19:]
        for instant in schedule.fire_times(start, end)
    ]


PARIS, NEW_YORK = "Europe/Paris", "America/New_York"
EVERY_HOUR_SPRING = [f"{h:02d}:00+01:00" for h in (0, 1)] + [f"{h:02d}:00+02:00" for h in range(3, 24)]
EVERY_HOUR_FALL = [f"{h:02d}:00+02:00" for h in (0, 1, 2)] + [f"{h:02d}:00+01:00" for h in range(3, 24)]
NY_EVERY_HOUR_SPRING = [f"{h:02d}:00-05:00" for h in (0, 1)] + [f"{h:02d}:00-04:00" for h in range(3, 24)]
NY_EVERY_HOUR_FALL = [f"{h:02d}:00-04:00" for h in (0, 1)] + [f"{h:02d}:00-05:00" for h in range(2, 24)]
QUARTERS = ("00", "15", "30", "45")

DST_TABLE = [
    # Paris, clocks forward on 2026-03-29 at 02:00 -> 03:00: 02:xx does not exist.
    ("30 2 * * *", PARIS, "2026-03-28", ["02:30+01:00"]),
    ("30 2 * * *", PARIS, "2026-03-29", []),
    ("30 2 * * *", PARIS, "2026-03-30", ["02:30+02:00"]),
    ("0 * * * *", PARIS, "2026-03-29", EVERY_HOUR_SPRING),
    ("@hourly", PARIS, "2026-03-29", EVERY_HOUR_SPRING),
    (
        "*/15 1-3 * * *",
        PARIS,
        "2026-03-29",
        [f"01:{q}+01:00" for q in QUARTERS] + [f"03:{q}+02:00" for q in QUARTERS],
    ),
    ("@daily", PARIS, "2026-03-29", ["00:00+01:00"]),
    # Paris, clocks back on 2026-10-25 at 03:00 -> 02:00: 02:xx happens twice and runs once (summer time).
    ("30 2 * * *", PARIS, "2026-10-25", ["02:30+02:00"]),
    ("0 * * * *", PARIS, "2026-10-25", EVERY_HOUR_FALL),
    (
        "*/15 1-3 * * *",
        PARIS,
        "2026-10-25",
        [f"01:{q}+02:00" for q in QUARTERS]
        + [f"02:{q}+02:00" for q in QUARTERS]
        + [f"03:{q}+01:00" for q in QUARTERS],
    ),
    ("@midnight", PARIS, "2026-10-25", ["00:00+02:00"]),
    # New York, clocks forward on 2026-03-08 at 02:00 -> 03:00.
    ("30 2 * * *", NEW_YORK, "2026-03-08", []),
    ("0 * * * *", NEW_YORK, "2026-03-08", NY_EVERY_HOUR_SPRING),
    (
        "*/15 1-3 * * *",
        NEW_YORK,
        "2026-03-08",
        [f"01:{q}-05:00" for q in QUARTERS] + [f"03:{q}-04:00" for q in QUARTERS],
    ),
    # New York, clocks back on 2026-11-01 at 02:00 -> 01:00: 01:xx happens twice and runs once.
    ("30 2 * * *", NEW_YORK, "2026-11-01", ["02:30-05:00"]),
    ("30 1 * * *", NEW_YORK, "2026-11-01", ["01:30-04:00"]),
    ("0 * * * *", NEW_YORK, "2026-11-01", NY_EVERY_HOUR_FALL),
    (
        "*/15 1-3 * * *",
        NEW_YORK,
        "2026-11-01",
        [f"01:{q}-04:00" for q in QUARTERS] + [f"{h}:{q}-05:00" for h in ("02", "03") for q in QUARTERS],
    ),
    ("@weekly", NEW_YORK, "2026-11-01", ["00:00-04:00"]),  # a Sunday
]


@pytest.mark.parametrize(
    ("cron", "zone", "day", "expected"), DST_TABLE, ids=[f"{c}@{z}:{d}" for c, z, d, _ in DST_TABLE]
)
def test_fire_times_on_dst_days(cron: str, zone: str, day: str, expected: list[str]) -> None:
    assert _day(cron, zone, day) == expected


def test_a_repeated_local_time_runs_at_its_first_instant_only() -> None:
    # Given 02:30 in Paris on the night clocks go back (00:30Z summer time, 01:30Z winter time)
    schedule = CronSchedule("30 2 * * *", PARIS)

    # When listing fire times from just before the first occurrence
    fires = list(
        schedule.fire_times(
            datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 26, 0, 0, tzinfo=UTC)
        )
    )

    # Then only the first occurrence runs, and the slot is marked repeated
    assert [utc_iso(f) for f in fires] == ["2026-10-25T00:30:00Z"]
    assert schedule.slot(datetime(2026, 10, 25, 2, 30)).repeated
    assert schedule.slot(datetime(2026, 3, 29, 2, 30)).skipped


def test_starting_inside_the_second_pass_of_a_repeated_hour_does_not_go_back_in_time() -> None:
    # Given 02:30 CET on 2026-10-25, the second time the clock shows 02:30 (01:30Z)
    schedule = CronSchedule("*/15 1-3 * * *", PARIS)
    second_pass = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)

    # Then the next fire is 03:00 CET (the 02:45 of the first pass is already past) ...
    assert schedule.local_iso(schedule.next_fire(second_pass)) == "2026-10-25T03:00:00+01:00"  # type: ignore[arg-type]
    # ... and the previous one is 02:45 CEST, later on the wall clock but earlier in time
    assert schedule.local_iso(schedule.previous_fire(second_pass)) == "2026-10-25T02:45:00+02:00"  # type: ignore[arg-type]


def test_next_and_previous_cross_the_skipped_night() -> None:
    schedule = CronSchedule("30 2 * * *", PARIS)
    slot = parse_instant("2026-03-30T02:30", PARIS)
    assert schedule.local_iso(schedule.previous_fire(slot)) == "2026-03-28T02:30:00+01:00"  # type: ignore[arg-type]
    assert schedule.local_iso(schedule.next_fire(slot)) == "2026-03-31T02:30:00+02:00"  # type: ignore[arg-type]
    assert schedule.next_fire(slot, inclusive=True) == slot


def test_a_cron_that_never_matches_has_no_fire_time() -> None:
    schedule = CronSchedule("0 0 31 2 *", "UTC")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert schedule.next_fire(start) is None
    assert schedule.previous_fire(start) is None
    assert list(schedule.fire_times(start)) == []


def test_instants_need_an_offset() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        CronSchedule("0 0 * * *").next_fire(datetime(2026, 1, 1))


# --- trigger.* ---------------------------------------------------------------------------------------


def test_trigger_context_is_the_slot_with_its_neighbours_in_the_trigger_zone() -> None:
    # Given the Paris 02:30 slot after the skipped night
    schedule = CronSchedule("30 2 * * *", PARIS)
    slot = parse_instant("2026-03-30T00:30:00Z")

    # When
    context = trigger_context("nightly", schedule, slot)

    # Then the date is the scheduled instant (not a run time), with the zone's offset
    assert context == {
        "type": "schedule",
        "id": "nightly",
        "date": "2026-03-30T02:30:00+02:00",
        "next": "2026-03-31T02:30:00+02:00",
        "previous": "2026-03-28T02:30:00+01:00",
        "timezone": PARIS,
    }


# --- parsing and ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-03-29", PARIS, "2026-03-28T23:00:00Z"),  # local midnight
        ("2026-03-29T03:00", PARIS, "2026-03-29T01:00:00Z"),
        ("2026-03-29T02:30", PARIS, "2026-03-29T01:30:00Z"),  # skipped: read as if the clock had not moved
        ("2026-03-29T02:30+01:00", NEW_YORK, "2026-03-29T01:30:00Z"),  # an offset wins over the zone
        ("2026-03-29T01:30:00Z", PARIS, "2026-03-29T01:30:00Z"),
    ],
)
def test_parse_instant(text: str, zone: str, expected: str) -> None:
    assert utc_iso(parse_instant(text, zone)) == expected


def test_execution_ids_are_deterministic_per_slot_and_distinct_between_slots() -> None:
    # Given one instant written in two zones
    instant = datetime(2026, 3, 30, 0, 30, tzinfo=UTC)
    same_instant = instant.astimezone(ZoneInfo(PARIS))

    # Then the id is the same, 22 base62 characters (a valid Step Functions execution name)
    first = schedule_execution_id("team", "etl", "nightly", instant)
    assert first == schedule_execution_id("team", "etl", "nightly", same_instant)
    assert len(first) == 22 and first.isalnum()
    # And every part of the slot's identity changes it
    others = {
        schedule_execution_id("team2", "etl", "nightly", instant),
        schedule_execution_id("team", "etl2", "nightly", instant),
        schedule_execution_id("team", "etl", "other", instant),
        schedule_execution_id("team", "etl", "nightly", instant + timedelta(minutes=1)),
        # separators cannot be forged by moving characters between parts
        schedule_execution_id("team.etl", "", "nightly", instant),
    }
    assert first not in others and len(others) == 5
