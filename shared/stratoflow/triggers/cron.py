"""Unix cron (as croniter reads it) to EventBridge Scheduler `cron(...)` expressions.

Scheduler's cron has six fields (`minutes hours day-of-month month day-of-week year`), numbers its
days of the week 1-7 = SUN-SAT, and needs `?` in one of the two day fields. A Unix cron that
restricts both day fields means "either matches" (OR); Scheduler cannot say that in one expression,
so such a cron becomes several schedules whose union fires at the same times (a time both match
fires twice at the same instant, and the deterministic execution id makes it one execution).
`L`, `nW` in day-of-month and `n#k`, `Ln` in day-of-week become Scheduler expressions of their own,
because Scheduler accepts them only alone in their field.

The field values come from `croniter.expand`, the same reading the local fire times use, so the
cloud and the laptop cannot disagree on what an expression means.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise

from stratoflow.errors import StratoflowError
from stratoflow.flow.triggers import cron_expression

# Scheduler's limits: ScheduleExpression is at most 256 characters; each expression is one schedule.
MAX_EXPRESSION_LENGTH = 256
MAX_EXPRESSIONS = 10

DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Scheduler's 1..7
_NEAREST_WEEKDAY = re.compile(r"^(?:(\d+)w|w(\d+))$", re.IGNORECASE)


class CronTranslationError(StratoflowError):
    """A valid Unix cron that EventBridge Scheduler cannot run as written."""


def scheduler_crons(cron: str) -> list[str]:
    """The Scheduler `cron(...)` expressions whose union fires exactly when the Unix cron does.

    Raises CronTranslationError (ValueError for an invalid cron, as the flow model does).
    """
    from croniter import croniter

    text = cron_expression(cron)
    try:
        expanded, raw_nth = croniter.expand(text)
    except Exception as error:  # croniter's own classes differ by version; all mean "not valid"
        raise ValueError(f"'{cron}' is not a valid cron expression: {error}") from None
    fields: list[list[int | str]] = [list(field) for field in expanded]
    minute, hour, dom, month, dow = fields
    # {day of week: {k of `day#k`, or "l" of `Lday`}}; croniter's stubs type it more narrowly than it is.
    nth: dict[int, set[int | str]] = {int(day): set(which) for day, which in raw_nth.items()}
    times = f"{_numbers(minute, 0, 59)} {_numbers(hour, 0, 23)}"
    months = _numbers(month, 1, 12)
    days = _day_alternatives(cron, dom, dow, nth, text.split(" ")[2])
    expressions = [
        f"cron({times} {day_of_month} {months} {day_of_week} *)" for day_of_month, day_of_week in days
    ]
    too_long = [e for e in expressions if len(e) > MAX_EXPRESSION_LENGTH]
    if too_long:
        raise CronTranslationError(
            f"'{cron}' is {len(too_long[0])} characters long in EventBridge Scheduler's syntax "
            f"(at most {MAX_EXPRESSION_LENGTH}): use ranges or steps instead of long lists"
        )
    if len(expressions) > MAX_EXPRESSIONS:
        raise CronTranslationError(
            f"'{cron}' needs {len(expressions)} EventBridge Scheduler schedules (at most "
            f"{MAX_EXPRESSIONS}): split it into several triggers"
        )
    return expressions


def _day_alternatives(
    cron: str, dom: list[int | str], dow: list[int | str], nth: dict[int, set[int | str]], dom_text: str
) -> list[tuple[str, str]]:
    """(day-of-month, day-of-week) pairs, one per Scheduler expression, in croniter's meaning."""
    dom_star, dow_star = dom == ["*"], dow == ["*"]
    if dom_star and dow_star:
        return [("*", "?")]
    weekday = _NEAREST_WEEKDAY.match(dom_text)
    if dow_star:
        return [(part, "?") for part in _dom_parts(dom, weekday is not None)]
    if dom_star:
        return [("?", part) for part in _dow_parts(dow, nth)]
    if weekday is not None or nth:
        # croniter intersects the two day fields in this case, unlike the plain OR of Unix cron: the
        # meaning is surprising enough that asking for two triggers is kinder than guessing.
        raise CronTranslationError(
            f"'{cron}' restricts day-of-month and uses W, L or # in day-of-week (or W in "
            "day-of-month with a day-of-week): write one trigger per day rule"
        )
    return [(part, "?") for part in _dom_parts(dom, False)] + [("?", part) for part in _dow_parts(dow, nth)]


def _dom_parts(dom: Sequence[int | str], nearest_weekday: bool) -> list[str]:
    days = sorted(v for v in dom if isinstance(v, int))
    if nearest_weekday:  # croniter allows W on one day only
        return [f"{days[0]}W"]
    parts = [_numbers(days, 1, 31)] if days else []
    if "l" in dom:
        parts.append("L")
    return parts


def _dow_parts(dow: Sequence[int | str], nth: dict[int, set[int | str]]) -> list[str]:
    if nth:  # croniter refuses to mix `#`/`L` items with plain days, so every item is special
        return [
            f"{day % 7 + 1}L" if which == "l" else f"{day % 7 + 1}#{which}"
            for day in sorted(nth)
            for which in sorted(nth[day], key=str)
        ]
    scheduler_days = sorted({int(v) % 7 + 1 for v in dow})
    return [
        ",".join(
            _join_run(run, DAY_NAMES[run[0] - 1], DAY_NAMES[run[-1] - 1]) for run in _runs(scheduler_days)
        )
    ]


def _numbers(values: Sequence[int | str], low: int, high: int) -> str:
    """The shortest usual form of a set of values: `*`, `start/step`, or ranges and values."""
    if list(values) == ["*"]:
        return "*"
    numbers = sorted({int(v) for v in values})
    if numbers == list(range(low, high + 1)):
        return "*"
    if len(numbers) >= 3:
        step = numbers[1] - numbers[0]
        uniform = all(b - a == step for a, b in pairwise(numbers))
        # `start/step` runs to the end of the field, so it only fits a progression that does too.
        if step > 1 and uniform and numbers[-1] + step > high:
            return f"{numbers[0]}/{step}"
    return ",".join(_join_run(run, str(run[0]), str(run[-1])) for run in _runs(numbers))


def _runs(numbers: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return runs


def _join_run(run: list[int], first: str, last: str) -> str:
    return first if len(run) == 1 else f"{first}-{last}"
