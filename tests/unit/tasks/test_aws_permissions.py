"""Each AWS task declares exactly the IAM actions it uses, on the narrowest resources the flow names."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow
from tests.unit.tasks.task_helpers import flow_source, load_task


def statements(yaml: str) -> list[dict[str, list[str]]]:
    result: list[dict[str, list[str]]] = load_task(yaml).iam_statements()
    return result


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        (
            "{id: t, type: aws.s3.Upload, bucket: data, key: raw/2024.json, content: x}",
            [{"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::data/raw/2024.json"]}],
        ),
        (
            "{id: t, type: aws.s3.Upload, bucket: data, key: 'raw/{{ execution.id }}.json', content: x}",
            [{"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::data/raw/*"]}],
        ),
        (
            "{id: t, type: aws.s3.Download, bucket: 'lake-{{ vars.env }}', key: k, versionId: v1}",
            [{"Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": ["arn:aws:s3:::lake-*/k"]}],
        ),
        (
            "{id: t, type: aws.s3.List, bucket: data, prefix: raw/}",
            [{"Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::data"]}],
        ),
        (
            "{id: t, type: aws.s3.Copy, from: {bucket: a, key: in/x}, to: {key: out/x}, delete: true}",
            [
                {"Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::a/in/x"]},
                {"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::a/out/x"]},
                {"Action": ["s3:DeleteObject"], "Resource": ["arn:aws:s3:::a/in/x"]},
            ],
        ),
        (
            "{id: t, type: aws.s3.Delete, bucket: data, key: tmp/x}",
            [{"Action": ["s3:DeleteObject"], "Resource": ["arn:aws:s3:::data/tmp/x"]}],
        ),
        (
            "{id: t, type: aws.dynamodb.PutItem, tableName: orders, region: eu-west-1, item: {id: 1}}",
            [{"Action": ["dynamodb:PutItem"], "Resource": ["arn:aws:dynamodb:eu-west-1:*:table/orders"]}],
        ),
        (
            "{id: t, type: aws.dynamodb.GetItem, tableName: orders, key: {id: 1}}",
            [{"Action": ["dynamodb:GetItem"], "Resource": ["arn:aws:dynamodb:*:*:table/orders"]}],
        ),
        (
            "{id: t, type: aws.dynamodb.Query, tableName: orders, indexName: byDay, keyConditionExpression: 'd = :d'}",
            [{"Action": ["dynamodb:Query"], "Resource": ["arn:aws:dynamodb:*:*:table/orders/index/byDay"]}],
        ),
        (
            "{id: t, type: aws.sqs.Publish, queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', messages: [a]}",
            [{"Action": ["sqs:SendMessage"], "Resource": ["arn:aws:sqs:eu-west-1:123456789012:jobs"]}],
        ),
        (
            "{id: t, type: aws.sns.Publish, topicArn: 'arn:aws:sns:us-east-1:123456789012:alerts', message: hi}",
            [{"Action": ["sns:Publish"], "Resource": ["arn:aws:sns:us-east-1:123456789012:alerts"]}],
        ),
        (
            "{id: t, type: aws.eventbridge.PutEvents, entries: [{source: s, detailType: d}, {source: s, detailType: d, eventBusName: ops}]}",
            [
                {
                    "Action": ["events:PutEvents"],
                    "Resource": ["arn:aws:events:*:*:event-bus/default", "arn:aws:events:*:*:event-bus/ops"],
                }
            ],
        ),
        (
            "{id: t, type: aws.lambda.Invoke, functionArn: resize}",
            [
                {
                    "Action": ["lambda:InvokeFunction"],
                    "Resource": [
                        "arn:aws:lambda:*:*:function:resize",
                        "arn:aws:lambda:*:*:function:resize:*",
                    ],
                }
            ],
        ),
        (
            "{id: t, type: aws.lambda.Invoke, functionArn: 'arn:aws:lambda:us-east-1:1:function:f:live'}",
            [
                {
                    "Action": ["lambda:InvokeFunction"],
                    "Resource": [
                        "arn:aws:lambda:us-east-1:1:function:f",
                        "arn:aws:lambda:us-east-1:1:function:f:*",
                    ],
                }
            ],
        ),
    ],
)
def test_statements_name_the_resources_of_the_flow(yaml: str, expected: list[dict[str, Any]]) -> None:
    assert statements(yaml) == expected


def test_athena_is_narrowed_to_its_workgroup_database_output_and_data() -> None:
    found = statements(
        "{id: q, type: aws.athena.Query, query: 'select 1', database: sales, workGroup: etl, "
        "outputLocation: 's3://results/athena/', dataLocations: ['s3://lake/sales/']}"
    )

    resources = {action: s["Resource"] for s in found for action in s["Action"]}
    assert resources["athena:StartQueryExecution"] == ["arn:aws:athena:*:*:workgroup/etl"]
    assert "arn:aws:glue:*:*:table/sales/*" in resources["glue:GetTable"]
    assert resources["s3:PutObject"] == ["arn:aws:s3:::results/athena/*"]
    assert {"Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::lake/sales/*"]} in found
    assert all(r != "*" for s in found for r in s["Resource"])


def test_athena_without_data_locations_reads_any_bucket() -> None:
    found = statements(
        "{id: q, type: aws.athena.Query, query: 'select 1', database: d, outputLocation: 's3://r/'}"
    )

    assert {"Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::*/*"]} in found


def test_the_compiled_flow_collects_every_statement_once() -> None:
    flow = load_flow(
        flow_source(
            """
            - {id: a, type: aws.s3.Delete, bucket: b, key: k}
            - {id: b, type: aws.s3.Delete, bucket: b, key: k}
            - {id: c, type: aws.sns.Publish, topicArn: "arn:aws:sns:us-east-1:1:t", message: m}
            - {id: d, type: aws.sns.Publish, topicArn: "arn:aws:sns:us-east-1:1:t", message: m, disabled: true}
            """
        )
    )

    assert compile_flow(flow).permissions == [
        {"Action": ["s3:DeleteObject"], "Resource": ["arn:aws:s3:::b/k"]},
        {"Action": ["sns:Publish"], "Resource": ["arn:aws:sns:us-east-1:1:t"]},
    ]


KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("yaml", "resource"),
    [
        (f"{{id: t, type: aws.s3.Upload, bucket: data, key: k, content: x, kmsKeyArn: '{KEY}'}}", KEY),
        (f"{{id: t, type: aws.sqs.Publish, queueUrl: q, messages: [a], kmsKeyArn: '{KEY}'}}", KEY),
        (
            "{id: t, type: aws.dynamodb.GetItem, tableName: o, key: {id: 1}, "
            "kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/{{ vars.key }}'}",
            "arn:aws:kms:eu-west-1:123456789012:key/*",
        ),
    ],
)
def test_a_declared_kms_key_adds_what_the_service_needs_of_it(yaml: str, resource: str) -> None:
    # Given a task on an encrypted bucket, queue or table that names its key
    declared = statements(yaml)

    # Then its role may decrypt and make data keys with that key (the boundary adds: through the service)
    assert declared[-1] == {"Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": [resource]}


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "{id: t, type: aws.s3.Upload, bucket: b, key: k, content: x, kmsKeyArn: alias/lake}",
            "kmsKeyArn: 'alias/lake' is not a KMS key ARN",
        ),
        (
            f"{{id: t, type: aws.lambda.Invoke, functionArn: f, kmsKeyArn: '{KEY}'}}",
            "kmsKeyArn",  # an unknown property there: Lambda uses no key on the flow's behalf
        ),
    ],
)
def test_a_kms_key_is_refused_where_it_cannot_be_used(yaml: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        load_task(yaml)
