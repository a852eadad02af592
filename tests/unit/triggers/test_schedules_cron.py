"""Unix cron -> EventBridge Scheduler cron(): the documented forms, the OR of the two day fields, and
a property: the Scheduler expressions, read back as Unix crons, fire exactly when the original does."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from croniter import croniter
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stratoflow.flow import load_flow
from stratoflow.triggers import CronTranslationError, schedule_diagnostics, scheduler_crons
from stratoflow.triggers import cron as cron_module
from stratoflow.triggers.schedules import CronSchedule

# Unix cron -> what Scheduler runs. The plain forms are AWS's own examples ("Cron expressions
# reference", EventBridge Scheduler user guide): `cron(0 18 ? * MON-FRI *)`, `cron(0/5 8-17 ? * MON-FRI *)`,
# `cron(0 8 1 * ? *)`, `cron(0 10 ? * 6L *)` (last Friday), `3#2` (second Tuesday).
TRANSLATIONS = [
    ("0 10 * * *", ["cron(0 10 * * ? *)"]),
    ("15 12 * * *", ["cron(15 12 * * ? *)"]),
    ("0 18 * * 1-5", ["cron(0 18 ? * MON-FRI *)"]),
    ("0 18 * * mon-fri", ["cron(0 18 ? * MON-FRI *)"]),
    ("*/5 8-17 * * 1-5", ["cron(0/5 8-17 ? * MON-FRI *)"]),
    ("0 8 1 * *", ["cron(0 8 1 * ? *)"]),
    ("*/15 1-3 * * *", ["cron(0/15 1-3 * * ? *)"]),
    ("5-50/10 * * * *", ["cron(5,15,25,35,45 * * * ? *)"]),  # `5/10` would add :55
    ("0 22-2 * * *", ["cron(0 0-2,22-23 * * ? *)"]),  # a range across midnight
    ("0 0 * */3 *", ["cron(0 0 * 1/3 ? *)"]),
    ("0 0 * JAN-MAR *", ["cron(0 0 * 1-3 ? *)"]),
    # Day-of-week: Unix 0 and 7 are Sunday; Scheduler counts 1-7 from Sunday.
    ("0 0 * * 0", ["cron(0 0 ? * SUN *)"]),
    ("0 0 * * 7", ["cron(0 0 ? * SUN *)"]),
    ("0 0 * * 6,0", ["cron(0 0 ? * SUN,SAT *)"]),
    ("0 0 * * 5-1", ["cron(0 0 ? * SUN-MON,FRI-SAT *)"]),  # Friday to Monday
    ("0 0 * * */2", ["cron(0 0 ? * SUN,TUE,THU,SAT *)"]),  # Scheduler has no step in day-of-week
    ("0 10 * * L5", ["cron(0 10 ? * 6L *)"]),  # croniter's "last Friday"
    ("0 10 * * 5L", ["cron(0 10 ? * 6L *)"]),  # cron-utils' (Kestra's) "last Friday"
    ("0 10 * * FRIL", ["cron(0 10 ? * 6L *)"]),
    ("0 9 * * 2#2", ["cron(0 9 ? * 3#2 *)"]),
    ("0 9 * * 5#3,1#1", ["cron(0 9 ? * 2#1 *)", "cron(0 9 ? * 6#3 *)"]),
    # Day-of-month specials stand alone in Scheduler.
    ("0 0 L * *", ["cron(0 0 L * ? *)"]),
    ("0 0 15W * *", ["cron(0 0 15W * ? *)"]),
    ("0 0 1,L * *", ["cron(0 0 1 * ? *)", "cron(0 0 L * ? *)"]),
    # Both day fields restricted: Unix means either; one schedule per side.
    ("0 0 1,15 * 1", ["cron(0 0 1,15 * ? *)", "cron(0 0 ? * MON *)"]),
    ("0 0 */2 * 1", ["cron(0 0 1/2 * ? *)", "cron(0 0 ? * MON *)"]),
    ("0 0 ? * 1", ["cron(0 0 ? * MON *)"]),
    # Nicknames.
    ("@hourly", ["cron(0 * * * ? *)"]),
    ("@daily", ["cron(0 0 * * ? *)"]),
    ("@midnight", ["cron(0 0 * * ? *)"]),
    ("@weekly", ["cron(0 0 ? * SUN *)"]),
    ("@monthly", ["cron(0 0 1 * ? *)"]),
    ("@yearly", ["cron(0 0 1 1 ? *)"]),
    ("@annually", ["cron(0 0 1 1 ? *)"]),
]


@pytest.mark.parametrize(("cron", "expected"), TRANSLATIONS, ids=[c for c, _ in TRANSLATIONS])
def test_a_unix_cron_becomes_these_scheduler_expressions(cron: str, expected: list[str]) -> None:
    assert scheduler_crons(cron) == expected


@pytest.mark.parametrize(
    "cron",
    ["0 0 15 * L5", "0 0 15W * 1", "0 0 1 * 2#1"],
)
def test_a_day_special_beside_a_restricted_other_day_field_is_refused_with_the_reason(cron: str) -> None:
    with pytest.raises(CronTranslationError, match="one trigger per day rule"):
        scheduler_crons(cron)


def test_the_densest_five_field_cron_fits_scheduler_and_the_length_guard_names_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given pairs of values with gaps in every field: the longest form a 5-field cron can take
    def pairs(low: int, high: int) -> str:
        return ",".join(str(v) for v in range(low, high + 1) if (v - low) % 3 != 2)

    densest = f"{pairs(0, 59)} {pairs(0, 23)} {pairs(1, 31)} {pairs(1, 12)} *"

    # Then it fits in ScheduleExpression's 256 characters
    (expression,) = scheduler_crons(densest)
    assert 230 < len(expression) <= cron_module.MAX_EXPRESSION_LENGTH
    # And were Scheduler's limit lower, the refusal would say what to do
    monkeypatch.setattr(cron_module, "MAX_EXPRESSION_LENGTH", 200)
    with pytest.raises(CronTranslationError, match=r"at most 200.*ranges or steps"):
        scheduler_crons(densest)


def test_a_cron_needing_more_than_ten_schedules_is_refused() -> None:
    with pytest.raises(CronTranslationError, match="needs 11 EventBridge Scheduler schedules"):
        scheduler_crons("0 0 * * 1#1,1#2,1#3,1#4,1#5,2#1,2#2,2#3,2#4,2#5,3#1")


@pytest.mark.parametrize("cron", ["0 0 * * 8", "61 * * * *", "@fortnightly", "0 0 * *"])
def test_an_invalid_cron_is_a_value_error_like_the_flow_model_gives(cron: str) -> None:
    with pytest.raises(ValueError):
        scheduler_crons(cron)


# --- the property: what Scheduler runs is what croniter fires --------------------------------------

_UNIX_DOW = {"SUN": "0", "MON": "1", "TUE": "2", "WED": "3", "THU": "4", "FRI": "5", "SAT": "6"}


def _as_unix(expression: str) -> str:
    """A Scheduler expression read back as a Unix cron (the test's independent reading of Scheduler)."""
    match = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) \*\)", expression)
    assert match, expression
    minute, hour, dom, month, dow = match.groups()
    assert (dom == "?") != (dow == "?"), f"exactly one day field must be '?': {expression}"
    dom = "*" if dom == "?" else dom
    if dow == "?":
        dow = "*"
    elif m := re.fullmatch(r"(\d)#(\d)", dow):
        dow = f"{int(m.group(1)) - 1}#{m.group(2)}"
    elif m := re.fullmatch(r"(\d)L", dow):
        dow = f"L{int(m.group(1)) - 1}"
    else:
        assert re.fullmatch(r"[A-Z]{3}(-[A-Z]{3})?(,[A-Z]{3}(-[A-Z]{3})?)*", dow), dow
        dow = re.sub(r"[A-Z]{3}", lambda n: _UNIX_DOW[n.group(0)], dow)
    return f"{minute} {hour} {dom} {month} {dow}"


