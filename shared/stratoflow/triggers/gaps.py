"""How long a flow's schedules can leave between two runs: what a "did not run" alarm must wait for.

The gap is measured on real fire times (DST included: a daily 02:30 in Europe/Paris skips a day each
spring, a 48-hour gap), over the union of the schedules, sampled from a start instant over a year,
or over the first `max_fires` fire times for a schedule that fires more often than that (every
minute: about two weeks, so weekly patterns are seen; a pattern that changes by month may not be).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime, timedelta

from stratoflow.triggers.schedules import CronSchedule

SAMPLE_HORIZON = timedelta(days=366)
MAX_FIRES = 20_000


def largest_gap(
    schedules: Sequence[CronSchedule],
    start: datetime,
    *,
    limit: timedelta | None = None,
    horizon: timedelta = SAMPLE_HORIZON,
    max_fires: int = MAX_FIRES,
) -> timedelta | None:
    """The longest time between two consecutive runs of the schedules together; None if they never run.

    Sampling stops as soon as a gap exceeds `limit` (the caller only needs to know that it does).
    """
    end = start + horizon
    previous: datetime | None = None
    largest: timedelta | None = None
    fires = 0
    for instant in heapq.merge(*(schedule.fire_times(start, end) for schedule in schedules)):
        if previous is not None and instant == previous:
            continue  # two schedules firing at one instant start one run
        if previous is not None:
            gap = instant - previous
            largest = gap if largest is None else max(largest, gap)
            if limit is not None and largest > limit:
                return largest
        previous = instant
        fires += 1
        if fires >= max_fires:
            return largest
    # The gap that runs past the sample: from its last run (or its start) to the next run after it.
    following = [fire for schedule in schedules if (fire := schedule.next_fire(previous or end)) is not None]
    if not following:
        return largest
    gap = min(following) - (previous or start)
    return gap if largest is None else max(largest, gap)
