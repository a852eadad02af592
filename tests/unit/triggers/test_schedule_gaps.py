"""The longest time a flow's schedules leave between two runs (what a "did not run" alarm waits for)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stratoflow.triggers.gaps import largest_gap
from stratoflow.triggers.schedules import CronSchedule

MONDAY = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def test_an_hourly_schedule_leaves_an_hour() -> None:
    assert largest_gap([CronSchedule("0 * * * *")], MONDAY, horizon=timedelta(days=10)) == timedelta(hours=1)


def test_a_weekday_schedule_leaves_the_weekend() -> None:
    # Given a schedule at 09:00 on weekdays
    schedule = CronSchedule("0 9 * * 1-5")

    # When its largest gap is measured from a Monday
    gap = largest_gap([schedule], MONDAY)

    # Then it is Friday 09:00 to Monday 09:00
    assert gap == timedelta(days=3)


def test_several_schedules_count_together_and_shared_instants_once() -> None:
    # Given one schedule at 09:00 daily and another at 21:00 and 09:00 daily
    schedules = [CronSchedule("0 9 * * *"), CronSchedule("0 9,21 * * *")]

    # When their largest gap is measured
    gap = largest_gap(schedules, MONDAY)

    # Then the union runs every 12 hours
    assert gap == timedelta(hours=12)


def test_a_daylight_saving_change_that_skips_a_run_is_a_longer_gap() -> None:
    # Given 02:30 daily in Paris, a time that does not exist on the night clocks go forward
    schedule = CronSchedule("30 2 * * *", "Europe/Paris")

    # When the sample covers that night (29 March 2026)
    gap = largest_gap([schedule], datetime(2026, 3, 20, tzinfo=UTC), horizon=timedelta(days=20))

    # Then the skipped day makes a gap of two days less the lost hour
    assert gap == timedelta(hours=47)


def test_a_gap_past_the_end_of_the_sample_counts() -> None:
    # Given a yearly schedule, sampled over 30 days
    schedule = CronSchedule("0 0 1 1 *")

    # When its largest gap is measured
    gap = largest_gap([schedule], MONDAY, horizon=timedelta(days=30))

    # Then it runs from the sample's start to its next run, at least
    assert gap is not None and gap >= timedelta(days=300)


def test_sampling_stops_at_the_first_gap_over_the_limit() -> None:
    # Given a monthly schedule and a limit of a week
    schedule = CronSchedule("0 0 1 * *")

    # When its largest gap is measured
    gap = largest_gap([schedule], MONDAY, limit=timedelta(days=7))

    # Then the first month is enough to know it exceeds the limit
    assert gap is not None and gap > timedelta(days=7)


def test_a_dense_schedule_is_sampled_up_to_its_maximum_of_fires() -> None:
    # Given a schedule every minute on weekdays, sampled on 2,000 fires from a Monday noon
    schedule = CronSchedule("* * * * 1-5")

    # When its largest gap is measured, the sample (~1.4 days) misses the weekend ...
    short = largest_gap([schedule], MONDAY, max_fires=2_000)
    # ... and a sample of two weeks' fires sees it
    full = largest_gap([schedule], datetime(2026, 1, 9, 12, 0, tzinfo=UTC), max_fires=1_000)

    # Then the gaps are a minute, and the weekend
    assert short == timedelta(minutes=1)
    assert full == timedelta(days=2, minutes=1)


def test_a_schedule_that_never_runs_has_no_gap() -> None:
    assert largest_gap([CronSchedule("0 0 30 2 *")], MONDAY, horizon=timedelta(days=30)) is None
