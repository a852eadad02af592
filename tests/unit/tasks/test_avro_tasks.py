"""Avro <-> Ion with fastavro, typed by Kestra's Avro schema."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import fastavro
import pytest

from stratoflow.flow import FlowValidationError
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.serdes.ion import read_ion
from tests.unit.tasks.task_helpers import RunFlow, flow_source, load_task, outputs_of

SCHEMA = (
    '{"type": "record", "name": "Order", "fields": ['
    '{"name": "id", "type": "long"}, {"name": "item", "type": ["null", "string"]},'
    ' {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}},'
    ' {"name": "day", "type": {"type": "int", "logicalType": "date"}}]}'
)


def test_ion_to_avro_typed_by_the_schema_and_back(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: Kestra's IonToAvro with its schema, then AvroToIon
    source = flow_source(
        f"""
        - id: rows
          type: storage.Write
          content: |
            {{id:1,item:"tea",price:2.50,day:2024-03-01}}
            {{id:2,item:null,price:4.00,day:2024-03-02}}
        - id: avro
          type: io.kestra.plugin.serdes.avro.IonToAvro
          from: "{{{{ outputs.rows.uri }}}}"
          schema: '{SCHEMA}'
        - {{id: back, type: io.kestra.plugin.serdes.avro.AvroToIon, from: "{{{{ outputs.avro.uri }}}}"}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then: a real Avro file with the schema's types, read back as the rows written
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    uri = outputs_of(platform, outcome, "avro")["uri"]
    assert uri.endswith(".avro")
    records = list(fastavro.reader(io.BytesIO(platform.blobs.get(uri))))
    assert records[0] == {"id": 1, "item": "tea", "price": Decimal("2.50"), "day": date(2024, 3, 1)}
    back = read_ion(platform.blobs.get(outputs_of(platform, outcome, "back")["uri"]))
    assert back == [
        {"id": 1, "item": "tea", "price": Decimal("2.50"), "day": "2024-03-01"},
        {"id": 2, "item": None, "price": Decimal("4.00"), "day": "2024-03-02"},
    ]


def test_a_row_that_does_not_fit_the_schema_fails_with_its_number(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given: the second row's id is text
    source = flow_source(
        f"""
        - id: rows
          type: storage.Write
          content: |
            {{id:1,item:"tea",price:2.50,day:2024-03-01}}
            {{id:"two",item:"x",price:1.00,day:2024-03-01}}
        - {{id: avro, type: serdes.avro.IonToAvro, from: "{{{{ outputs.rows.uri }}}}", schema: '{SCHEMA}'}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.FAILED
    error = outcome.task_runs[-1].error or ""
    assert "row 2 does not fit the schema" in error and "id" in error


def test_a_schema_that_is_not_avro_is_refused_when_the_flow_loads() -> None:
    # Given / When / Then
    with pytest.raises(FlowValidationError, match="not a valid Avro schema"):
        load_task(
            '{id: a, type: serdes.avro.IonToAvro, from: x, schema: \'{"type": "record", "fields": 3}\'}'
        )
