"""Who calls the console, and which namespaces they may read and act on.

`create_app(backend, authorize=...)` calls `authorize(request)` on every API route and page; it
returns a `Principal` or raises `Unauthorized`. A namespace grant covers its children (`team` covers
`team.etl`), as namespaces nest in Kestra. Locally, everyone on loopback may do everything unless
`strato server` is given a token; in the cloud the authorizer reads the caller's verified identity.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from stratoflow.errors import StratoflowError

TOKEN_COOKIE = "strato_console_token"


class Unauthorized(StratoflowError):
    """The caller is not authenticated (401)."""


class Forbidden(StratoflowError):
    """The caller may not read or act on a namespace (403)."""


def _covers(grants: tuple[str, ...] | None, namespace: str) -> bool:
    if grants is None:
        return True
    return any(namespace == grant or namespace.startswith(grant + ".") for grant in grants)


@dataclass(frozen=True)
class Principal:
    """A caller: `read` and `act` list the namespaces granted (with their children); None grants all."""

    name: str
    read: tuple[str, ...] | None = None
    act: tuple[str, ...] | None = None

    def may_read(self, namespace: str) -> bool:
        return _covers(self.read, namespace) or (self.act is not None and _covers(self.act, namespace))

    def may_act(self, namespace: str) -> bool:
        return _covers(self.act, namespace)

    def check_read(self, namespace: str) -> None:
        if not self.may_read(namespace):
            raise Forbidden(f"{self.name} may not read namespace {namespace}")

    def check_act(self, namespace: str) -> None:
        if not self.may_act(namespace):
            raise Forbidden(f"{self.name} may not act on namespace {namespace}")

    def readable(self, namespaces: Iterable[str]) -> list[str]:
        return [namespace for namespace in namespaces if self.may_read(namespace)]


Authorize = Callable[[HTTPConnection], Principal]

EVERYONE = Principal("local user")


def allow_everyone(connection: HTTPConnection) -> Principal:
    """The local default: `strato server` listens on loopback only, for the user of this machine."""
    return EVERYONE


def token_authorizer(token: str, principal: Principal = EVERYONE) -> Authorize:
    """Callers must present `token` (`Authorization: Bearer <token>`, or the cookie a page visit with
    `?token=` sets); compared in constant time."""
    expected = token.encode()

    def authorize(connection: HTTPConnection) -> Principal:
        header = connection.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else None
        given = given or connection.cookies.get(TOKEN_COOKIE) or connection.query_params.get("token")
        if not given or not hmac.compare_digest(given.encode(), expected):
            raise Unauthorized(
                "authentication required: send the server's token as 'Authorization: Bearer <token>'"
            )
        return principal

    return authorize
