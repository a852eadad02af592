"""`aws.athena.Query` on moto: canned results, a bounded poll, rows stored as JSON lines or CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager
from moto.moto_api._internal.models import moto_api_backend

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.aws import athena
from stratoflow.tasks.errors import TaskStopped, TaskTimeout
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task, outputs_of

COLUMNS = [
    {"Name": "region", "Type": "varchar"},
    {"Name": "orders", "Type": "bigint"},
    {"Name": "avg", "Type": "double"},
]


def row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


@pytest.fixture
def results(aws: None) -> None:
    boto3.client("s3").create_bucket(Bucket="athena-results")
    rows = [row("region", "orders", "avg"), row("eu", "3", "12.5"), row("us", "1", None)]
    moto_api_backend.set_athena_result(rows, COLUMNS, DEFAULT_ACCOUNT_ID, "us-east-1")


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The poll's waits, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(athena, "_sleep", recorded.append)
    return recorded


QUERY = "{id: q, type: aws.athena.Query, query: 'SELECT region, count(*) FROM orders', database: sales, outputLocation: 's3://athena-results/q/'"


def test_rows_are_typed_and_stored_as_json_lines(
    run_flow: RunFlow, platform: LocalPlatform, results: None, waits: list[float]
) -> None:
    # When
    outcome = run_flow(
        flow_source(f"- {QUERY}}}\n- {{id: n, type: Return, format: '{{{{ outputs.q.rowCount }}}}'}}")
    )

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    outputs = outputs_of(platform, outcome, "q")
    assert outputs["queryExecutionId"] and outputs["rowCount"] == outputs["size"] == 2
    assert outputs["columns"] == [
        {"name": "region", "type": "varchar"},
        {"name": "orders", "type": "bigint"},
        {"name": "avg", "type": "double"},
    ]
    lines = [json.loads(line) for line in platform.blobs.get(outputs["uri"]).decode().splitlines()]
    assert lines == [{"region": "eu", "orders": 3, "avg": 12.5}, {"region": "us", "orders": 1, "avg": None}]
    assert outputs_of(platform, outcome, "n")["value"] == 2
    assert waits == []


def test_rows_as_csv_or_fetched_into_outputs(tmp_path: Path, results: None, waits: list[float]) -> None:
    ctx = direct_context(tmp_path)

    stored = load_task(f"{QUERY}, storeFormat: CSV}}").run(ctx)
    moto_api_backend.set_athena_result(
        [row("region", "orders", "avg"), row("eu", "3", "1.5")], COLUMNS, DEFAULT_ACCOUNT_ID, "us-east-1"
    )
    fetched = load_task(f"{QUERY}, fetchType: FETCH}}").run(ctx)

    assert ctx.read_file(stored["uri"]) == b"region,orders,avg\r\neu,3,12.5\r\nus,1,\r\n"
    assert fetched["rows"] == [{"region": "eu", "orders": 3, "avg": 1.5}]


def test_the_query_is_polled_until_it_succeeds(tmp_path: Path, results: None, waits: list[float]) -> None:
    # Given: moto answers QUEUED, then RUNNING, before SUCCEEDED
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 2})
    try:
        # When
        outputs = load_task(f"{QUERY}, pollInterval: PT2S}}").run(direct_context(tmp_path))
    finally:
        state_manager.unset_transition("athena::execution")

    # Then
    assert outputs["rowCount"] == 2
    assert waits and all(w == 2.0 for w in waits)


def test_a_query_still_running_after_max_wait_is_stopped(
    tmp_path: Path, results: None, waits: list[float]
) -> None:
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 100})
    try:
        with pytest.raises(TaskTimeout, match="still running after maxWait"):
            load_task(f"{QUERY}, pollInterval: PT1S, maxWait: PT3S}}").run(direct_context(tmp_path))
    finally:
        state_manager.unset_transition("athena::execution")

    assert waits == [1.0, 1.0, 1.0]
    executions = boto3.client("athena").list_query_executions()["QueryExecutionIds"]
    status = boto3.client("athena").get_query_execution(QueryExecutionId=executions[0])["QueryExecution"][
        "Status"
    ]
    assert status["State"] == "CANCELLED"


def test_an_abandoned_attempt_stops_its_query(
    tmp_path: Path, results: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a query that stays RUNNING, and a runner that abandons the attempt during the first wait
    ctx = direct_context(tmp_path)
    monkeypatch.setattr(athena, "_sleep", lambda _: ctx.stop("killed: task 'outer' timed out"))
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 100})
    try:
        # When the task polls on / Then its next poll is refused
        with pytest.raises(TaskStopped, match="the attempt was abandoned"):
            load_task(f"{QUERY}, pollInterval: PT1S, maxWait: PT1H}}").run(ctx)
    finally:
        state_manager.unset_transition("athena::execution")

    # ... and the cancel hook stopped the query in Athena
    executions = boto3.client("athena").list_query_executions()["QueryExecutionIds"]
    status = boto3.client("athena").get_query_execution(QueryExecutionId=executions[0])["QueryExecution"][
        "Status"
    ]
    assert status["State"] == "CANCELLED"
