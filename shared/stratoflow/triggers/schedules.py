"""When a Schedule trigger fires: cron matches in the trigger's IANA time zone, DST included.

The cron is matched against local wall-clock times, then each match becomes an instant:

* a local time that a DST change skips (02:30 on the night clocks go forward) does not run;
* a local time that happens twice (02:30 on the night clocks go back) runs once, at its first
  occurrence (the earlier instant, still on summer time).

That is what EventBridge Scheduler does with a cron in a time zone, so the laptop and the cloud fire
at the same instants. Instants are handled in UTC inside; `trigger.date` shows them in the zone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import JsonValue

from stratoflow.flow.triggers import Schedule, cron_expression

_MINUTE = timedelta(minutes=1)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Slot:
    """A local wall-clock time the cron matches, and the instant it runs at (None: DST skips it)."""

    local: datetime  # naive, in the schedule's zone
    instant: datetime | None  # aware, UTC
    repeated: bool = False  # DST repeats this local time: it runs once, at the first occurrence

    @property
    def skipped(self) -> bool:
        return self.instant is None


class CronSchedule:
    """A 5-field cron expression (or nickname) evaluated in an IANA time zone."""

    def __init__(self, cron: str, timezone: str = "UTC"):
        self.cron = cron_expression(cron)
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)

    @classmethod
    def of(cls, trigger: Schedule) -> CronSchedule:
        return cls(trigger.cron, trigger.timezone)

    # --- local wall-clock matches -------------------------------------------------------------

    def _walls(self, start: datetime, reverse: bool = False) -> Iterator[datetime]:
        """Naive local times matching the cron, strictly after (before) the naive `start`."""
        from croniter import CroniterBadDateError, croniter

        # croniter runs on UTC, which has no DST: the wall clock is matched as written.
        it = croniter(self.cron, start.replace(tzinfo=UTC))
        step = it.get_prev if reverse else it.get_next
        while True:
            try:
                found = step(datetime)
            except CroniterBadDateError:  # e.g. `0 0 31 2 *`: no such date in croniter's horizon
                return
            yield found.replace(tzinfo=None)

    def slot(self, local: datetime) -> Slot:
        """The instant a matching local wall-clock time runs at."""
        first = local.replace(tzinfo=self.zone, fold=0)  # fold=0: the earlier of two occurrences
        instant = first.astimezone(UTC)
        if instant.astimezone(self.zone).replace(tzinfo=None) != local:
            return Slot(local, None)  # the round trip lands elsewhere: the time does not exist
        repeated = local.replace(tzinfo=self.zone, fold=1).utcoffset() != first.utcoffset()
        return Slot(local, instant, repeated)

    def slots(self, start: datetime) -> Iterator[Slot]:
        """Every match at or after the instant `start`, skipped local times included, in order."""
        begin = _utc(start)
        wall = begin.astimezone(self.zone).replace(tzinfo=None, second=0, microsecond=0)
        for local in self._walls(wall - _MINUTE):
            slot = self.slot(local)
            # Instants grow with the wall clock, but a `start` in the second pass of a repeated
            # hour is later than the first occurrences of the walls just after it.
            if slot.instant is None or slot.instant >= begin:
                yield slot

    # --- instants ------------------------------------------------------------------------------

    def fire_times(self, start: datetime, end: datetime | None = None) -> Iterator[datetime]:
        """Instants (UTC) in [start, end) at which the schedule runs."""
        stop = _utc(end) if end is not None else None
        for slot in self.slots(start):
            if slot.instant is None:
                continue
            if stop is not None and slot.instant >= stop:
                return
            yield slot.instant

    def next_fire(self, after: datetime, inclusive: bool = False) -> datetime | None:
        """The first instant (UTC) after `after` (or at it, when inclusive); None if there is none."""
        begin = _utc(after)
        for instant in self.fire_times(begin):
            if inclusive or instant > begin:
                return instant
        return None

    def previous_fire(self, before: datetime) -> datetime | None:
        """The last instant (UTC) strictly before `before`; None if there is none."""
        end = _utc(before)
        local = end.astimezone(self.zone)
        wall = local.replace(tzinfo=None)
        # When `before` is in the second pass of a repeated hour, the first pass of later wall
        # times is still before it: start the backward walk that much later.
        first_offset = wall.replace(tzinfo=self.zone, fold=0).utcoffset() or timedelta(0)
        shift = max(first_offset - (local.utcoffset() or timedelta(0)), timedelta(0))
        for candidate in self._walls(wall + shift + _MINUTE, reverse=True):
            instant = self.slot(candidate).instant
            if instant is not None and instant < end:
                return instant
        return None

    def local_iso(self, instant: datetime) -> str:
        """An instant as ISO 8601 in the schedule's zone, with its offset (`trigger.date`'s form)."""
        return instant.astimezone(self.zone).isoformat()


def trigger_context(trigger_id: str, schedule: CronSchedule, instant: datetime) -> dict[str, JsonValue]:
    """`trigger.*` for the execution a schedule starts at `instant`."""
    return slot_context(
        trigger_id, schedule, instant, schedule.next_fire(instant), schedule.previous_fire(instant)
    )


def slot_context(
    trigger_id: str,
    schedule: CronSchedule,
    instant: datetime,
    following: datetime | None,
    preceding: datetime | None,
) -> dict[str, JsonValue]:
    """`trigger.*` when the next and previous fire times are known already (a run of slots)."""
    return {
        "type": "schedule",
        "id": trigger_id,
        "date": schedule.local_iso(instant),
        "next": schedule.local_iso(following) if following else None,
        "previous": schedule.local_iso(preceding) if preceding else None,
        "timezone": schedule.timezone,
    }


def schedule_execution_id(namespace: str, flow_id: str, trigger_id: str, instant: datetime) -> str:
    """A 22-character base62 id, the same for every start of one slot (dedupes repeated deliveries)."""
    key = "\x1f".join(("schedule", namespace, flow_id, trigger_id, utc_iso(instant)))
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big")
    chars = []
    for _ in range(22):  # 62**22 > 2**128: every 16-byte digest has its own id
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars))


def utc_iso(instant: datetime) -> str:
    """`2026-03-29T01:00:00Z`: the form EventBridge Scheduler gives `<aws.scheduler.scheduled-time>`."""
    return _utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str, zone: ZoneInfo | str = "UTC") -> datetime:
    """An ISO 8601 date or date-time; without an offset it is a local time in `zone` (UTC result).

    A local time skipped by DST is read as if the clock had not changed (the instant after the gap).
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone) if isinstance(zone, str) else zone)
    return value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()} has no time zone: give instants with an offset")
    return value.astimezone(UTC)
