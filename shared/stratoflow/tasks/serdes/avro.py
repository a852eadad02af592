"""Avro <-> Ion with fastavro (a few MB in the task runner's layer, no JVM).

`IonToAvro` writes an Avro container file typed by Kestra's required `schema` (an Avro record, JSON
text); text values are typed by the schema as Kestra's writer does (`text_values`: `dateFormat`,
`trueValues`, `nullValues`...); a row that does not fit it fails the task with the row's number and
the reason.
`AvroToIon` reads every record back as an Ion struct (decimals, timestamps and bytes kept).
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, time
from typing import Any, ClassVar

from pydantic import Field, field_validator

from stratoflow.flow.registry import register
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.jdbc.results import ion_value
from stratoflow.tasks.serdes import text_values
from stratoflow.tasks.serdes.conversions import KESTRA_SERDES, Conversion
from stratoflow.tasks.serdes.ion import read_ion, write_ion


def parsed_schema(text: str) -> Any:
    """fastavro's parsed schema of an Avro record schema (JSON text); ValueError says what is wrong."""
    from fastavro import parse_schema
    from fastavro.schema import SchemaParseException, UnknownType

    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"the schema is not JSON: {err.msg}") from None
    if not isinstance(document, dict) or document.get("type") != "record":
        raise ValueError("the schema must be an Avro record")
    try:
        return parse_schema(document)
    except (SchemaParseException, UnknownType, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"the schema is not a valid Avro schema: {err}") from None


def _ion_field(value: Any) -> Any:
    # Ion has no date-only or time-only value (Avro's `date`, `time-*` logical types): ISO text.
    if isinstance(value, time) or (isinstance(value, date) and not isinstance(value, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _ion_field(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ion_field(v) for v in value]
    return ion_value(value)


@register
class IonToAvro(Conversion):
    """Convert an Ion file of structs to an Avro file typed by the Avro record `schema`."""

    type_name: ClassVar[str] = "serdes.avro.IonToAvro"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SERDES}.avro.IonToAvro",)
    extension: ClassVar[str] = ".avro"
    kestra_gaps: ClassVar[str] = (
        "`onBadLines` (a row that does not fit fails the task); `schema` is required (no inference)"
    )

    schema_: str = Field(alias="schema")
    # Kestra's text coercions (stratoflow.tasks.serdes.text_values), with Kestra's defaults.
    date_format: str = text_values.DATE_FORMAT
    time_format: str = text_values.TIME_FORMAT
    datetime_format: str = text_values.DATETIME_FORMAT
    true_values: list[str] = Field(default_factory=lambda: list(text_values.TRUE_VALUES))
    false_values: list[str] = Field(default_factory=lambda: list(text_values.FALSE_VALUES))
    null_values: list[str] = Field(default_factory=lambda: list(text_values.NULL_VALUES))
    decimal_separator: str = "."
    time_zone_id: str = "UTC"
    infer_all_fields: bool = False
    # A field the schema does not declare: an error when strict, else left out of the record.
    strict_schema: bool = False

    @field_validator("schema_")
    @classmethod
    def _readable_schema(cls, value: str) -> str:
        if "{{" not in value:
            parsed_schema(value)
        return value

    @field_validator("date_format", "time_format", "datetime_format")
    @classmethod
    def _readable_pattern(cls, value: str) -> str:
        text_values.compile_pattern(value)
        return value

    @field_validator("decimal_separator")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"must be one character, got {value!r}")
        return value

    @field_validator("time_zone_id")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        text_values.TextValues(time_zone_id=value).zone()
        return value

    def coercions(self) -> text_values.TextValues:
        return text_values.TextValues(
            date_format=self.date_format,
            time_format=self.time_format,
            datetime_format=self.datetime_format,
            true_values=tuple(self.true_values),
            false_values=tuple(self.false_values),
            null_values=tuple(self.null_values),
            decimal_separator=self.decimal_separator,
            time_zone_id=self.time_zone_id,
            infer_all_fields=self.infer_all_fields,
        )

    def convert(self, data: bytes, source: str) -> bytes:
        from fastavro import writer
        from fastavro.validation import ValidationError, validate

        try:
            schema = parsed_schema(self.schema_)
        except ValueError as error:
            raise TaskFailed(str(error)) from None
        coercions = self.coercions()
        rows = []
        for number, row in enumerate(read_ion(data, source), start=1):
            if not isinstance(row, dict):
                raise TaskFailed(f"{source}: value {number} is not a struct: Avro needs a record per value")
            try:
                typed = text_values.coerce_record(row, schema, coercions, self.strict_schema)
                validate(typed, schema, raise_errors=True)
            except (ValueError, ValidationError) as error:
                raise TaskFailed(f"{source}: row {number} does not fit the schema: {error}") from None
            rows.append(typed)
        out = io.BytesIO()
        writer(out, schema, rows)
        return out.getvalue()


@register
class AvroToIon(Conversion):
    """Convert an Avro file to Ion: one struct per record."""

    type_name: ClassVar[str] = "serdes.avro.AvroToIon"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SERDES}.avro.AvroToIon",)
    extension: ClassVar[str] = ".ion"

    def convert(self, data: bytes, source: str) -> bytes:
        from fastavro import reader

        try:
            records = list(reader(io.BytesIO(data)))
        except Exception as error:  # fastavro raises ValueError, EOFError and others on a bad file
            raise TaskFailed(f"{source} is not an Avro file: {error}") from None
        return write_ion(_ion_field(record) for record in records)
