"""`jdbc.duckdb.Query` / `Queries` on the embedded DuckDB engine, and the statement splitter the SQL
tasks share."""

from __future__ import annotations

from pathlib import Path

import pytest
from amazon.ion import simpleion

from stratoflow.flow import FlowValidationError, load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.jdbc.results import split_statements
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    load_task,
    outputs_of,
    run_until_stoppable,
)


def test_query_reads_an_input_file_and_fetches_by_fetch_type(
    run_flow: RunFlow, platform: LocalPlatform
) -> None:
    # Given: Kestra's DuckDB blueprint shape: a CSV given as inputFiles, read from {{ workingDir }}
    source = flow_source(
        """
        - id: csv
          type: storage.Write
          extension: .csv
          content: |
            product,price,sold
            tea,2.50,2024-01-01
            cake,4.00,2024-01-02
            tea,2.50,2024-01-03
        - id: one
          type: io.kestra.plugin.jdbc.duckdb.Query
          inputFiles:
            data.csv: "{{ outputs.csv.uri }}"
          sql: SELECT count(*) AS n, sum(price) AS total FROM read_csv_auto('{{ workingDir }}/data.csv')
          fetchType: FETCH_ONE
        - id: all
          type: io.kestra.plugin.jdbc.duckdb.Query
          inputFiles:
            data.csv: "{{ outputs.csv.uri }}"
          sql: |
            CREATE TABLE sales AS SELECT * FROM read_csv_auto('{{ workingDir }}/data.csv');
            SELECT product, sum(price) AS revenue, max(sold) AS last FROM sales GROUP BY product ORDER BY product;
          fetchType: FETCH
        - id: store
          type: io.kestra.plugin.jdbc.duckdb.Query
          sql: SELECT range AS i, range * 1.5 AS half FROM range(3)
          fetchType: STORE
        - id: none
          type: io.kestra.plugin.jdbc.duckdb.Query
          sql: SELECT 1
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert outputs_of(platform, outcome, "one") == {"row": {"n": 3, "total": 9.0}, "size": 1}
    assert outputs_of(platform, outcome, "all") == {
        "rows": [
            {"product": "cake", "revenue": 4.0, "last": "2024-01-02"},
            {"product": "tea", "revenue": 5.0, "last": "2024-01-03"},
        ],
        "size": 2,
    }
    stored = outputs_of(platform, outcome, "store")
    assert stored["size"] == 3 and stored["uri"].endswith(".ion")
    rows = [dict(row) for row in simpleion.loads(platform.blobs.get(stored["uri"]), single_value=False)]
    assert [row["i"] for row in rows] == [0, 1, 2] and str(rows[2]["half"]) == "3.0"
    assert outputs_of(platform, outcome, "none") == {}


def test_queries_gives_one_result_per_statement_and_stores_output_files(tmp_path: Path) -> None:
    # Given
    ctx = direct_context(tmp_path)
    task = load_task(
        "{id: q, type: io.kestra.plugin.jdbc.duckdb.Queries, fetchType: FETCH, outputFiles: [out.csv], sql: "
        "\"CREATE TABLE t AS SELECT 'a;b' AS x; SELECT * FROM t; COPY t TO '{{ outputFiles['out.csv'] }}' (HEADER);"
        ' SELECT 2 AS y"}'
    )

    # When
    outputs = task.run(ctx)

    # Then
    assert outputs["outputs"] == [{"rows": [{"x": "a;b"}], "size": 1}, {"rows": [{"y": 2}], "size": 1}]
    assert ctx.read_file(outputs["outputFiles"]["out.csv"]) == b"x\na;b\n"


def test_a_sql_error_fails_the_task_with_duckdbs_message(tmp_path: Path) -> None:
    # Given
    task = load_task("{id: q, type: jdbc.duckdb.Query, sql: SELECT * FROM missing_table}")

    # When / Then
    with pytest.raises(TaskFailed, match=r"DuckDB: .*missing_table"):
        task.run(direct_context(tmp_path))


def test_fetch_type_is_checked_when_the_flow_is_loaded() -> None:
    # Given / When / Then
    with pytest.raises(FlowValidationError, match="fetchType"):
        load_flow(flow_source("- {id: q, type: jdbc.duckdb.Query, sql: SELECT 1, fetchType: FETCH_ALL}"))


def test_statements_split_outside_strings_identifiers_and_comments() -> None:
    # Given
    script = """
        INSERT INTO t VALUES ('a;b', "c;d"); -- a comment; still a comment
        CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
        /* block; comment */ SELECT 2;
        -- only a comment;
    """

    # When
    statements = split_statements(script)

    # Then
    assert statements == [
        "INSERT INTO t VALUES ('a;b', \"c;d\")",
        "-- a comment; still a comment\n        CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
        "/* block; comment */ SELECT 2",
    ]


def test_a_running_query_is_interrupted_when_its_attempt_is_abandoned(tmp_path: Path) -> None:
    # Given a DuckDB query that would run for minutes, started on a thread of its own
    task = load_task(
        "{id: slow, type: jdbc.duckdb.Query, fetchType: FETCH_ONE,"
        " sql: 'SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3'}"
    )
    ctx = direct_context(tmp_path)
    worker, failures = run_until_stoppable(task, ctx)
    worker.join(0.5)  # let the query start: an interrupt before it would interrupt nothing

    # When the runner abandons the attempt
    ctx.stop("killed: task 'outer' timed out")
    worker.join(60)

    # Then the query stopped with DuckDB's interruption
    assert not worker.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], TaskFailed)
    assert "interrupt" in str(failures[0]).lower()