def _fires(cron: str, count: int) -> list[datetime]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    it = croniter(cron, start)
    found: list[datetime] = []
    try:
        for _ in range(count):
            found.append(it.get_next(datetime))
    except Exception:  # croniter gives up on dates that never come
        pass
    return found


def _union(crons: list[str], count: int) -> list[datetime]:
    merged = sorted({when for cron in crons for when in _fires(cron, count)})
    return merged[:count]


def _item(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    return st.one_of(
        number.map(str),
        st.tuples(number, number).map(lambda p: f"{p[0]}-{p[1]}"),
        st.tuples(number, number, st.integers(1, 12)).map(lambda p: f"{p[0]}-{p[1]}/{p[2]}"),
        st.tuples(number, st.integers(1, 12)).map(lambda p: f"{p[0]}/{p[1]}"),
        st.integers(1, 12).map(lambda step: f"*/{step}"),
    )


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(st.just("*"), st.lists(_item(low, high), min_size=1, max_size=3).map(",".join))


_DOM = st.one_of(
    _field(1, 31),
    st.just("?"),
    st.just("L"),
    st.integers(1, 31).map(lambda d: f"{d}W"),
    st.lists(st.integers(1, 28).map(str), min_size=1, max_size=2).map(lambda days: ",".join([*days, "L"])),
)
_DOW = st.one_of(
    _field(0, 7),
    st.just("?"),
    st.lists(st.sampled_from(["sun", "mon", "tue", "wed", "thu", "fri", "sat"]), min_size=1, max_size=3).map(
        ",".join
    ),
    st.lists(st.tuples(st.integers(0, 7), st.integers(1, 5)), min_size=1, max_size=3).map(
        lambda items: ",".join(f"{d}#{k}" for d, k in items)
    ),
    st.lists(st.integers(0, 6), min_size=1, max_size=2).map(lambda days: ",".join(f"L{d}" for d in days)),
)
CRONS = st.tuples(_field(0, 59), _field(0, 23), _DOM, _field(1, 12), _DOW).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(CRONS)
def test_scheduler_expressions_fire_exactly_when_the_unix_cron_does(cron: str) -> None:
    assume(croniter.is_valid(cron))
    try:
        expressions = scheduler_crons(cron)
    except CronTranslationError:
        assume(False)
        return
    expected = _fires(cron, 40)
    assert _union([_as_unix(e) for e in expressions], 40) == expected, (cron, expressions)


# --- located problems ------------------------------------------------------------------------------


def test_schedule_problems_point_at_the_cron_line() -> None:
    # Given a flow whose second trigger Scheduler cannot run and whose third never fires
    text = """\
id: f
namespace: team
tasks: [{id: t, type: Log, message: m}]
triggers:
  - {id: ok, type: Schedule, cron: "0 2 * * *"}
  - id: both
    type: Schedule
    cron: "0 0 15 * L5"
  - id: never
    type: Schedule
    cron: "0 0 30 2 *"
"""
    flow = load_flow(text, "flows/f.yaml")

    # When
    problems = schedule_diagnostics(flow, now=datetime(2026, 1, 1, tzinfo=UTC))

    # Then each is located on its `cron` key
    assert [(p.file, p.line, p.path) for p in problems] == [
        ("flows/f.yaml", 8, "triggers[1].cron"),
        ("flows/f.yaml", 11, "triggers[2].cron"),
    ]
    assert "one trigger per day rule" in problems[0].message
    assert "never fires" in problems[1].message


def test_the_cron_utils_last_weekday_fires_on_the_last_friday_of_each_month() -> None:
    # Given Kestra's spelling of "10:00 on the last Friday"
    schedule = CronSchedule("0 10 * * 5L")

    # When the next fire times are listed from the start of 2026
    fires = list(itertools.islice(schedule.fire_times(datetime(2026, 1, 1, tzinfo=UTC)), 3))

    # Then they are the last Fridays of January, February and March
    assert [f.date().isoformat() for f in fires] == ["2026-01-30", "2026-02-27", "2026-03-27"]
