"""Backfill planning, missed schedules (recoverMissedSchedules) and the trigger state they use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stratoflow.execution.admission import FlowDisabledError, admit
from stratoflow.flow import Flow, load_flow
from stratoflow.store import SqliteExecutionStore, TriggerState
from stratoflow.triggers import (
    ScheduleError,
    TriggerDisabledError,
    get_last_fired,
    missed_slots,
    missed_starts,
    parse_instant,
    plan_backfill,
    schedule_trigger,
    set_last_fired,
    utc_iso,
)

FLOW = """\
id: report
namespace: team
disabled: {disabled}
inputs:
  - {{id: scope, type: STRING, defaults: all}}
tasks: [{{id: t, type: Log, message: "{{{{ trigger.date }}}}"}}]
triggers:
  - id: nightly
    type: Schedule
    cron: "30 2 * * *"
    timezone: Europe/Paris
    disabled: {trigger_disabled}
    recoverMissedSchedules: {recover}
    inputs: {{scope: nightly}}
    labels: {{source: schedule}}
  - {{id: hook, type: Webhook, key: k-0123456789abcdef}}
"""


def flow(
    disabled: bool = False, trigger_disabled: bool = False, recover: str = "ALL", extra: str = ""
) -> Flow:
    text = FLOW.format(
        disabled=str(disabled).lower(), trigger_disabled=str(trigger_disabled).lower(), recover=recover
    )
    return load_flow(text + extra)


def paris(text: str) -> datetime:
    return parse_instant(text, "Europe/Paris")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteExecutionStore]:
    store = SqliteExecutionStore(tmp_path / "stratoflow.db")
    yield store
    store.close()


# --- plan_backfill -----------------------------------------------------------------------------------


def test_backfill_plans_one_start_per_slot_in_the_half_open_range() -> None:
    # When backfilling 27 to 31 March (the 29th has no 02:30 in Paris)
    plan = plan_backfill(flow(), "nightly", paris("2026-03-27"), paris("2026-03-31T02:30"))

    # Then the 31st at 02:30 is excluded (T2 is exclusive) and the skipped night is not a slot
    assert [start.trigger["date"] for start in plan] == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-30T02:30:00+02:00",
    ]
    # And neighbours are each other's next / previous, the first one's previous computed from the cron
    assert [(s.trigger["previous"], s.trigger["next"]) for s in plan] == [
        ("2026-03-26T02:30:00+01:00", "2026-03-28T02:30:00+01:00"),
        ("2026-03-27T02:30:00+01:00", "2026-03-30T02:30:00+02:00"),
        ("2026-03-28T02:30:00+01:00", "2026-03-31T02:30:00+02:00"),
    ]
    # And each start carries the trigger's inputs and labels and a distinct deterministic id
    assert {(str(s.inputs), str(s.labels)) for s in plan} == {
        ("{'scope': 'nightly'}", "{'source': 'schedule'}")
    }
    assert len({s.execution_id for s in plan}) == 3
    assert [s.execution_id for s in plan] == [
        s.execution_id
        for s in plan_backfill(flow(), "nightly", paris("2026-03-27"), paris("2026-03-31T02:30"))
    ]


def test_a_backfilled_slot_is_admitted_once_however_often_it_is_planned(store: SqliteExecutionStore) -> None:
    # Given a plan admitted once
    subject = flow()
    plan = plan_backfill(subject, "nightly", paris("2026-03-27"), paris("2026-03-29"))
    first = [admit(store, subject, 1, **start.admission_kwargs()) for start in plan]

    # When the same range is planned and admitted again, overlapping a new day
    again = plan_backfill(subject, "nightly", paris("2026-03-26"), paris("2026-03-29"))
    second = [admit(store, subject, 1, **start.admission_kwargs()) for start in again]

    # Then only the new day is a new execution, and trigger.date is recorded on each
    assert [new for _, new in first] == [True, True]
    assert [new for _, new in second] == [True, False, False]
    execution = first[0][0]
    assert execution.trigger is not None and execution.trigger["date"] == "2026-03-27T02:30:00+01:00"
    assert execution.inputs == {"scope": "nightly"}
    assert execution.labels["source"] == "schedule"


@pytest.mark.parametrize(
    ("subject", "error", "message"),
    [
        (flow(disabled=True), FlowDisabledError, "flow team.report is disabled"),
        (
            flow(trigger_disabled=True),
            TriggerDisabledError,
            "trigger 'nightly' of flow team.report is disabled",
        ),
    ],
)
def test_a_disabled_flow_or_trigger_is_refused(subject: Flow, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        plan_backfill(subject, "nightly", paris("2026-03-27"), paris("2026-03-29"))


def test_the_trigger_must_be_a_schedule_of_the_flow() -> None:
    with pytest.raises(ScheduleError, match=r"no trigger 'nope' \(its Schedule triggers: nightly\)"):
        schedule_trigger(flow(), "nope")
    with pytest.raises(ScheduleError, match=r"'hook' of flow team\.report is a Webhook trigger"):
        schedule_trigger(flow(), "hook")
    # Without an id, the only Schedule is used; with two, the user must choose
    assert schedule_trigger(flow()).id == "nightly"
    two = flow(extra='  - {id: hourly, type: Schedule, cron: "@hourly"}\n')
    with pytest.raises(ScheduleError, match=r"several Schedule triggers \(nightly, hourly\)"):
        schedule_trigger(two)


def test_an_empty_or_oversized_range_is_refused() -> None:
    with pytest.raises(ScheduleError, match="range is empty"):
        plan_backfill(flow(), "nightly", paris("2026-03-29"), paris("2026-03-29"))
    with pytest.raises(ScheduleError, match="more than 2 slots"):
        plan_backfill(flow(), "nightly", paris("2026-03-01"), paris("2026-03-10"), limit=2)


# --- missed schedules ---------------------------------------------------------------------------------

HOURLY = '  - {{id: hourly, type: Schedule, cron: "0 * * * *", recoverMissedSchedules: {recover}{late}}}\n'


def hourly(recover: str, late: str = "") -> Flow:
    return flow(extra=HOURLY.format(recover=recover, late=f", lateMaximumDelay: {late}" if late else ""))


LAST_FIRED = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 1, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("recover", "late", "expected"),
    [
        ("ALL", "", ["08:00", "09:00", "10:00"]),
        ("LAST", "", ["10:00"]),
        ("NONE", "", []),
        ("ALL", "PT2H", ["09:00", "10:00"]),  # 08:00 is later than lateMaximumDelay allows
    ],
)
def test_missed_slots_follow_the_recovery_policy(recover: str, late: str, expected: list[str]) -> None:
    trigger = schedule_trigger(hourly(recover, late), "hourly")
    assert [utc_iso(s)[11:16] for s in missed_slots(trigger, LAST_FIRED, NOW)] == expected


def test_nothing_is_missed_by_a_trigger_that_never_fired_or_fired_last_slot() -> None:
    trigger = schedule_trigger(hourly("ALL"), "hourly")
    assert missed_slots(trigger, None, NOW) == []
    assert missed_slots(trigger, datetime(2026, 1, 1, 10, 0, tzinfo=UTC), NOW) == []
    # A slot exactly at `now` is due
    assert missed_slots(trigger, LAST_FIRED, datetime(2026, 1, 1, 8, 0, tzinfo=UTC)) == [
        datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    ]


def test_all_keeps_the_most_recent_slots_after_a_long_outage() -> None:
    trigger = schedule_trigger(hourly("ALL"), "hourly")
    slots = missed_slots(trigger, LAST_FIRED - timedelta(days=30), NOW, limit=5)
    assert [utc_iso(s)[11:16] for s in slots] == ["06:00", "07:00", "08:00", "09:00", "10:00"]


def test_missed_starts_are_ready_for_admission_and_nothing_for_a_disabled_flow() -> None:
    subject = hourly("LAST")
    trigger = schedule_trigger(subject, "hourly")
    (start,) = missed_starts(subject, trigger, LAST_FIRED, NOW)
    assert start.trigger["date"] == "2026-01-01T10:00:00+00:00"  # no timezone given: UTC
    # The recovered start is the very execution a backfill (or the cloud schedule) of that slot makes
    (backfilled,) = plan_backfill(subject, "hourly", NOW - timedelta(minutes=30), NOW)
    assert start.execution_id == backfilled.execution_id
    assert missed_starts(hourly("LAST").model_copy(update={"disabled": True}), trigger, LAST_FIRED, NOW) == []


# --- trigger state -------------------------------------------------------------------------------------


def test_the_last_fired_slot_is_kept_in_the_store_and_only_moves_forward(store: SqliteExecutionStore) -> None:
    # Given a trigger state another part wrote (disabled by stopAfter, with values)
    store.put_trigger_state(
        TriggerState(namespace="team", flow_id="report", trigger_id="nightly", disabled=True, values={"k": 1})
    )
    assert get_last_fired(store, "team", "report", "nightly") is None

    # When a slot is recorded, then an older one
    later, older = paris("2026-03-30T02:30"), paris("2026-03-28T02:30")
    assert set_last_fired(store, "team", "report", "nightly", later, "exec-1") is True
    assert set_last_fired(store, "team", "report", "nightly", older) is False

    # Then the later one stays, and the other fields are kept
    assert get_last_fired(store, "team", "report", "nightly") == later
    state = store.get_trigger_state("team", "report", "nightly")
    assert state is not None
    assert (state.disabled, state.values, state.last_execution_id) == (True, {"k": 1}, "exec-1")
    assert get_last_fired(store, "team", "report", "other") is None


def test_a_schedules_inputs_are_rendered_with_the_slots_trigger_variables() -> None:
    # Given a schedule whose input uses trigger.date, as Kestra flows often do
    subject = load_flow(
        FLOW.format(disabled="false", trigger_disabled="false", recover="ALL").replace(
            "inputs: {scope: nightly}", "inputs: {scope: \"day {{ trigger.date | date('yyyy-MM-dd') }}\"}"
        )
    )
    # When its slots are planned (backfill, recovery and the local server all plan this way)
    starts = plan_backfill(subject, "nightly", paris("2026-04-01T00:00"), paris("2026-04-03T00:00"))
    # Then each start's input carries its own slot's date
    assert [s.inputs["scope"] for s in starts] == ["day 2026-04-01", "day 2026-04-02"]


def test_the_cloud_admission_renders_a_schedule_delivery_inputs_and_names_a_broken_one() -> None:
    from stratoflow.cloud.runtime.starter import render_trigger_variables
    from stratoflow.errors import InputError

    subject = flow()
    trigger = {"type": "schedule", "id": "nightly", "date": "2026-03-29T02:30:00+02:00"}
    rendered = render_trigger_variables(subject, "nightly", {"scope": "{{ trigger.date }}"}, trigger)
    assert rendered == {"scope": "2026-03-29T02:30:00+02:00"}
    with pytest.raises(InputError, match="scope"):
        render_trigger_variables(subject, "nightly", {"scope": "{{ trigger.nope }}"}, trigger)
