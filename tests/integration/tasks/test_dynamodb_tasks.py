"""DynamoDB tasks on moto: plain JSON items in and out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.aws import AwsNotFound
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task, outputs_of


@pytest.fixture
def table(aws: None) -> Any:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="orders",
        KeySchema=[
            {"AttributeName": "customer", "KeyType": "HASH"},
            {"AttributeName": "id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "customer", "AttributeType": "S"},
            {"AttributeName": "id", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def test_put_get_and_query_with_plain_json(run_flow: RunFlow, platform: LocalPlatform, table: Any) -> None:
    # Given
    source = flow_source(
        """
        - id: put1
          type: aws.dynamodb.PutItem
          tableName: orders
          item: {customer: ada, id: 1, total: 12.5, lines: [{sku: a, qty: 2}], paid: true, note: null}
        - id: put2
          type: aws.dynamodb.PutItem
          tableName: orders
          item: '{"customer": "ada", "id": 2, "total": 3}'
        - {id: put3, type: aws.dynamodb.PutItem, tableName: orders, item: {customer: bob, id: 1, total: 1}}
        - {id: get, type: aws.dynamodb.GetItem, tableName: orders, key: {customer: ada, id: 1}}
        - {id: none, type: aws.dynamodb.GetItem, tableName: orders, key: {customer: zoe, id: 1}}
        - id: query
          type: aws.dynamodb.Query
          tableName: orders
          keyConditionExpression: "customer = :c"
          expressionAttributeValues: {":c": ada}
          fetchType: FETCH
        - id: stored
          type: aws.dynamodb.Query
          tableName: orders
          keyConditionExpression: "customer = :c AND id > :min"
          expressionAttributeValues: {":c": ada, ":min": 0}
        - id: one
          type: aws.dynamodb.Query
          tableName: orders
          keyConditionExpression: "customer = :c"
          expressionAttributeValues: {":c": ada}
          limit: 1
          fetchType: FETCH_ONE
        - {id: total, type: Return, format: "{{ outputs.get.row.total * 2 }}"}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    row = outputs_of(platform, outcome, "get")["row"]
    assert row == {
        "customer": "ada",
        "id": 1,
        "total": 12.5,
        "lines": [{"sku": "a", "qty": 2}],
        "paid": True,
        "note": None,
    }
    assert outputs_of(platform, outcome, "none") == {"row": None}
    query = outputs_of(platform, outcome, "query")
    assert query["size"] == 2 and [r["id"] for r in query["rows"]] == [1, 2]
    stored = outputs_of(platform, outcome, "stored")
    lines = platform.blobs.get(stored["uri"]).decode().splitlines()
    assert stored["size"] == 2 and [json.loads(line)["id"] for line in lines] == [1, 2]
    assert outputs_of(platform, outcome, "one") == {"size": 1, "row": row}
    assert outputs_of(platform, outcome, "total")["value"] == 25.0
    typed = table.get_item(TableName="orders", Key={"customer": {"S": "ada"}, "id": {"N": "1"}})["Item"]
    assert typed["total"] == {"N": "12.5"} and typed["paid"] == {"BOOL": True}


def test_a_missing_table_is_aws_not_found(tmp_path: Path, table: Any) -> None:
    task = load_task("{id: g, type: aws.dynamodb.GetItem, tableName: nope, key: {customer: a, id: 1}}")

    with pytest.raises(AwsNotFound):
        task.run(direct_context(tmp_path))


def test_an_item_that_is_not_a_map_fails(tmp_path: Path, table: Any) -> None:
    task = load_task("{id: p, type: aws.dynamodb.PutItem, tableName: orders, item: '[1, 2]'}")

    with pytest.raises(Exception, match="item must be a map"):
        task.run(direct_context(tmp_path))
