"""The serdes task types: CSV <-> Ion and JSON (or JSON Lines) <-> Ion, each with Kestra's names,
properties and the output `uri`.

CSV cells become text (as Kestra's CsvToIon gives them); maps and lists written to CSV become JSON.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from abc import abstractmethod
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field, field_validator

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import read_stored, safe_file_name
from stratoflow.tasks.serdes.ion import iter_lines, json_text, read_ion, write_ion
from stratoflow.tasks.storage import stored_uri

KESTRA_SERDES = "io.kestra.plugin.serdes"


def _one_character(value: str) -> str:
    if len(value) != 1:
        raise ValueError(f"must be one character, got {value!r}")
    return value


class Conversion(RunnableTask):
    """Read the file `from`, write the converted file; outputs its `uri`."""

    output_fields: ClassVar[dict[str, str]] = {"uri": "storage URI of the converted file"}
    extension: ClassVar[str] = ""

    from_: str = Field(alias="from")
    charset: str = "UTF-8"

    @field_validator("charset")
    @classmethod
    def _known_charset(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown charset '{value}'") from None
        return value

    @abstractmethod
    def convert(self, data: bytes, source: str) -> bytes:
        """The converted file; `source` (the input's URI) names it in errors."""

    def output_extension(self) -> str:
        return self.extension

    def run(self, ctx: RunContext) -> dict[str, Any]:
        source = stored_uri(ctx, self.from_, "from")
        converted = self.convert(read_stored(ctx, source), source)
        stem = posixpath.basename(source).split(".", 1)[0]
        return {"uri": ctx.put_file(safe_file_name(stem, self.id) + self.output_extension(), converted)}


def _cell(value: Any) -> Any:
    """A value as a CSV cell: text, or a number kept for the quoting rule."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json_text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


@register
class CsvToIon(Conversion):
    """Convert a CSV file to Ion: with `header`, one struct per row named by the header; without,
    one list per row."""

    type_name: ClassVar[str] = "serdes.csv.CsvToIon"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SERDES}.csv.CsvToIon", f"{KESTRA_SERDES}.csv.CsvReader")
    extension: ClassVar[str] = ".ion"

    field_separator: str = ","
    text_delimiter: str = '"'
    header: bool = True
    skip_empty_rows: bool = False
    skip_rows: int = Field(default=0, ge=0)
    error_on_different_field_count: bool = False

    _single = field_validator("field_separator", "text_delimiter")(_one_character)

    def convert(self, data: bytes, source: str) -> bytes:
        text = data.decode(self.charset).lstrip("\ufeff")
        reader = csv.reader(io.StringIO(text), delimiter=self.field_separator, quotechar=self.text_delimiter)
        rows = list(reader)[self.skip_rows :]
        if self.skip_empty_rows:
            rows = [row for row in rows if any(cell.strip() for cell in row)]
        if not self.header:
            return write_ion(rows)
        if not rows:
            return b""
        names, values = rows[0], []
        for number, row in enumerate(rows[1:], start=2 + self.skip_rows):
            if len(row) != len(names):
                if self.error_on_different_field_count:
                    raise TaskFailed(f"{source} line {number} has {len(row)} fields, the header {len(names)}")
                row = (row + [""] * len(names))[: len(names)] if row else row
            if row:
                values.append(dict(zip(names, row, strict=False)))
        return write_ion(values)


@register
class IonToCsv(Conversion):
    """Convert an Ion file to CSV: one row per value, the columns of the structs' fields in the order
    first seen (nested maps and lists as JSON)."""

    type_name: ClassVar[str] = "serdes.csv.IonToCsv"
    kestra_gaps: ClassVar[str] = (
        "`dateFormat`, `timeFormat`, `dateTimeFormat`, `timeZoneId`: dates are written as ISO-8601"
    )
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SERDES}.csv.IonToCsv", f"{KESTRA_SERDES}.csv.CsvWriter")
    extension: ClassVar[str] = ".csv"

    field_separator: str = ","
    text_delimiter: str = '"'
    line_delimiter: str = "\n"
    header: bool = True
    always_delimit_text: bool = False

    _single = field_validator("field_separator", "text_delimiter")(_one_character)

    def convert(self, data: bytes, source: str) -> bytes:
        values = read_ion(data, source)
        columns: dict[str, None] = {}
        for value in values:
            if isinstance(value, dict):
                columns.update(dict.fromkeys(value))
        out = io.StringIO()
        writer = csv.writer(
            out,
            delimiter=self.field_separator,
            quotechar=self.text_delimiter,
            lineterminator=self.line_delimiter,
            quoting=csv.QUOTE_NONNUMERIC if self.always_delimit_text else csv.QUOTE_MINIMAL,
        )
        if self.header and columns:
            writer.writerow(list(columns))
        for value in values:
            if isinstance(value, dict):
                writer.writerow([_cell(value.get(column)) for column in columns])
            elif isinstance(value, list):
                writer.writerow([_cell(item) for item in value])
            else:
                writer.writerow([_cell(value)])
        return out.getvalue().encode(self.charset)


@register
class JsonToIon(Conversion):
    """Convert JSON to Ion: with `newLine` (the default) the file is JSON Lines, one value per line;
    without, one JSON document (an array gives one Ion value per element)."""

    type_name: ClassVar[str] = "serdes.json.JsonToIon"
    aliases: ClassVar[tuple[str, ...]] = (
        f"{KESTRA_SERDES}.json.JsonToIon",
        f"{KESTRA_SERDES}.json.JsonReader",
    )
    extension: ClassVar[str] = ".ion"

    new_line: bool = True

    def convert(self, data: bytes, source: str) -> bytes:
        try:
            if self.new_line:
                values = [json.loads(line, parse_float=Decimal) for line in iter_lines(data, self.charset)]
            else:
                document = json.loads(data.decode(self.charset), parse_float=Decimal)
                values = document if isinstance(document, list) else [document]
        except json.JSONDecodeError as err:
            layout = "JSON Lines (newLine: true)" if self.new_line else "JSON"
            raise TaskFailed(f"{source} is not {layout}: {err.msg} at line {err.lineno}") from None
        return write_ion(values)


@register
class IonToJson(Conversion):
    """Convert Ion to JSON: JSON Lines with `newLine` (the default, `.jsonl`), else one JSON array
    (`.json`)."""

    type_name: ClassVar[str] = "serdes.json.IonToJson"
    aliases: ClassVar[tuple[str, ...]] = (
        f"{KESTRA_SERDES}.json.IonToJson",
        f"{KESTRA_SERDES}.json.JsonWriter",
    )

    new_line: bool = True

    def output_extension(self) -> str:
        return ".jsonl" if self.new_line else ".json"

    def convert(self, data: bytes, source: str) -> bytes:
        values = read_ion(data, source)
        if self.new_line:
            return "".join(json_text(value) + "\n" for value in values).encode(self.charset)
        return json_text(values).encode(self.charset)
