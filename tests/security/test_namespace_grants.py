"""A flow uploader naming another team's resources: the stack's namespace grants refuse the flow at
deployment, located, before any role is written."""

from __future__ import annotations

import pytest

from stratoflow.cloud.deploy.namespace_grants import (
    GrantsConfigError,
    parse_grants,
    patterns_for,
    refused_resources,
    stack_storage_patterns,
    stack_storage_problems,
)
from stratoflow.flow import load_flow

GRANTS = parse_grants(
    '{"team.a": ["arn:aws:s3:::team-a-*"], "team": ["arn:aws:s3:::shared-ref/*"], "*": ["arn:aws:s3:::public/*"]}'
)


def _flow(namespace: str, bucket: str, key: str = "k") -> object:
    source = (
        f"id: f\nnamespace: {namespace}\ntasks:\n"
        f"  - {{id: up, type: aws.s3.Upload, bucket: {bucket}, key: {key}, from: hello}}\n"
    )
    return load_flow(source, "team/f.yaml")


def test_a_flow_naming_another_teams_bucket_is_refused_with_its_location() -> None:
    problems = refused_resources(_flow("team.a", "team-b-data"), GRANTS)

    assert problems == [
        "team/f.yaml:4:5: task 'up': arn:aws:s3:::team-b-data/k is not among the resources namespace "
        "'team.a' may be granted (the stack's namespaceGrants)"
    ]


@pytest.mark.allowed_path
@pytest.mark.parametrize(
    ("namespace", "bucket"),
    [("team.a", "team-a-raw"), ("team.a.etl", "team-a-raw"), ("team.a", "shared-ref"), ("other", "public")],
)
def test_own_parent_and_everyones_grants_apply(namespace: str, bucket: str) -> None:
    assert refused_resources(_flow(namespace, bucket), GRANTS) == []


def test_a_parent_does_not_inherit_its_childrens_grants() -> None:
    assert refused_resources(_flow("team", "team-a-raw"), GRANTS) != []
    assert patterns_for(GRANTS or {}, "team") == ["arn:aws:s3:::shared-ref/*", "arn:aws:s3:::public/*"]


def test_a_wildcard_in_the_flow_is_no_way_around_a_grant() -> None:
    # `*` in a resource the flow names is matched as text: it matches only a pattern that allows it.
    assert refused_resources(_flow("team.a", "team-a-raw", "'*'"), GRANTS) == []
    assert refused_resources(_flow("team.a", "'team-*'"), GRANTS) != []


@pytest.mark.allowed_path
def test_without_grants_nothing_is_checked() -> None:
    assert parse_grants("") is None
    assert refused_resources(_flow("team.a", "anything"), None) == []


@pytest.mark.allowed_path
@pytest.mark.parametrize("text", ["[1]", "{", '{"a": "arn"}', '{"a": [""]}'])
def test_malformed_grants_are_refused(text: str) -> None:
    with pytest.raises(GrantsConfigError):
        parse_grants(text)


def test_an_sqs_trigger_on_another_teams_queue_is_refused_with_its_location() -> None:
    # The pipes role would read that queue and hand its messages to the flow.
    grants = parse_grants('{"team.a": ["arn:aws:sqs:eu-west-1:123456789012:team-a-*"]}')
    source = (
        "id: f\nnamespace: team.a\ntasks: [{id: t, type: Log, message: hi}]\ntriggers:\n"
        "  - id: q\n    type: aws.sqs.Trigger\n"
        "    queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/team-b-orders\n"
        "  - id: ok\n    type: aws.sqs.Trigger\n"
        "    queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/team-a-orders\n"
    )

    problems = refused_resources(load_flow(source, "f.yaml"), grants)

    assert problems == [
        "f.yaml:7:5: triggers[0].queueUrl: arn:aws:sqs:eu-west-1:123456789012:team-b-orders is not among "
        "the resources namespace 'team.a' may be granted (the stack's namespaceGrants)"
    ]


STACK_STORAGE = stack_storage_patterns("Stratoflow-Table", ["strato-flows", "strato-data"])


@pytest.mark.parametrize(
    ("task", "named"),
    [
        ("{id: t, type: aws.dynamodb.GetItem, tableName: Stratoflow-Table, key: {pk: x}}", "table"),
        (
            "{id: t, type: aws.dynamodb.Query, tableName: Stratoflow-Table, indexName: gsi1, "
            "keyConditionExpression: 'pk = :p'}",
            "index",
        ),
        ("{id: t, type: aws.s3.Download, bucket: strato-data, key: team.b/f/executions/1/out.json}", "data"),
        ("{id: t, type: aws.s3.Upload, bucket: strato-flows, key: flows/evil.yaml, from: x}", "flows"),
    ],
)
def test_a_task_naming_the_stacks_own_storage_is_refused_with_its_location(task: str, named: str) -> None:
    # Given a flow whose task names the stack's table (or an index of it) or one of its buckets
    flow = load_flow(f"id: f\nnamespace: team.a\ntasks:\n  - {task}\n", "team/f.yaml")

    # Then the deployer refuses it at the task's line, whatever the namespace grants
    (problem,) = stack_storage_problems(flow, STACK_STORAGE)
    assert problem.startswith("team/f.yaml:4:5: task 't': arn:aws:")
    assert "is the stack's own storage" in problem


@pytest.mark.allowed_path
def test_other_tables_and_buckets_and_templated_names_are_left_to_the_boundary() -> None:
    # A templated bucket is `*` in the role: not the stack's by its text (IAM's boundary refuses it).
    source = (
        "id: f\nnamespace: team.a\ninputs: [{id: b, type: STRING}]\ntasks:\n"
        "  - {id: a, type: aws.s3.Upload, bucket: strato-data-archive, key: k, from: x}\n"
        "  - {id: b, type: aws.s3.Upload, bucket: '{{ inputs.b }}', key: k, from: x}\n"
        "  - {id: c, type: aws.dynamodb.GetItem, tableName: Stratoflow-Table-2, key: {pk: x}}\n"
    )

    assert stack_storage_problems(load_flow(source, "team/f.yaml"), STACK_STORAGE) == []


def test_a_kms_key_outside_the_namespaces_grants_is_refused_with_its_location() -> None:
    # Given grants that list team.a's key, and a flow of team.a declaring another team's key
    grants = parse_grants(
        '{"team.a": ["arn:aws:s3:::team-a-*", "arn:aws:kms:eu-west-1:123456789012:key/aaaa-*"]}'
    )
    source = (
        "id: f\nnamespace: team.a\ntasks:\n"
        "  - {id: ok, type: aws.s3.Upload, bucket: team-a-raw, key: k, from: x, "
        "kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/aaaa-1'}\n"
        "  - {id: up, type: aws.s3.Upload, bucket: team-a-raw, key: k, from: x, "
        "kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/bbbb-1'}\n"
    )

    # Then the deployer refuses the other key at its task's line, as the boundary would
    assert refused_resources(load_flow(source, "team/f.yaml"), grants) == [
        "team/f.yaml:5:5: task 'up': arn:aws:kms:eu-west-1:123456789012:key/bbbb-1 is not among the "
        "resources namespace 'team.a' may be granted (the stack's namespaceGrants)"
    ]
