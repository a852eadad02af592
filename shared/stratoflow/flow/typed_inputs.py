"""One input model per Kestra input type, each with the conversion its values get."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import ClassVar, Literal, TypeVar

from pydantic import AliasChoices, Field, JsonValue, field_validator

from stratoflow.flow import coercion as c
from stratoflow.flow.fields import Duration, StrictModel, hint
from stratoflow.flow.input import INPUT_TYPES, Input, input_type
from stratoflow.flow.patterns import compile_validator, full_match

_Ordered = TypeVar("_Ordered", int, float, date, datetime, time, timedelta)


def _bounded(
    value: _Ordered, low: _Ordered | None, high: _Ordered | None, show: Callable[[_Ordered], str] = str
) -> _Ordered:
    if low is not None and value < low:
        raise ValueError(f"{show(value)} is less than the minimum {show(low)}")
    if high is not None and value > high:
        raise ValueError(f"{show(value)} is greater than the maximum {show(high)}")
    return value


class _PatternMixin(StrictModel):
    validator: str | None = None

    @field_validator("validator")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            compile_validator(pattern)
        return pattern

    def matched(self, text: str) -> str:
        if self.validator is not None and not full_match(self.validator, text):
            raise ValueError(f"{text!r} does not match the validator '{self.validator}'")
        return text


@input_type
class StringInput(_PatternMixin, Input):
    type_name: ClassVar[str] = "STRING"

    def convert(self, raw: object) -> JsonValue:
        return self.matched(c.to_text(raw))


@input_type
class SecretInput(_PatternMixin, Input):
    """Masked wherever it could be shown; its value is never logged."""

    type_name: ClassVar[str] = "SECRET"

    def convert(self, raw: object) -> JsonValue:
        text = c.to_text(raw)
        if self.validator is not None and not full_match(self.validator, text):
            raise ValueError(f"the value does not match the validator '{self.validator}'")
        return text


@input_type
class IntInput(Input):
    type_name: ClassVar[str] = "INT"
    min: int | None = None
    max: int | None = None

    def convert(self, raw: object) -> JsonValue:
        return _bounded(c.to_int(raw), self.min, self.max)


@input_type
class FloatInput(Input):
    type_name: ClassVar[str] = "FLOAT"
    min: float | None = None
    max: float | None = None

    def convert(self, raw: object) -> JsonValue:
        return _bounded(c.to_float(raw), self.min, self.max)


@input_type
class BooleanInput(Input):
    type_name: ClassVar[str] = "BOOLEAN"
    aliases: ClassVar[tuple[str, ...]] = ("BOOL",)

    def convert(self, raw: object) -> JsonValue:
        return c.to_bool(raw)


@input_type
class DateTimeInput(Input):
    type_name: ClassVar[str] = "DATETIME"
    after: datetime | None = None
    before: datetime | None = None

    def convert(self, raw: object) -> JsonValue:
        value = c.to_datetime(raw)
        after = c.to_datetime(self.after) if self.after else None
        before = c.to_datetime(self.before) if self.before else None
        return c.datetime_text(_bounded(value, after, before, c.datetime_text))


@input_type
class DateInput(Input):
    type_name: ClassVar[str] = "DATE"
    after: date | None = None
    before: date | None = None

    def convert(self, raw: object) -> JsonValue:
        return _bounded(c.to_date(raw), self.after, self.before, date.isoformat).isoformat()


@input_type
class TimeInput(Input):
    type_name: ClassVar[str] = "TIME"
    after: time | None = None
    before: time | None = None

    def convert(self, raw: object) -> JsonValue:
        return _bounded(c.to_time(raw), self.after, self.before, time.isoformat).isoformat()


@input_type
class DurationInput(Input):
    type_name: ClassVar[str] = "DURATION"
    min: Duration | None = None
    max: Duration | None = None

    def convert(self, raw: object) -> JsonValue:
        return c.duration_text(_bounded(c.to_duration(raw), self.min, self.max, c.duration_text))


@input_type
class JsonInput(Input):
    type_name: ClassVar[str] = "JSON"

    def convert(self, raw: object) -> JsonValue:
        return c.to_json_value(raw)


@input_type
class YamlInput(Input):
    type_name: ClassVar[str] = "YAML"

    def convert(self, raw: object) -> JsonValue:
        return c.to_yaml_value(raw)


@input_type
class UriInput(Input):
    type_name: ClassVar[str] = "URI"

    def convert(self, raw: object) -> JsonValue:
        return c.to_uri(raw)


@input_type
class EmailInput(Input):
    type_name: ClassVar[str] = "EMAIL"

    def convert(self, raw: object) -> JsonValue:
        return c.to_email(raw)


@input_type
class FileInput(Input):
    """A file in blob storage, passed as its URI (the CLI uploads the local files its user names)."""

    type_name: ClassVar[str] = "FILE"

    def convert(self, raw: object) -> JsonValue:
        return c.to_file_uri(raw)


def _choice(raw: object, values: list[str], allow_custom: bool) -> str:
    text = "true" if raw is True else "false" if raw is False else c.to_text(raw)
    if not allow_custom and text not in values:
        raise ValueError(f"{text!r} is not one of: {', '.join(values)}{hint(text, values)}")
    return text


@input_type
class SelectInput(Input):
    type_name: ClassVar[str] = "SELECT"
    aliases: ClassVar[tuple[str, ...]] = ("ENUM",)
    values: list[str] = Field(min_length=1)
    allow_custom_value: bool = False

    def convert(self, raw: object) -> JsonValue:
        return _choice(raw, self.values, self.allow_custom_value)


@input_type
class MultiselectInput(Input):
    type_name: ClassVar[str] = "MULTISELECT"
    values: list[str] = Field(min_length=1, validation_alias=AliasChoices("values", "options"))
    allow_custom_value: bool = False

    def convert(self, raw: object) -> JsonValue:
        return [_choice(item, self.values, self.allow_custom_value) for item in c.to_list(raw)]


ItemType = Literal[
    "STRING",
    "INT",
    "FLOAT",
    "BOOLEAN",
    "DATETIME",
    "DATE",
    "TIME",
    "DURATION",
    "JSON",
    "YAML",
    "URI",
    "EMAIL",
]


@input_type
class ArrayInput(Input):
    """A list whose items are each coerced as `itemType`."""

    type_name: ClassVar[str] = "ARRAY"
    item_type: ItemType

    def convert(self, raw: object) -> JsonValue:
        item = INPUT_TYPES[self.item_type].model_construct(id=self.id, type=self.item_type)
        values = []
        for index, value in enumerate(c.to_list(raw)):
            try:
                values.append(item.convert(value))
            except ValueError as err:
                raise ValueError(f"item {index}: {err}") from None
        return values
