"""A Schedule's conditions (Kestra's calendar conditions): validated where they are written, checked on
each slot at admission, so a slot they reject starts nothing wherever it was fired from."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stratoflow.execution.admission import admit
from stratoflow.execution.deliveries import TriggerSkipped
from stratoflow.flow import Flow, load_flow, validate_text
from stratoflow.local.deploy import deploy_flow
from stratoflow.store import SqliteExecutionStore
from stratoflow.triggers.backfill import plan_backfill


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteExecutionStore]:
    with SqliteExecutionStore(tmp_path / "stratoflow.db") as store:
        yield store


def flow_with(conditions: str, cron: str = "0 11 * * *", timezone: str = "Europe/Paris") -> str:
    return textwrap.dedent(
        f"""\
        id: report
        namespace: company.team
        tasks:
          - id: hello
            type: io.kestra.plugin.core.log.Log
            message: hi
        triggers:
          - id: schedule
            type: io.kestra.plugin.core.trigger.Schedule
            cron: "{cron}"
            timezone: {timezone}
            conditions:
        """
    ) + textwrap.indent(textwrap.dedent(conditions), "      ")


def started_days(store: SqliteExecutionStore, text: str, start: datetime, end: datetime) -> list[str]:
    """The local dates of the slots in [start, end) that admission started."""
    flow: Flow = load_flow(text)
    record = deploy_flow(store, flow, text)
    flow = flow.model_copy(update={"revision": record.revision})
    days = []
    for slot in plan_backfill(flow, None, start, end):
        try:
            admit(store, flow, record.revision, **slot.admission_kwargs())
        except TriggerSkipped:
            continue
        days.append(str(slot.trigger["date"])[:10])
    return days


# Monday 2026-11-30 to Monday 2026-12-07 (exclusive): one slot a day at 11:00 Paris time.
WEEK = (datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC))


def test_a_weekend_only_schedule_starts_on_saturday_and_sunday_only(store: SqliteExecutionStore) -> None:
    # Given
    text = flow_with("- type: io.kestra.plugin.core.condition.Weekend\n")

    # When
    days = started_days(store, text, *WEEK)

    # Then
    assert days == ["2026-12-05", "2026-12-06"]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ("- type: DayWeek\n  dayOfWeek: WEDNESDAY\n", ["2026-12-02"]),
        (
            "- type: io.kestra.plugin.core.condition.Not\n  conditions:\n"
            "    - {type: io.kestra.plugin.core.condition.DayWeek, dayOfWeek: SUNDAY}\n"
            "    - {type: Weekend}\n",
            ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"],
        ),
        (
            "- type: Or\n  conditions:\n    - {type: DayWeek, dayOfWeek: MONDAY}\n"
            "    - {type: DayWeek, dayOfWeek: FRIDAY}\n",
            ["2026-11-30", "2026-12-04"],
        ),
        ("- {type: DayWeekInMonth, dayOfWeek: TUESDAY, dayInMonth: FIRST}\n", ["2026-12-01"]),
        ("- {type: DayWeekInMonth, dayOfWeek: MONDAY, dayInMonth: LAST}\n", ["2026-11-30"]),
        (
            "- {type: DateTimeBetween, after: '2026-12-02T00:00:00+01:00', before: '2026-12-04T00:00:00+01:00'}\n",
            ["2026-12-02", "2026-12-03"],
        ),
        ("- {type: Expression, expression: \"{{ trigger.date | date('d') == '3' }}\"}\n", ["2026-12-03"]),
    ],
)
def test_calendar_conditions(store: SqliteExecutionStore, conditions: str, expected: list[str]) -> None:
    assert started_days(store, flow_with(conditions), *WEEK) == expected


def test_time_between_compares_the_slot_time_with_offsets(store: SqliteExecutionStore) -> None:
    # Given Kestra's example: every hour, only between 16:00 and 20:00 at +01:00 (Paris in winter)
    text = flow_with(
        "- {type: TimeBetween, after: '16:00:00+01:00', before: '20:00:00+01:00'}\n", cron="0 * * * *"
    )
    flow = load_flow(text)
    record = deploy_flow(store, flow, text)

    # When
    started = []
    for slot in plan_backfill(
        flow, None, datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    ):
        try:
            admit(store, flow, record.revision, **slot.admission_kwargs())
        except TriggerSkipped:
            continue
        started.append(str(slot.trigger["date"])[11:16])

    # Then strictly between the bounds, as Kestra compares them
    assert started == ["17:00", "18:00", "19:00"]


@pytest.mark.parametrize(
    ("conditions", "path", "fragment"),
    [
        (
            "- {type: io.kestra.plugin.core.condition.PublicHoliday, country: XX}\n",
            "conditions[0]",
            "no public holiday calendar",
        ),
        ("- {type: Weekendd}\n", "conditions[0].type", "(did you mean Weekend?)"),
        ("- {type: DayWeek, dayOfWeek: FUNDAY}\n", "conditions[0].dayOfWeek", "Input should be"),
        ("- {type: TimeBetween}\n", "conditions[0]", "set 'after', 'before' or both"),
        ("- {type: Not, conditions: [{type: DayWeek}]}\n", "conditions[0].conditions[0]", "dayOfWeek"),
    ],
)
def test_conditions_are_validated_where_they_are_written(conditions: str, path: str, fragment: str) -> None:
    [problem] = validate_text(flow_with(conditions), "f.yaml")

    assert problem.path.startswith(f"triggers[0].{path}"), problem
    assert fragment in problem.message


def test_conditions_on_a_trigger_that_does_not_read_them_are_refused() -> None:
    text = textwrap.dedent(
        """\
        id: hook
        namespace: company.team
        tasks: [{id: t, type: Log, message: hi}]
        triggers:
          - id: w
            type: Webhook
            key: abcdefgh-0123456789
            conditions: [{type: Weekend}]
        """
    )

    [problem] = validate_text(text, "f.yaml")

    assert (problem.line, problem.path) == (8, "triggers[0].conditions")
    assert "a Webhook trigger has no conditions" in problem.message


def test_public_holiday_uses_the_countrys_calendar(store: SqliteExecutionStore) -> None:
    # Given a schedule that runs on French public holidays only, over 13-16 July 2026
    text = flow_with("- {type: io.kestra.plugin.core.condition.PublicHoliday, country: FR}\n")

    # When
    days = started_days(store, text, datetime(2026, 7, 13, tzinfo=UTC), datetime(2026, 7, 17, tzinfo=UTC))

    # Then only Bastille Day starts
    assert days == ["2026-07-14"]


def test_not_public_holiday_with_a_subdivision(store: SqliteExecutionStore) -> None:
    # Given US-California business days: 25 December 2026 (a Friday) is skipped
    text = flow_with(
        "- type: Not\n  conditions:\n"
        "    - {type: PublicHoliday, country: US, subDivision: CA}\n    - {type: Weekend}\n",
        timezone="America/Los_Angeles",
    )

    days = started_days(store, text, datetime(2026, 12, 24, tzinfo=UTC), datetime(2026, 12, 29, tzinfo=UTC))

    assert days == ["2026-12-24", "2026-12-28"]
