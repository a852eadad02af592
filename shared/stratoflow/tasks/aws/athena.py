"""`aws.athena.Query`: run a query, wait for it with a bounded poll, and keep its rows.

Rows are typed from Athena's column types (integers, floats, booleans; the rest as text) and, with
the default `fetchType: STORE`, written to a stored file: JSON lines, or CSV with a header.
"""

from __future__ import annotations

import csv
import io
import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

from pydantic import AfterValidator, Field

from stratoflow.flow.fields import Duration
from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.aws.base import (
    KESTRA_AWS,
    AwsTask,
    Statement,
    pattern,
    regional_arn,
    render_text,
    statement,
)
from stratoflow.tasks.aws.fetch import FETCH_OUTPUTS, FetchType, fetch_outputs
from stratoflow.tasks.errors import TaskFailed, TaskTimeout

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_athena import AthenaClient

_INTEGERS = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOATS = {"float", "real", "double"}
_sleep = time.sleep  # replaced in tests: the poll's waits must not be real there


def s3_location(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> (bucket, prefix); an expression's unknown parts as `*`."""
    if not uri.startswith("s3://"):
        return "*", ""
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    return bucket, prefix


def _s3_uri(value: str) -> str:
    if not (value.startswith("s3://") or "{{" in value):
        raise ValueError(f"'{value}' is not an S3 location (s3://bucket/prefix/)")
    return value


def _typed(value: str | None, kind: str) -> Any:
    if value is None:
        return None
    try:
        if kind in _INTEGERS:
            return int(value)
        if kind in _FLOATS:
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return value.lower() == "true"
    return value


S3Uri = Annotated[str, AfterValidator(_s3_uri)]


@register
class AthenaQuery(AwsTask):
    """Run an Athena query and wait for it (bounded by `maxWait`); its rows go where `fetchType`
    says: a stored file (JSON lines or CSV, `storeFormat`) by default."""

    type_name: ClassVar[str] = "aws.athena.Query"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.athena.Query",)
    output_fields: ClassVar[dict[str, str]] = {
        "queryExecutionId": "the Athena query execution id",
        "rowCount": "number of rows",
        **FETCH_OUTPUTS,
        "size": "number of rows (Kestra's name)",
        "columns": "`[{name, type}]` of the result",
    }
    service: ClassVar[str] = "athena"
    cancel_operations: ClassVar[frozenset[str]] = frozenset({"StopQueryExecution"})

    def client(self, ctx: RunContext) -> AthenaClient:
        return cast("AthenaClient", super().client(ctx))  # a client of `service`

    query: str
    database: str
    output_location: S3Uri
    catalog: str = "AwsDataCatalog"
    work_group: str = "primary"
    fetch_type: FetchType = "STORE"
    store_format: Literal["JSONL", "CSV"] = "JSONL"
    skip_header: bool = True
    poll_interval: Duration = timedelta(seconds=1)
    max_wait: Duration = timedelta(minutes=10)
    # S3 locations (`s3://bucket/prefix`) of the tables the query reads: they narrow its IAM statement.
    data_locations: list[S3Uri] = Field(default_factory=list)

    def call(self, ctx: RunContext) -> dict[str, Any]:
        client = self.client(ctx)
        started = client.start_query_execution(
            QueryString=render_text(ctx, self.query),
            QueryExecutionContext={
                "Database": render_text(ctx, self.database),
                "Catalog": render_text(ctx, self.catalog),
            },
            ResultConfiguration={"OutputLocation": render_text(ctx, self.output_location)},
            WorkGroup=render_text(ctx, self.work_group),
        )
        query_id = started["QueryExecutionId"]
        ctx.log("INFO", f"Athena query {query_id} started")

        # An abandoned attempt stops its query: Athena would otherwise scan (and bill) on.
        def stop_query() -> None:
            client.stop_query_execution(QueryExecutionId=query_id)

        ctx.on_stop(stop_query)
        self._wait(client, query_id)
        columns, rows = self._rows(client, query_id)
        outputs: dict[str, Any] = {"queryExecutionId": query_id, "rowCount": len(rows), "columns": columns}
        if self.fetch_type == "STORE" and self.store_format == "CSV":
            outputs.update({"uri": ctx.put_file("result.csv", _csv(columns, rows)), "size": len(rows)})
        else:
            outputs.update(fetch_outputs(ctx, rows, self.fetch_type))
        return outputs

    def _wait(self, client: AthenaClient, query_id: str) -> None:
        interval = max(self.poll_interval.total_seconds(), 0.1)
        polls = max(1, math.ceil(self.max_wait.total_seconds() / interval))
        for poll in range(polls + 1):
            status = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage")
                raise TaskFailed(f"Athena query {query_id} {state}: {reason or 'no reason given'}")
            if poll < polls:
                _sleep(interval)
        client.stop_query_execution(QueryExecutionId=query_id)
        raise TaskTimeout(f"Athena query {query_id} still running after maxWait {self.max_wait}: stopped")

    def _rows(self, client: AthenaClient, query_id: str) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        columns: list[dict[str, str]] = []
        rows: list[dict[str, Any]] = []
        first = True
        for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
            result = page["ResultSet"]
            if not columns:
                info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = [{"name": c["Name"], "type": c.get("Type", "varchar")} for c in info]
            for row in result.get("Rows", []):
                values = [cell.get("VarCharValue") for cell in row.get("Data", [])]
                if first and self.skip_header and values == [c["name"] for c in columns]:
                    first = False
                    continue  # a SELECT's first row repeats the column names
                first = False
                rows.append({c["name"]: _typed(v, c["type"]) for c, v in zip(columns, values, strict=False)})
        return columns, rows

    def call_statements(self) -> list[Statement]:
        bucket, prefix = s3_location(self.output_location)
        database = pattern(self.database)
        statements = [
            statement(
                [
                    "athena:StartQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:StopQueryExecution",
                ],
                [regional_arn("athena", self.region, f"workgroup/{pattern(self.work_group)}")],
            ),
            statement(
                ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                [
                    regional_arn("glue", self.region, "catalog"),
                    regional_arn("glue", self.region, f"database/{database}"),
                    regional_arn("glue", self.region, f"table/{database}/*"),
                ],
            ),
            statement(
                ["s3:GetBucketLocation", "s3:ListBucket"],
                [f"arn:aws:s3:::{pattern(bucket)}"],
            ),
            statement(
                ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                [f"arn:aws:s3:::{pattern(bucket)}/{pattern(prefix)}*"],
            ),
        ]
        # The tables' data: only the flow knows where it lives; without `dataLocations`, any bucket.
        data = [s3_location(location) for location in self.data_locations]
        buckets = [f"arn:aws:s3:::{pattern(b)}" for b, _ in data] or ["arn:aws:s3:::*"]
        objects = [f"arn:aws:s3:::{pattern(b)}/{pattern(p)}*" for b, p in data] or ["arn:aws:s3:::*/*"]
        statements.append(statement(["s3:GetBucketLocation", "s3:ListBucket"], buckets))
        statements.append(statement(["s3:GetObject"], objects))
        return statements


def _csv(columns: list[dict[str, str]], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c["name"] for c in columns])
    for row in rows:
        writer.writerow(["" if row.get(c["name"]) is None else row[c["name"]] for c in columns])
    return buffer.getvalue().encode()
