"""Cognito groups to namespace grants, and the caller read from an API Gateway event (cloud_auth)."""

from __future__ import annotations

from typing import Any

import pytest

from stratoflow.console.auth import Unauthorized
from stratoflow.console.cloud_auth import parse_groups, principal_of_event, principal_of_groups
from stratoflow.console.cloud_lambda import api_event, stream_once


def _event(
    authorizer: dict[str, Any] | None, route: str = "ANY /api/{proxy+}", path: str = "/api/v1/flows"
) -> dict[str, Any]:
    context: dict[str, Any] = {"http": {"method": "GET", "path": path}, "routeKey": route}
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {"version": "2.0", "routeKey": route, "rawPath": path, "requestContext": context}


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        ("[admins]", ["admins"]),
        ("[namespace:company.team read:finance]", ["namespace:company.team", "read:finance"]),
        (["namespace:a", "read:b"], ["namespace:a", "read:b"]),
        ("", []),
        (None, []),
    ],
)
def test_groups_are_read_as_api_gateway_passes_them(claim: Any, groups: list[str]) -> None:
    assert parse_groups(claim) == groups


def test_a_namespace_group_grants_that_namespace_and_its_children_only() -> None:
    # Given a user of company.team who reads finance
    user = principal_of_groups("ana", ["namespace:company.team", "read:finance", "unrelated"])

    # Then they act on company.team and below, read finance, and reach nothing else
    assert user.may_act("company.team") and user.may_act("company.team.etl")
    assert not user.may_act("company") and not user.may_act("company.teams")
    assert user.may_read("finance.reports") and not user.may_act("finance")
    assert not user.may_read("marketing")


def test_admins_reach_everything_and_no_group_reaches_nothing() -> None:
    admin = principal_of_groups("root", ["admins", "read:x"])
    nobody = principal_of_groups("new", [])
    assert admin.may_act("anything.at.all")
    assert not nobody.may_read("company") and nobody.readable(["a", "b"]) == []
    # An empty grant (`namespace:` alone) grants nothing, not everything
    assert not principal_of_groups("odd", ["namespace:", "read:"]).may_read("a")


def test_the_caller_is_what_the_authorizer_verified() -> None:
    jwt = {"jwt": {"claims": {"sub": "u-1", "username": "ana", "cognito:groups": "[namespace:team]"}}}
    user = principal_of_event(_event(jwt))
    assert user.name == "ana" and user.may_act("team") and not user.may_read("other")
    iam = principal_of_event(_event({"iam": {"userArn": "arn:aws:iam::123456789012:user/ci"}}))
    assert iam.may_act("any.namespace")


@pytest.mark.parametrize("authorizer", [None, {}, {"jwt": {"claims": {}}}, {"iam": {}}])
def test_an_event_without_a_verified_identity_is_unauthorized(authorizer: dict[str, Any] | None) -> None:
    with pytest.raises(Unauthorized, match="authentication required"):
        principal_of_event(_event(authorizer))


def test_the_iam_prefix_is_taken_off_only_on_iam_routes() -> None:
    iam_route = api_event(_event(None, route="ANY /iam/api/{proxy+}", path="/iam/api/v1/flows"))
    assert iam_route["rawPath"] == "/api/v1/flows"
    assert iam_route["requestContext"]["http"]["path"] == "/api/v1/flows"
    # A JWT route whose path merely starts with /iam keeps it (and matches no API route)
    jwt_route = api_event(_event(None, path="/iam/api/v1/flows"))
    assert jwt_route["rawPath"] == "/iam/api/v1/flows"


def test_only_a_signed_in_callers_stream_request_is_answered_here() -> None:
    path = "/api/v1/executions/e1/logs/stream"
    # No identity: the app answers it (401); another route: the app too
    assert stream_once(_event(None, path=path), backend=None) is None
    assert stream_once(_event({"jwt": {"claims": {"sub": "u-1"}}}), backend=None) is None
