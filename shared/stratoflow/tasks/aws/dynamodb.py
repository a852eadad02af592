"""DynamoDB tasks: `aws.dynamodb.PutItem`, `GetItem` and `Query`, with items as plain JSON.

Items are written and read as ordinary maps (`{"id": 1, "tags": ["a"]}`), not as DynamoDB's typed
attribute values: numbers become Decimals on the way in and ints or floats on the way out.
"""

from __future__ import annotations

import base64
import contextlib
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.aws.base import (
    KESTRA_AWS,
    EncryptedAwsTask,
    Statement,
    pattern,
    regional_arn,
    render_text,
    statement,
)
from stratoflow.tasks.aws.fetch import FETCH_OUTPUTS, FetchType, fetch_outputs
from stratoflow.tasks.errors import TaskFailed

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_dynamodb import DynamoDBClient


def to_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """A plain JSON map -> DynamoDB attribute values (floats go through Decimal, as boto3 requires)."""
    from boto3.dynamodb.types import TypeSerializer

    exact = json.loads(json.dumps(value), parse_float=Decimal)
    serializer = TypeSerializer()
    return {key: serializer.serialize(item) for key, item in exact.items()}


def _plain(value: Any) -> Any:
    from boto3.dynamodb.types import Binary

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode()  # type: ignore[attr-defined]  # the stubs omit .value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=str)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values -> a plain JSON map."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: _plain(deserializer.deserialize(value)) for key, value in item.items()}


def _as_map(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if not isinstance(value, dict):
        raise TaskFailed(f"{what} must be a map (or a JSON object), got {type(value).__name__}")
    return value


class DynamoTask(EncryptedAwsTask):
    service: ClassVar[str] = "dynamodb"

    def client(self, ctx: RunContext) -> DynamoDBClient:
        return cast("DynamoDBClient", super().client(ctx))  # a client of `service`

    table_name: str

    def table_arn(self) -> str:
        return regional_arn("dynamodb", self.region, f"table/{pattern(self.table_name)}")


@register
class PutItem(DynamoTask):
    """Write one item (a map, or a JSON object as text), replacing any item with the same key."""

    type_name: ClassVar[str] = "aws.dynamodb.PutItem"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.dynamodb.PutItem",)
    output_fields: ClassVar[dict[str, str]] = {}

    item: dict[str, Any] | str

    def call(self, ctx: RunContext) -> dict[str, Any]:
        item = _as_map(ctx.render(self.item), "item")
        self.client(ctx).put_item(TableName=render_text(ctx, self.table_name), Item=to_attributes(item))
        return {}

    def call_statements(self) -> list[Statement]:
        return [statement(["dynamodb:PutItem"], [self.table_arn()])]


@register
class GetItem(DynamoTask):
    """Read one item by its `key`; output `row` is null when there is none."""

    type_name: ClassVar[str] = "aws.dynamodb.GetItem"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.dynamodb.GetItem",)
    output_fields: ClassVar[dict[str, str]] = {"row": "the item as a map, or null"}

    key: dict[str, Any] | str
    consistent_read: bool = False

    def call(self, ctx: RunContext) -> dict[str, Any]:
        key = _as_map(ctx.render(self.key), "key")
        response = self.client(ctx).get_item(
            TableName=render_text(ctx, self.table_name),
            Key=to_attributes(key),
            ConsistentRead=self.consistent_read,
        )
        item = response.get("Item")
        return {"row": from_attributes(item) if item is not None else None}

    def call_statements(self) -> list[Statement]:
        return [statement(["dynamodb:GetItem"], [self.table_arn()])]


@register
class Query(DynamoTask):
    """Query a table (or an index) by `keyConditionExpression`; rows as `fetchType` says (Kestra's
    default STORE: a JSON-lines file)."""

    type_name: ClassVar[str] = "aws.dynamodb.Query"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.dynamodb.Query",)
    output_fields: ClassVar[dict[str, str]] = FETCH_OUTPUTS

    key_condition_expression: str
    expression_attribute_values: dict[str, Any] = Field(default_factory=dict)
    expression_attribute_names: dict[str, str] = Field(default_factory=dict)
    filter_expression: str | None = None
    index_name: str | None = None
    limit: int | None = Field(default=None, ge=1)
    fetch_type: FetchType = "STORE"

    def call(self, ctx: RunContext) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": render_text(ctx, self.table_name),
            "KeyConditionExpression": render_text(ctx, self.key_condition_expression),
        }
        values = _as_map(ctx.render(self.expression_attribute_values), "expressionAttributeValues")
        if values:
            request["ExpressionAttributeValues"] = to_attributes(values)
        if self.expression_attribute_names:
            request["ExpressionAttributeNames"] = ctx.render(self.expression_attribute_names)
        if self.filter_expression is not None:
            request["FilterExpression"] = render_text(ctx, self.filter_expression)
        if self.index_name is not None:
            request["IndexName"] = render_text(ctx, self.index_name)
        rows: list[dict[str, Any]] = []
        for page in self.client(ctx).get_paginator("query").paginate(**request):
            rows.extend(from_attributes(item) for item in page.get("Items", []))
            if self.limit is not None and len(rows) >= self.limit:
                rows = rows[: self.limit]
                break
        return fetch_outputs(ctx, rows, self.fetch_type)

    def call_statements(self) -> list[Statement]:
        resources = [self.table_arn()]
        if self.index_name is not None:
            resources = [f"{self.table_arn()}/index/{pattern(self.index_name)}"]
        return [statement(["dynamodb:Query"], resources)]
