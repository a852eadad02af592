"""The web console: one ASGI app (FastAPI) with the JSON API under `/api/v1` and the pages.

`create_app(backend, authorize=...)` is all a host needs: `strato server` serves it with uvicorn on
loopback (beside its webhooks), and the cloud wraps the same app for Lambda behind API Gateway. Every
route asks `authorize(request)` who is calling; reads and actions outside the caller's namespaces
are answered 403. A client's mistake is a 4xx whose `message` names the problem, never a 500.
"""

from __future__ import annotations

import logging
import threading
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from stratoflow.console import pages, routes_actions, routes_executions, routes_flows
from stratoflow.console.auth import Authorize, Forbidden, Unauthorized, allow_everyone
from stratoflow.console.backend import ConsoleBackend
from stratoflow.console.models import Problem
from stratoflow.errors import ConflictError, FlowValidationError, InputError, NotFoundError, StratoflowError
from stratoflow.execution.control import ControlError
from stratoflow.execution.deliveries import TriggerSkipped

API_PREFIX = "/api/v1"
logger = logging.getLogger(__name__)

# Error classes the library raises on purpose, and the status each answers; the first match wins.
STATUS_OF: list[tuple[type[Exception], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFoundError, 404),
    (InputError, 400),
    (FlowValidationError, 400),
    (ConflictError, 409),
]


def status_of(error: StratoflowError) -> int:

    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            return status
    own = getattr(error, "status", None)  # a refused start says its own (503: the server stops)
    if isinstance(own, int) and 400 <= own < 600:
        return own
    if isinstance(error, ControlError | TriggerSkipped):
        return 409  # the action does not apply to the execution (or flow) as it is now
    return 400


def _message(error: StratoflowError) -> str:
    if isinstance(error, FlowValidationError):
        return "; ".join(str(d) for d in error.diagnostics if not d.is_warning) or str(error)
    return str(error)


def _request_problem(error: RequestValidationError) -> str:
    """FastAPI's validation errors as one line: `query.limit: Input should be less than...`."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()))
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(backend: ConsoleBackend, *, authorize: Authorize | None = None) -> FastAPI:
    """The console's ASGI app over `backend`; `authorize(request) -> Principal` (default: everyone)."""

    app = FastAPI(
        title="Stratoflow console API",
        version="1",
        description="Flows, executions, task runs, logs and execution control of a Stratoflow platform.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI loads its scripts from a CDN: the console works offline
        redoc_url=None,
        responses={400: {"model": Problem}, 401: {"model": Problem}, 403: {"model": Problem}},
    )
    app.state.backend = backend
    app.state.authorize = authorize or allow_everyone
    # Set by the host when it stops: live streams end, so the server's shutdown never waits on them.
    app.state.closing = threading.Event()

    @app.exception_handler(StratoflowError)
    async def library_error(request: Request, error: StratoflowError) -> Response:
        return JSONResponse({"message": _message(error)}, status_code=status_of(error))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        return JSONResponse({"message": _request_problem(error)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        headers = getattr(error, "headers", None)
        return JSONResponse({"message": str(error.detail)}, status_code=error.status_code, headers=headers)

    app.include_router(routes_flows.router, prefix=API_PREFIX)
    app.include_router(routes_executions.router, prefix=API_PREFIX)
    app.include_router(routes_actions.router, prefix=API_PREFIX)
    app.include_router(pages.router)
    app.openapi = lambda: _document(app)  # type: ignore[method-assign]
    return app


def _document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with its 422 answers taken out: this API answers a bad request 400."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = document
    return app.openapi_schema


def static_root() -> Any:
    """The pages' files, shipped inside the package."""
    return files("stratoflow.console") / "static"
