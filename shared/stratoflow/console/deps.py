"""What every route is given: the backend, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stratoflow.console.auth import Principal
from stratoflow.console.backend import ConsoleBackend


def backend_of(request: Request) -> ConsoleBackend:
    backend: ConsoleBackend = request.app.state.backend
    return backend


def principal_of(request: Request) -> Principal:
    principal: Principal = request.app.state.authorize(request)
    return principal


Backend = Annotated[ConsoleBackend, Depends(backend_of)]
Caller = Annotated[Principal, Depends(principal_of)]
