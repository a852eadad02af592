"""Avro <-> Ion with fastavro, typed by Kestra's Avro schema."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

import fastavro
import pytest

from stratoflow.flow import FlowValidationError
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.serdes.ion import read_ion
from stratoflow.tasks.serdes.text_values import TextValues
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


RIDES = (
    '{"type": "record", "name": "Ride", "namespace": "com.example.bikeshare", "fields": ['
    '{"name": "ride_id", "type": "string"},'
    ' {"name": "started_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},'
    ' {"name": "day", "type": {"type": "int", "logicalType": "date"}},'
    ' {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},'
    ' {"name": "member", "type": "boolean"},'
    ' {"name": "end_lat", "type": ["null", "double"], "default": null},'
    ' {"name": "cost", "type": {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}},'
    ' {"name": "stops", "type": "int"}]}'
)


def test_csv_text_is_typed_by_the_schema_with_kestras_text_options(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given Kestra's CSV -> Ion -> Avro blueprint: every CSV cell is text, and IonToAvro's text
    # options say how to read it (a local date-time in Paris, day-first dates, a decimal comma)
    source = flow_source(
        f"""
        - id: csv
          type: storage.Write
          content: |
            ride_id;started_at;day;at;member;end_lat;cost;stops
            r1;2024-03-01 08:30:00;01/03/2024;08:30;oui;48,85;2,50;3
            r2;2024-03-02 23:05:10;02/03/2024;23:05:10;non;NA;4,00;0
        - id: ion
          type: io.kestra.plugin.serdes.csv.CsvToIon
          from: "{{{{ outputs.csv.uri }}}}"
          fieldSeparator: ";"
        - id: avro
          type: io.kestra.plugin.serdes.avro.IonToAvro
          from: "{{{{ outputs.ion.uri }}}}"
          datetimeFormat: "yyyy-MM-dd' 'HH:mm:ss"
          dateFormat: dd/MM/yyyy
          timeFormat: "HH:mm[:ss]"
          timeZoneId: Europe/Paris
          trueValues: [oui]
          falseValues: [non]
          decimalSeparator: ","
          schema: '{RIDES}'
        """
    )

    # When
    outcome = run_flow(source)

    # Then every field has the schema's type, the date-time read in Paris (UTC+1 in March)
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    records = list(
        fastavro.reader(io.BytesIO(platform.blobs.get(outputs_of(platform, outcome, "avro")["uri"])))
    )
    assert records[0] == {
        "ride_id": "r1",
        "started_at": datetime(2024, 3, 1, 7, 30, tzinfo=UTC),
        "day": date(2024, 3, 1),
        "at": time(8, 30),
        "member": True,
        "end_lat": 48.85,
        "cost": Decimal("2.50"),
        "stops": 3,
    }
    assert (records[1]["member"], records[1]["end_lat"], records[1]["at"]) == (False, None, time(23, 5, 10))


@pytest.mark.parametrize(
    ("options", "row", "fragment"),
    [
        ("strictSchema: true", '{id:"1",extra:"x"}', "field 'extra' is not in the schema (strictSchema)"),
        ("", '{id:"one"}', "field 'id': invalid literal"),
        ("", '{id:"NA"}', "field 'id'"),
        ("inferAllFields: true", '{id:"NA"}', "row 1 does not fit the schema"),
    ],
)
def test_text_that_fits_no_type_of_its_field_fails_the_task_with_its_row(
    run_flow: RunFlow, options: str, row: str, fragment: str
) -> None:
    # Given a schema with one long field, and a row whose text is not one
    schema = '{"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}'
    source = flow_source(
        f"""
        - {{id: rows, type: storage.Write, content: '{row}'}}
        - {{id: avro, type: serdes.avro.IonToAvro, from: "{{{{ outputs.rows.uri }}}}", schema: '{schema}', {options}}}
        """.replace(", }}", "}}")
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.FAILED
    error = outcome.task_runs[-1].error or ""
    assert "row 1" in error and fragment in error


def test_extra_fields_are_left_out_unless_the_schema_is_strict(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    schema = '{"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}'
    source = flow_source(
        f"""
        - {{id: rows, type: storage.Write, content: '{{id:"7",extra:"x"}}'}}
        - {{id: avro, type: serdes.avro.IonToAvro, from: "{{{{ outputs.rows.uri }}}}", schema: '{schema}'}}
        """
    )

    outcome = run_flow(source)

    records = list(
        fastavro.reader(io.BytesIO(platform.blobs.get(outputs_of(platform, outcome, "avro")["uri"])))
    )
    assert records == [{"id": 7}]


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        ("dateFormat: 'yyyy-QQ'", "pattern letter 'Q' is not supported"),
        ("datetimeFormat: \"yyyy-MM-dd['T'HH\"", "unbalanced '['"),
        ("timeZoneId: Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("decimalSeparator: ',,'", "must be one character"),
    ],
)
def test_text_options_that_cannot_be_read_are_refused_when_the_flow_loads(option: str, fragment: str) -> None:
    with pytest.raises(FlowValidationError, match=re.escape(fragment)):
        load_task("{id: a, type: serdes.avro.IonToAvro, from: x, schema: '" + SCHEMA + "', " + option + "}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01T08:30", datetime(2024, 3, 1, 8, 30, tzinfo=UTC)),
        ("2024-03-01T08:30:15.25+02:00", datetime(2024, 3, 1, 6, 30, 15, 250000, tzinfo=UTC)),
        ("2024-03-01T08:30:15Z", datetime(2024, 3, 1, 8, 30, 15, tzinfo=UTC)),
    ],
)
def test_kestras_default_datetime_format_reads_its_optional_parts(text: str, expected: datetime) -> None:
    # Given Kestra's default datetimeFormat, yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS][XXX], in UTC
    # When / Then
    assert TextValues().parse_datetime(text) == expected
