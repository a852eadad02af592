"""Serdes conversions between CSV, JSON, JSON Lines and Ion, in Kestra-shaped flows."""

from __future__ import annotations

from pathlib import Path

import pytest
from amazon.ion import simpleion

from stratoflow.flow import FlowValidationError, load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task, outputs_of

CSV = b'id,name,note\n1,Ada,"likes, commas"\n2,Bo,\n'


def test_csv_to_ion_to_json_lines_and_back_to_csv(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given: the chain of Kestra's blueprints (download a CSV, convert to Ion, then to JSON / CSV)
    source = flow_source(
        """
        - id: csv
          type: storage.Write
          extension: .csv
          content: |
            id,name,note
            1,Ada,"likes, commas"
            2,Bo,
        - {id: ion, type: io.kestra.plugin.serdes.csv.CsvToIon, from: "{{ outputs.csv.uri }}"}
        - {id: jsonl, type: io.kestra.plugin.serdes.json.IonToJson, from: "{{ outputs.ion.uri }}"}
        - {id: array, type: io.kestra.plugin.serdes.json.IonToJson, from: "{{ outputs.ion.uri }}", newLine: false}
        - {id: back, type: io.kestra.plugin.serdes.json.JsonToIon, from: "{{ outputs.jsonl.uri }}"}
        - {id: csv2, type: io.kestra.plugin.serdes.csv.IonToCsv, from: "{{ outputs.back.uri }}"}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]

    def stored(task_id: str) -> bytes:
        return platform.blobs.get(outputs_of(platform, outcome, task_id)["uri"])

    ion_uri = outputs_of(platform, outcome, "ion")["uri"]
    assert ion_uri.endswith(".ion")
    rows = simpleion.loads(stored("ion"), single_value=False)
    assert [dict(row) for row in rows] == [
        {"id": "1", "name": "Ada", "note": "likes, commas"},
        {"id": "2", "name": "Bo", "note": ""},
    ]
    assert stored("jsonl") == (
        b'{"id": "1", "name": "Ada", "note": "likes, commas"}\n{"id": "2", "name": "Bo", "note": ""}\n'
    )
    assert outputs_of(platform, outcome, "jsonl")["uri"].endswith(".jsonl")
    assert outputs_of(platform, outcome, "array")["uri"].endswith(".json")
    assert stored("array").startswith(b'[{"id": "1"')
    assert stored("csv2") == CSV


def test_ion_types_become_json_and_csv_values(tmp_path: Path) -> None:
    # Given: decimals, timestamps, nulls, symbols and nested values, as Kestra's Ion files hold
    ctx = direct_context(tmp_path)
    uri = ctx.put_file(
        "rows.ion", b"{n:12,d:12.50,t:2024-01-02T03:04:05Z,s:sym,z:null,nested:{a:[1,2]},f:1.5e0}\n"
    )

    # When
    json_uri = load_task(f'{{id: j, type: serdes.json.IonToJson, from: "{uri}"}}').run(ctx)["uri"]
    csv_uri = load_task(f'{{id: c, type: serdes.csv.IonToCsv, from: "{uri}", alwaysDelimitText: true}}').run(
        ctx
    )["uri"]

    # Then
    assert ctx.read_file(json_uri) == (
        b'{"n": 12, "d": 12.5, "t": "2024-01-02T03:04:05+00:00", "s": "sym", "z": null,'
        b' "nested": {"a": [1, 2]}, "f": 1.5}\n'
    )
    assert ctx.read_file(csv_uri).decode().splitlines() == [
        '"n","d","t","s","z","nested","f"',
        '12,12.50,"2024-01-02T03:04:05+00:00","sym","","{""a"": [1, 2]}",1.5',
    ]


def test_json_document_to_ion_gives_one_value_per_array_element(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path)
    uri = ctx.put_file("items.json", b'[{"id": 1, "price": 9.99}, {"id": 2, "tags": ["a"]}]')

    # When
    out = load_task(f'{{id: j, type: serdes.json.JsonToIon, from: "{uri}", newLine: false}}').run(ctx)["uri"]

    # Then
    assert ctx.read_file(out) == b'{id:1,price:9.99}\n{id:2,tags:["a"]}\n'


def test_csv_options_separator_skip_rows_and_no_header(tmp_path: Path) -> None:
    # Given: a semicolon file with a title line, read without a header
    ctx = direct_context(tmp_path)
    uri = ctx.put_file("in.csv", b"title\na;b\n\nc;d\n")

    # When
    out = load_task(
        f'{{id: c, type: serdes.csv.CsvToIon, from: "{uri}", fieldSeparator: ";", skipRows: 1,'
        " header: false, skipEmptyRows: true}"
    ).run(ctx)["uri"]

    # Then
    assert ctx.read_file(out) == b'["a","b"]\n["c","d"]\n'


def test_bad_input_fails_with_the_file_and_the_reason(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path)
    lines = ctx.put_file("bad.jsonl", b'{"a": 1}\n{"a": \n')
    ion = ctx.put_file("bad.ion", b"{a:")
    ragged = ctx.put_file("ragged.csv", b"a,b\n1,2,3\n")

    # When / Then
    with pytest.raises(TaskFailed, match=r"bad.jsonl is not JSON Lines \(newLine: true\)"):
        load_task(f'{{id: j, type: serdes.json.JsonToIon, from: "{lines}"}}').run(ctx)
    with pytest.raises(TaskFailed, match=r"bad\.ion is not valid Ion"):
        load_task(f'{{id: j, type: serdes.json.IonToJson, from: "{ion}"}}').run(ctx)
    with pytest.raises(TaskFailed, match="line 2 has 3 fields, the header 2"):
        load_task(
            f'{{id: c, type: serdes.csv.CsvToIon, from: "{ragged}", errorOnDifferentFieldCount: true}}'
        ).run(ctx)
    with pytest.raises(TaskFailed, match="'from' must be a storage URI"):
        load_task("{id: c, type: serdes.csv.CsvToIon, from: /etc/passwd}").run(ctx)


def test_options_are_checked_when_the_flow_is_loaded() -> None:
    # Given / When / Then
    with pytest.raises(FlowValidationError, match="must be one character"):
        load_flow(flow_source('- {id: c, type: serdes.csv.CsvToIon, from: x, fieldSeparator: ";;"}'))
    with pytest.raises(FlowValidationError, match="unknown charset 'klingon'"):
        load_flow(flow_source("- {id: c, type: serdes.csv.IonToCsv, from: x, charset: klingon}"))
