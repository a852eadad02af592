"""A flow uploader naming another team's resources: the stack's namespace grants refuse the flow at
deployment, located, before any role is written."""

from __future__ import annotations

import pytest

from stratoflow.cloud.deploy.namespace_grants import (
    GrantsConfigError,
    parse_grants,
    patterns_for,
    refused_resources,
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
