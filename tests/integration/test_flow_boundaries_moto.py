"""An operator's flow-role boundary on moto: the housekeeping function's custom resource reads the
operator's policy and writes the stack's boundaries (its statements and the stack's denials), keeps
them current on updates, and deletes them with the stack. What they allow: test_iam_attacks.py."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.deploy.flow_boundaries import BoundaryTooLarge, compose

pytestmark = pytest.mark.slow

STACK = "Strato"
OPERATOR = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Lake", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::lake-*"}],
}
RECORDS = {
    "Sid": "NeverThePlatformsRecords",
    "Effect": "Deny",
    "Action": ["dynamodb:*"],
    "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/Strato-Table"],
}
TEAM_A = {
    "Sid": "OnlyTheNamespacesGrants",
    "Effect": "Deny",
    "Action": ["s3:*"],
    "NotResource": ["arn:aws:s3:::lake-team-a*"],
}


class Context:
    function_name = "housekeeping"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:housekeeping"
    aws_request_id = "req"


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        yield client


def _operator(iam: Any, document: dict[str, Any] = OPERATOR) -> str:
    arn: str = iam.create_policy(
        PolicyName="FlowBoundary", Path="/ops/", PolicyDocument=json.dumps(document)
    )["Policy"]["Arn"]
    return arn


def _event(
    kind: str, operator: str, denials: dict[str, Any], old: dict[str, Any] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "ResourceType": "Custom::StratoflowFlowBoundaries",
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/1",
        "ResourceProperties": {"StackName": STACK, "OperatorPolicyArn": operator, "Denials": denials},
    }
    if old is not None:
        event["OldResourceProperties"] = {"Denials": old}
        event["PhysicalResourceId"] = f"{STACK}-flow-boundaries"
    return event


def _answer(monkeypatch: pytest.MonkeyPatch, iam: Any, event: dict[str, Any]) -> dict[str, Any]:
    monkeypatch.setenv("STRATOFLOW_STACK_NAME", STACK)
    module = importlib.import_module("functions.housekeeping.handler")
    monkeypatch.setattr(module, "clients", AwsClients(iam=iam))
    response: dict[str, Any] = module.lambda_handler(event, Context())
    return response


def _document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document: dict[str, Any] = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    return document


def _boundaries(iam: Any) -> list[str]:
    return sorted(
        p["PolicyName"] for p in iam.list_policies(Scope="Local", PathPrefix="/stratoflow/")["Policies"]
    )


def test_the_boundaries_hold_the_operators_statements_and_the_stacks_denials(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator's policy and the stack's denials for the default and team.a's boundaries
    operator = _operator(iam)

    # When CloudFormation creates the custom resource
    response = _answer(
        monkeypatch, iam, _event("Create", operator, {"default": [RECORDS], "na": [RECORDS, TEAM_A]})
    )

    # Then each boundary is the operator's statements followed by its denials, and CloudFormation learns their ARNs
    data = response["Data"]
    assert data == {
        "default": "arn:aws:iam::123456789012:policy/stratoflow/Strato-flow-boundary-default",
        "na": "arn:aws:iam::123456789012:policy/stratoflow/Strato-flow-boundary-na",
    }
    assert _document(iam, data["na"])["Statement"] == [*OPERATOR["Statement"], RECORDS, TEAM_A]
    assert _document(iam, data["default"])["Statement"] == [*OPERATOR["Statement"], RECORDS]


def test_an_update_rewrites_changed_boundaries_and_deletes_dropped_ones(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the boundaries of two namespaces
    operator = _operator(iam)
    first = {"default": [RECORDS], "na": [RECORDS, TEAM_A], "nb": [RECORDS]}
    data = _answer(monkeypatch, iam, _event("Create", operator, first))["Data"]

    # When the grants change: team.a's patterns, and team.b has left them (six times, past IAM's five versions)
    for index in range(6):
        team_a = {**TEAM_A, "NotResource": [f"arn:aws:s3:::lake-team-a-{index}*"]}
        denials = {"default": [RECORDS], "na": [RECORDS, team_a]}
        response = _answer(monkeypatch, iam, _event("Update", operator, denials, old=first))

    # Then team.a's boundary holds the new patterns, team.b's is gone, the physical id is kept
    assert _document(iam, data["na"])["Statement"][-1]["NotResource"] == ["arn:aws:s3:::lake-team-a-5*"]
    assert _boundaries(iam) == ["Strato-flow-boundary-default", "Strato-flow-boundary-na"]
    assert response["PhysicalResourceId"] == f"{STACK}-flow-boundaries"


def test_deleting_the_stack_deletes_every_boundary_it_wrote(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the stack's boundaries, one of them updated (two versions)
    operator = _operator(iam)
    _answer(monkeypatch, iam, _event("Create", operator, {"default": [RECORDS], "na": [RECORDS]}))
    _answer(
        monkeypatch, iam, _event("Update", operator, {"default": [RECORDS], "na": [RECORDS, TEAM_A]}, old={})
    )

    # When CloudFormation deletes the custom resource
    _answer(
        monkeypatch, iam, {**_event("Delete", operator, {"default": [RECORDS]}), "PhysicalResourceId": "x"}
    )

    # Then none is left, the operator's own policy stays
    assert _boundaries(iam) == []
    assert iam.get_policy(PolicyArn=operator)["Policy"]["PolicyName"] == "FlowBoundary"


def test_a_boundary_too_large_for_iam_fails_the_deployment_naming_the_setting(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an operator's policy that leaves no room for the stack's denials
    wide = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::bucket-{i:04}/*" for i in range(205)],
            }
        ],
    }
    operator = _operator(iam, wide)

    # When the stack is deployed, Then CloudFormation gets the reason, and nothing is written
    with pytest.raises(BoundaryTooLarge, match="shorten the policy flowPermissionsBoundaryArn names"):
        _answer(monkeypatch, iam, _event("Create", operator, {"default": [RECORDS]}))
    assert _boundaries(iam) == []


def test_the_stack_adds_only_denials_to_the_operators_policy() -> None:
    with pytest.raises(ValueError, match="only Deny statements"):
        compose(OPERATOR, [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    # A policy whose one statement is an object (not a list) keeps it
    single = {"Version": "2012-10-17", "Statement": OPERATOR["Statement"][0]}
    assert compose(single, [RECORDS])["Statement"] == [OPERATOR["Statement"][0], RECORDS]
