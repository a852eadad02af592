"""A Schedule's `conditions`: Kestra's calendar conditions, checked on each slot before it starts.

Every condition must hold for the slot to start an execution; a slot they reject is skipped (no
execution, as in Kestra). Each condition reads the slot's date from `date` (an expression,
`{{ trigger.date }}` by default: the slot's instant in the schedule's time zone).

`DayWeek`, `DayWeekInMonth`, `Weekend`, `PublicHoliday`, `TimeBetween`, `DateTimeBetween`, `Not`, `Or`
and `Expression` are known, by their short, `io.kestra.plugin.core.condition.*` or legacy `*Condition`
names. Public holidays come from the `holidays` library's calendars.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from datetime import date as Date
from datetime import datetime, time, timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, SerializeAsAny, model_validator

from stratoflow import expressions
from stratoflow.flow.fields import StrictModel, describe, hint, located_error

DEFAULT_DATE = "{{ trigger.date }}"
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
Weekday = Literal["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
_ORDINALS = {"FIRST": 0, "SECOND": 1, "THIRD": 2, "FOURTH": 3}


class ScheduleCondition(StrictModel):
    """A condition on a schedule's slot."""

    names: ClassVar[tuple[str, ...]] = ()
    type: str
    date: str = DEFAULT_DATE

    def holds(self, variables: Mapping[str, object]) -> bool:
        raise NotImplementedError

    def instant(self, variables: Mapping[str, object]) -> datetime:
        """The rendered `date` as a datetime (a date alone is its midnight)."""

        value = expressions.render(self.date, variables)
        if isinstance(value, datetime):
            return value
        if isinstance(value, Date):
            return datetime.combine(value, time())
        try:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{self.names[0]}: 'date' gave {describe(value)}, not an ISO-8601 date"
            ) from None


class DayWeek(ScheduleCondition):
    names: ClassVar[tuple[str, ...]] = ("DayWeek",)
    day_of_week: Weekday

    def holds(self, variables: Mapping[str, object]) -> bool:
        return WEEKDAYS[self.instant(variables).weekday()] == self.day_of_week


class DayWeekInMonth(ScheduleCondition):
    names: ClassVar[tuple[str, ...]] = ("DayWeekInMonth",)
    day_of_week: Weekday
    day_in_month: Literal["FIRST", "SECOND", "THIRD", "FOURTH", "LAST"]

    def holds(self, variables: Mapping[str, object]) -> bool:
        day = self.instant(variables).date()
        if WEEKDAYS[day.weekday()] != self.day_of_week:
            return False
        if self.day_in_month == "LAST":
            return (day + timedelta(days=7)).month != day.month
        return (day.day - 1) // 7 == _ORDINALS[self.day_in_month]


class Weekend(ScheduleCondition):
    names: ClassVar[tuple[str, ...]] = ("Weekend",)

    def holds(self, variables: Mapping[str, object]) -> bool:
        return self.instant(variables).weekday() >= 5


class PublicHoliday(ScheduleCondition):
    """Holds on the public holidays of `country` (ISO 3166-1 alpha-2), and of `subDivision` when set."""

    names: ClassVar[tuple[str, ...]] = ("PublicHoliday",)
    # Kestra falls back on its server's locale; Stratoflow has none to fall back on.
    country: str
    sub_division: str | None = None

    @model_validator(mode="after")
    def _known_calendar(self) -> PublicHoliday:
        self.calendar()
        return self

    def calendar(self) -> Container[Date]:
        import holidays  # deferred: ~500 calendars, needed only by flows with this condition

        try:
            return holidays.country_holidays(self.country.upper(), subdiv=self.sub_division)
        except NotImplementedError as error:
            raise ValueError(f"no public holiday calendar: {error}") from None

    def holds(self, variables: Mapping[str, object]) -> bool:
        return self.instant(variables).date() in self.calendar()


