"""Missed schedules (`recoverMissedSchedules`) and the trigger state they are computed from.

A schedule misses slots while nothing fires it: the local server was stopped, or the flow or the
trigger was disabled. When firing resumes, the slots after the last fired one and up to now are
missed; `ALL` starts every one of them, `LAST` only the most recent, `NONE` none (the schedule goes
on at its next slot). `lateMaximumDelay` drops the slots older than that delay. A trigger that never
fired has missed nothing.

Trigger state (the last fired slot of each trigger) is the store's trigger state record
(`ExecutionStore.get_trigger_state` / `put_trigger_state`, field `last_date`), written optimistically so
that two writers never move it backwards; its other fields (`disabled`, `values`, ...) are kept.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

from stratoflow.errors import ConflictError
from stratoflow.flow.model import Flow
from stratoflow.flow.triggers import Schedule
from stratoflow.store.base import ExecutionStore, TriggerState
from stratoflow.triggers.backfill import ScheduledStart, starts_of
from stratoflow.triggers.schedules import CronSchedule

_WRITE_ATTEMPTS = 5
# ALL after a long outage of a minutely schedule would start a flood: keep the most recent ones.
MAX_RECOVERED_SLOTS = 1_000


def missed_slots(
    trigger: Schedule, last_fired: datetime | None, now: datetime, *, limit: int = MAX_RECOVERED_SLOTS
) -> list[datetime]:
    """The slots (UTC instants, oldest first) to start now, after `last_fired`, by the trigger's policy."""
    if last_fired is None or trigger.recover_missed_schedules == "NONE":
        return []
    schedule = CronSchedule.of(trigger)
    oldest = last_fired
    if trigger.late_maximum_delay is not None:
        oldest = max(oldest, now - trigger.late_maximum_delay)
    recent: deque[datetime] = deque(maxlen=limit)
    for instant in schedule.fire_times(oldest):
        if instant > now:
            break
        if instant > last_fired:
            recent.append(instant)
    if trigger.recover_missed_schedules == "LAST":
        return list(recent)[-1:]
    return list(recent)


def missed_starts(
    flow: Flow, trigger: Schedule, last_fired: datetime | None, now: datetime
) -> list[ScheduledStart]:
    """The executions to start for the missed slots (none when the flow or the trigger is disabled)."""
    if flow.disabled or trigger.disabled:
        return []
    return starts_of(flow, trigger, missed_slots(trigger, last_fired, now))


def get_last_fired(store: ExecutionStore, namespace: str, flow_id: str, trigger_id: str) -> datetime | None:
    """The last slot the trigger fired (UTC), or None when it never fired."""
    state = store.get_trigger_state(namespace, flow_id, trigger_id)
    return None if state is None or state.last_date is None else _as_utc(state.last_date)


def set_last_fired(
    store: ExecutionStore,
    namespace: str,
    flow_id: str,
    trigger_id: str,
    instant: datetime,
    execution_id: str | None = None,
) -> bool:
    """Record the slot the trigger fired last; False (nothing written) when a later one is recorded."""
    for _ in range(_WRITE_ATTEMPTS):
        state = store.get_trigger_state(namespace, flow_id, trigger_id)
        if state is None:
            state = TriggerState(namespace=namespace, flow_id=flow_id, trigger_id=trigger_id)
        elif state.last_date is not None and _as_utc(state.last_date) >= instant:
            return False
        changed = state.model_copy(update={"last_date": instant, "last_execution_id": execution_id})
        try:
            store.put_trigger_state(changed, expected_version=state.version)
        except ConflictError:  # another writer moved it: read again and compare
            continue
        return True
    raise ConflictError(f"trigger {namespace}.{flow_id}.{trigger_id}: its state keeps changing, try again")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
