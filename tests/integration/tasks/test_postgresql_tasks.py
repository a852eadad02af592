"""`jdbc.postgresql.Query`, `Queries` and `CopyIn` against a real PostgreSQL (see postgres_server)."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import pytest
from amazon.ion import simpleion

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.errors import TaskFailed
from tests.integration.tasks.postgres_server import Postgres
from tests.unit.tasks.task_helpers import (
    RunFlow,
    direct_context,
    flow_source,
    load_task,
    outputs_of,
    run_until_stoppable,
)


def test_queries_then_query_with_every_fetch_type(
    run_flow: RunFlow, platform: LocalPlatform, postgres: Postgres
) -> None:
    # Given: Kestra's names; a script in one transaction, then reads
    pg = postgres
    common = f"url: {pg.url}, username: {pg.user}, password: {pg.password}"
    source = flow_source(
        f"""
        - id: setup
          type: io.kestra.plugin.jdbc.postgresql.Queries
          url: {pg.url}
          username: {pg.user}
          password: {pg.password}
          fetchType: FETCH
          sql: |
            DROP TABLE IF EXISTS orders;
            CREATE TABLE orders (id int PRIMARY KEY, item text, price numeric(6,2), at timestamptz);
            INSERT INTO orders VALUES (1, 'tea; hot', 2.50, '2024-01-01T10:00:00Z'), (2, 'cake', 4, NULL);
            SELECT count(*) AS n FROM orders;
        - {{id: one, type: io.kestra.plugin.jdbc.postgresql.Query, {common}, fetchType: FETCH_ONE,
            sql: "SELECT * FROM orders ORDER BY id"}}
        - {{id: all, type: io.kestra.plugin.jdbc.postgresql.Query, {common}, fetchType: FETCH,
            sql: "SELECT id, item FROM orders WHERE price > {{{{ 1 + 1 }}}} ORDER BY id"}}
        - {{id: store, type: io.kestra.plugin.jdbc.postgresql.Query, {common}, fetchType: STORE,
            sql: "SELECT id, price FROM orders ORDER BY id"}}
        - {{id: none, type: io.kestra.plugin.jdbc.postgresql.Query, {common}, sql: "UPDATE orders SET price = 3"}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert outputs_of(platform, outcome, "setup") == {"outputs": [{"rows": [{"n": 2}], "size": 1}]}
    assert outputs_of(platform, outcome, "one") == {
        "row": {"id": 1, "item": "tea; hot", "price": 2.5, "at": "2024-01-01T10:00:00+00:00"},
        "size": 1,
    }
    assert outputs_of(platform, outcome, "all")["rows"] == [
        {"id": 1, "item": "tea; hot"},
        {"id": 2, "item": "cake"},
    ]
    stored = outputs_of(platform, outcome, "store")
    rows = simpleion.loads(platform.blobs.get(stored["uri"]), single_value=False)
    assert stored["size"] == 2 and [str(row["price"]) for row in rows] == ["2.50", "4.00"]
    assert outputs_of(platform, outcome, "none") == {}


def test_a_failing_statement_rolls_the_whole_script_back(tmp_path: Path, postgres: Postgres) -> None:
    # Given
    ctx = direct_context(tmp_path)
    common = f"url: {postgres.url}, username: {postgres.user}, password: {postgres.password}"
    load_task(
        f'{{id: s, type: jdbc.postgresql.Queries, {common}, sql: "DROP TABLE IF EXISTS kept; CREATE TABLE kept (v int)"}}'
    ).run(ctx)
    script = load_task(
        f'{{id: s, type: jdbc.postgresql.Queries, {common}, sql: "INSERT INTO kept VALUES (1); SELECT 1/0"}}'
    )

    # When
    with pytest.raises(TaskFailed, match="PostgreSQL: division by zero"):
        script.run(ctx)

    # Then
    count = load_task(
        f'{{id: c, type: jdbc.postgresql.Query, {common}, fetchType: FETCH_ONE, sql: "SELECT count(*) AS n FROM kept"}}'
    )
    assert count.run(ctx)["row"] == {"n": 0}


def test_copy_in_loads_a_stored_csv(tmp_path: Path, postgres: Postgres) -> None:
    # Given
    ctx = direct_context(tmp_path)
    common = f"url: {postgres.url}, username: {postgres.user}, password: {postgres.password}"
    load_task(
        f'{{id: s, type: jdbc.postgresql.Queries, {common}, sql: "DROP TABLE IF EXISTS people; CREATE TABLE people (name text, city text)"}}'
    ).run(ctx)
    uri = ctx.put_file("people.csv", b"name;city\nAda;London\nBo;\n")
    copy = load_task(
        f'{{id: c, type: io.kestra.plugin.jdbc.postgresql.CopyIn, {common}, table: people, from: "{uri}",'
        ' format: CSV, header: true, delimiter: ";", columns: [name, city]}'
    )

    # When
    outputs = copy.run(ctx)

    # Then
    assert outputs == {"rowCount": 2}
    read = load_task(
        f'{{id: r, type: jdbc.postgresql.Query, {common}, fetchType: FETCH, sql: "SELECT * FROM people ORDER BY name"}}'
    )
    assert read.run(ctx)["rows"] == [{"name": "Ada", "city": "London"}, {"name": "Bo", "city": None}]


def test_wrong_password_and_several_statements_in_query_fail_clearly(
    tmp_path: Path, postgres: Postgres
) -> None:
    # Given
    ctx = direct_context(tmp_path)
    wrong = load_task(
        f"{{id: q, type: jdbc.postgresql.Query, url: {postgres.url}, username: postgres, password: nope, sql: SELECT 1}}"
    )
    several = load_task(
        f'{{id: q, type: jdbc.postgresql.Query, url: {postgres.url}, username: postgres, password: {postgres.password}, sql: "SELECT 1; SELECT 2"}}'
    )

    # When / Then
    with pytest.raises(
        TaskFailed, match=f"cannot connect to 127.0.0.1:{postgres.port}: password authentication failed"
    ):
        wrong.run(ctx)
    with pytest.raises(TaskFailed, match=r"use jdbc\.postgresql\.Queries"):
        several.run(ctx)


def test_a_running_statement_is_cancelled_when_its_attempt_is_abandoned(
    tmp_path: Path, postgres: Postgres
) -> None:
    # Given a statement that would run for ten minutes, started on a thread of its own
    task = load_task(
        f"{{id: slow, type: jdbc.postgresql.Query, url: {postgres.url}, username: {postgres.user},"
        f" password: {postgres.password}, sql: 'SELECT pg_sleep(600)'}}"
    )
    ctx = direct_context(tmp_path)
    worker, failures = run_until_stoppable(task, ctx)
    _wait_until_running(postgres, "SELECT pg_sleep(600)")  # a cancel before it would cancel nothing

    # When the runner abandons the attempt
    ctx.stop("killed: task 'outer' timed out")
    worker.join(60)

    # Then the server cancelled the statement
    assert not worker.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], TaskFailed)
    assert "canceling statement due to user request" in str(failures[0])


def _wait_until_running(postgres: Postgres, sql: str) -> None:
    import pg8000.native

    with closing(
        pg8000.native.Connection(
            host=postgres.host, port=postgres.port, user=postgres.user, password=postgres.password
        )
    ) as watcher:
        for _ in range(600):
            rows = watcher.run(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = :q", q=sql
            )
            if rows[0][0]:
                return
            time.sleep(0.1)
    raise AssertionError(f"{sql} never ran")
