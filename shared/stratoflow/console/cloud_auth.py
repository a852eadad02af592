"""Who calls the console in the cloud, from what API Gateway verified: Cognito groups become namespaces.

API Gateway checks the caller before the Lambda runs (a JWT authorizer for the user pool's signed-in
users, SigV4 for programmatic callers); this module reads what it verified from the event that
Mangum keeps in the ASGI scope, and refuses (401) a request that carries no verified identity at all,
so a route left without an authorizer by mistake still serves nobody.

Groups of the user pool (`cognito:groups` of the access token):

| group                        | may                                                          |
| ---------------------------- | ------------------------------------------------------------ |
| `admins`                     | read and act on every namespace                              |
| `namespace:company.team`     | read and act on `company.team` and its children              |
| `read:company.team`          | read `company.team` and its children (no start, kill...)     |

A user in no such group is signed in but sees nothing. An IAM caller (the `/iam/api/...` routes,
signed with SigV4) may do everything: who may call those routes at all is decided by IAM policies
on `execute-api:Invoke`, which is where an administrator limits programmatic access.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import HTTPConnection

from stratoflow.console.auth import Principal, Unauthorized

ADMINS_GROUP = "admins"
ACT_PREFIX = "namespace:"
READ_PREFIX = "read:"
GROUPS_CLAIM = "cognito:groups"


def principal_of_groups(name: str, groups: Iterable[str]) -> Principal:
    """The namespaces a user's groups grant (see the table above); unknown groups grant nothing."""
    groups = list(groups)
    if ADMINS_GROUP in groups:
        return Principal(name)
    act = sorted({g.removeprefix(ACT_PREFIX) for g in groups if g.startswith(ACT_PREFIX) and g != ACT_PREFIX})
    read = sorted(
        {g.removeprefix(READ_PREFIX) for g in groups if g.startswith(READ_PREFIX) and g != READ_PREFIX}
    )
    return Principal(name, read=tuple(read), act=tuple(act))


def parse_groups(claim: Any) -> list[str]:
    """`cognito:groups` as API Gateway passes it: a list, or (HTTP APIs) the text `[a b]`."""
    if claim is None:
        return []
    if isinstance(claim, list):
        return [str(group) for group in claim]
    text = str(claim).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part for part in text.replace(",", " ").split() if part]


def principal_of_event(event: Mapping[str, Any]) -> Principal:
    """The caller of an API Gateway (HTTP API, payload 2.0) event, from its authorizer's context."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    if claims.get("sub"):
        name = str(claims.get("username") or claims.get("cognito:username") or claims["sub"])
        return principal_of_groups(name, parse_groups(claims.get(GROUPS_CLAIM)))
    iam = authorizer.get("iam") or {}
    if iam.get("userArn") or iam.get("callerId"):
        return Principal(str(iam.get("userArn") or iam.get("callerId")))
    raise Unauthorized("authentication required: sign in to the console, or sign the request with SigV4")


def authorize_from_api_gateway(connection: HTTPConnection) -> Principal:
    """`create_app(authorize=...)` behind Mangum: the verified caller of the request's event."""
    event = connection.scope.get("aws.event")
    if not isinstance(event, Mapping):
        raise Unauthorized("authentication required: this console serves API Gateway requests only")
    return principal_of_event(event)
