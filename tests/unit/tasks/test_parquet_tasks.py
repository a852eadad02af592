"""Parquet <-> Ion through DuckDB, typed by Kestra's Avro schema."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from stratoflow.flow import FlowValidationError, load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.serdes.ion import read_ion
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task, outputs_of

SCHEMA = (
    '{"type": "record", "name": "Order", "fields": ['
    '{"name": "id", "type": "long"}, {"name": "item", "type": ["null", "string"]},'
    ' {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}}]}'
)


def test_ion_to_parquet_typed_by_the_avro_schema_and_back(
    run_flow: RunFlow, platform: LocalPlatform, tmp_path: Path
) -> None:
    # Given: Kestra's IonToParquet with its schema, then ParquetToIon
    source = flow_source(
        f"""
        - id: rows
          type: storage.Write
          content: |
            {{id:1,item:"tea",price:2.50}}
            {{id:2,item:null,price:4}}
        - id: parquet
          type: io.kestra.plugin.serdes.parquet.IonToParquet
          from: "{{{{ outputs.rows.uri }}}}"
          compressionCodec: SNAPPY
          schema: '{SCHEMA}'
        - {{id: back, type: io.kestra.plugin.serdes.parquet.ParquetToIon, from: "{{{{ outputs.parquet.uri }}}}"}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then: the Parquet file has the schema's types, and reads back as the rows written
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    parquet = outputs_of(platform, outcome, "parquet")["uri"]
    assert parquet.endswith(".parquet")
    path = tmp_path / "check.parquet"
    path.write_bytes(platform.blobs.get(parquet))
    described = duckdb.connect().execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    assert [(row[0], row[1]) for row in described] == [
        ("id", "BIGINT"),
        ("item", "VARCHAR"),
        ("price", "DECIMAL(6,2)"),
    ]
    back = read_ion(platform.blobs.get(outputs_of(platform, outcome, "back")["uri"]))
    assert back == [
        {"id": 1, "item": "tea", "price": Decimal("2.50")},
        {"id": 2, "item": None, "price": Decimal("4.00")},
    ]


def test_a_schema_it_cannot_map_is_refused_when_the_flow_is_loaded() -> None:
    # Given / When / Then
    with pytest.raises(FlowValidationError, match=r"field 'tags': Avro type .*array.* is not supported"):
        load_flow(
            flow_source(
                "- id: p\n  type: serdes.parquet.IonToParquet\n  from: x\n"
                '  schema: \'{"type": "record", "name": "r", "fields": [{"name": "tags", "type": {"type": "array", "items": "string"}}]}\''
            )
        )


def test_a_file_that_is_not_parquet_fails_with_the_reason(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path)
    uri = ctx.put_file("fake.parquet", b"not parquet at all")

    # When / Then
    with pytest.raises(TaskFailed, match="is not a Parquet file DuckDB can read"):
        load_task(f'{{id: p, type: serdes.parquet.ParquetToIon, from: "{uri}"}}').run(ctx)