class TimeBetween(ScheduleCondition):
    """Strictly after `after` and before `before` (either may be left out), on the slot's own day."""

    names: ClassVar[tuple[str, ...]] = ("TimeBetween",)
    after: time | None = None
    before: time | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> TimeBetween:
        if self.after is None and self.before is None:
            raise ValueError("set 'after', 'before' or both")
        return self

    def holds(self, variables: Mapping[str, object]) -> bool:
        moment = self.instant(variables)

        def on_that_day(bound: time) -> datetime:
            # A time without an offset is in the slot's own offset (the schedule's time zone).
            zone = moment.tzinfo if moment.tzinfo is None or bound.tzinfo is None else bound.tzinfo
            return datetime.combine(moment.date(), bound.replace(tzinfo=zone))

        if self.after is not None and not moment > on_that_day(self.after):
            return False
        return self.before is None or moment < on_that_day(self.before)


class DateTimeBetween(ScheduleCondition):
    names: ClassVar[tuple[str, ...]] = ("DateTimeBetween",)
    after: datetime | None = None
    before: datetime | None = None

    def holds(self, variables: Mapping[str, object]) -> bool:
        moment = self.instant(variables)
        if self.after is not None and not moment > _aligned(self.after, moment):
            return False
        return self.before is None or moment < _aligned(self.before, moment)


def _aligned(bound: datetime, moment: datetime) -> datetime:
    """A bound without an offset is in the slot's own offset."""
    if moment.tzinfo is None or bound.tzinfo is None:
        return bound.replace(tzinfo=moment.tzinfo)
    return bound


class Expression(ScheduleCondition):
    """Holds when `expression`, rendered with `trigger.*` and `flow.*`, is truthy."""

    names: ClassVar[tuple[str, ...]] = ("Expression",)
    expression: str

    def holds(self, variables: Mapping[str, object]) -> bool:

        return expressions.is_truthy(expressions.render(self.expression, variables))


class Not(ScheduleCondition):
    """Holds when none of its conditions holds."""

    names: ClassVar[tuple[str, ...]] = ("Not",)
    conditions: list[ConditionItem] = Field(min_length=1)

    def holds(self, variables: Mapping[str, object]) -> bool:
        return not any(condition.holds(variables) for condition in self.conditions)


class Or(ScheduleCondition):
    """Holds when one of its conditions holds."""

    names: ClassVar[tuple[str, ...]] = ("Or",)
    conditions: list[ConditionItem] = Field(min_length=1)

    def holds(self, variables: Mapping[str, object]) -> bool:
        return any(condition.holds(variables) for condition in self.conditions)


_KNOWN = (DayWeek, DayWeekInMonth, Weekend, PublicHoliday, TimeBetween, DateTimeBetween, Expression, Not, Or)


def _names(short: str) -> tuple[str, ...]:
    return (
        short,
        f"{short}Condition",
        f"io.kestra.plugin.core.condition.{short}",
        f"io.kestra.plugin.core.condition.{short}Condition",
        f"io.kestra.core.models.conditions.types.{short}Condition",
    )


CONDITION_TYPES: dict[str, type[ScheduleCondition]] = {
    name: cls for cls in _KNOWN for name in _names(cls.names[0])
}


def validate_condition(value: object) -> ScheduleCondition:
    """One condition from its YAML mapping; errors land on its `type` or its own keys."""
    if isinstance(value, ScheduleCondition):
        return value
    if not isinstance(value, dict):
        raise located_error((), f"a condition must be a mapping with 'type', got {describe(value)}", value)
    name = value.get("type")
    cls = CONDITION_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        known = ", ".join(cls.names[0] for cls in _KNOWN)
        message = f"unknown schedule condition '{name}'{hint(str(name), CONDITION_TYPES)} (known: {known})"
        raise located_error(("type",), message, name, "unknown_condition")
    return cls.model_validate(value)


ConditionItem = Annotated[SerializeAsAny[ScheduleCondition], BeforeValidator(validate_condition)]
for _model in (Not, Or):
    _model.model_rebuild()


def conditions_hold(conditions: list[ScheduleCondition], variables: Mapping[str, object]) -> bool:
    """True when every condition holds for the slot whose `trigger.*` and `flow.*` are `variables`."""
    return all(condition.holds(variables) for condition in conditions)
