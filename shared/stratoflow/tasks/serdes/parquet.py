"""Parquet <-> Ion through DuckDB (already in the task runner's layer: no pyarrow, ~100 MB, needed).

`IonToParquet` takes Kestra's Avro `schema` to type the columns (without one, DuckDB infers them from
the values); `ParquetToIon` reads every row back as an Ion struct.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from stratoflow.flow.registry import register
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.jdbc.results import ion_value
from stratoflow.tasks.serdes.conversions import KESTRA_SERDES, Conversion
from stratoflow.tasks.serdes.ion import json_text, read_ion, write_ion

AVRO_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "long": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "bytes": "BLOB",
}
AVRO_LOGICAL_TYPES = {
    "date": "DATE",
    "time-millis": "TIME",
    "time-micros": "TIME",
    "timestamp-millis": "TIMESTAMP",
    "timestamp-micros": "TIMESTAMP",
    "uuid": "VARCHAR",
}
Codec = Literal["UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD", "LZ4", "BROTLI"]


def _column_type(avro: Any, field: str) -> str:
    """The DuckDB type of one Avro field type (a union with null is the nullable type)."""
    if isinstance(avro, list):
        kinds = [kind for kind in avro if kind != "null"]
        if len(kinds) != 1:
            raise ValueError(f"field '{field}': only unions of one type with null are supported")
        return _column_type(kinds[0], field)
    if isinstance(avro, dict):
        logical = avro.get("logicalType")
        if logical == "decimal":
            return f"DECIMAL({int(avro.get('precision', 18))}, {int(avro.get('scale', 0))})"
        if logical in AVRO_LOGICAL_TYPES:
            return AVRO_LOGICAL_TYPES[logical]
        return _column_type(avro.get("type"), field)
    if avro in AVRO_TYPES:
        return AVRO_TYPES[avro]
    raise ValueError(f"field '{field}': Avro type {json.dumps(avro)} is not supported")


def columns_of(schema: str) -> dict[str, str]:
    """`{column: DuckDB type}` from an Avro record schema (JSON text)."""
    try:
        document = json.loads(schema)
    except json.JSONDecodeError as err:
        raise ValueError(f"the schema is not JSON: {err.msg}") from None
    if not isinstance(document, dict) or document.get("type") != "record" or not document.get("fields"):
        raise ValueError("the schema must be an Avro record with fields")
    return {
        str(field["name"]): _column_type(field.get("type"), str(field["name"]))
        for field in document["fields"]
    }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@register
class IonToParquet(Conversion):
    """Convert an Ion file of structs to Parquet, typed by the Avro `schema` (Kestra's), compressed
    with `compressionCodec`."""

    type_name: ClassVar[str] = "serdes.parquet.IonToParquet"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SERDES}.parquet.IonToParquet",)
    extension: ClassVar[str] = ".parquet"
    kestra_gaps: ClassVar[str] = (
        "`parquetVersion`, `rowGroupSize`, `pageSize`, `dictionaryPageSize`; Avro unions"
    )

    schema_: str | None = Field(default=None, alias="schema")
    compression_codec: Codec = "GZIP"

    @field_validator("schema_")
    @classmethod
    def _readable_schema(cls, value: str | None) -> str | None:
        if value is not None and "{{" not in value:
            columns_of(value)
        return value

    def convert(self, data: bytes, source: str) -> bytes:
        import duckdb  # deferred: only Parquet conversions need the engine

        rows = read_ion(data, source)
        if not all(isinstance(row, dict) for row in rows):
            raise TaskFailed(f"{source}: Parquet needs a struct per value")
        folder = Path(tempfile.mkdtemp(prefix="stratoflow-parquet-"))
        try:
            lines, target = folder / "rows.jsonl", folder / "rows.parquet"
            lines.write_text("".join(json_text(row) + "\n" for row in rows))
            options = "format='newline_delimited'"
            if self.schema_ is not None:
                try:
                    columns = columns_of(self.schema_)
                except ValueError as error:
                    raise TaskFailed(str(error)) from None
                mapping = ", ".join(f"{_literal(name)}: {_literal(kind)}" for name, kind in columns.items())
                options += f", columns={{{mapping}}}"
            query = f"SELECT * FROM read_json({_literal(str(lines))}, {options})"
            try:
                duckdb.connect().execute(
                    f"COPY ({query}) TO {_literal(str(target))} "
                    f"(FORMAT parquet, COMPRESSION {self.compression_codec.lower()})"
                )
            except duckdb.Error as error:
                raise TaskFailed(f"{source} cannot be written as Parquet: {error}") from None
            return target.read_bytes()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@register
class ParquetToIon(Conversion):
    """Convert a Parquet file to Ion: one struct per row."""

    type_name: ClassVar[str] = "serdes.parquet.ParquetToIon"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_SERDES}.parquet.ParquetToIon",)
    extension: ClassVar[str] = ".ion"

    def convert(self, data: bytes, source: str) -> bytes:
        import duckdb

        folder = Path(tempfile.mkdtemp(prefix="stratoflow-parquet-"))
        try:
            path = folder / "in.parquet"
            path.write_bytes(data)
            try:
                cursor = duckdb.connect().execute(f"SELECT * FROM read_parquet({_literal(str(path))})")
            except duckdb.Error as error:
                raise TaskFailed(f"{source} is not a Parquet file DuckDB can read: {error}") from None
            names = [column[0] for column in cursor.description]
            return write_ion(
                {n: ion_value(v) for n, v in zip(names, row, strict=True)} for row in cursor.fetchall()
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
