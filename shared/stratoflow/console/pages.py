"""The pages: one HTML shell and its ES modules and styles, shipped in the package (no CDN, nothing
fetched at run time). The shell routes on the path, so every page has its own URL."""

from __future__ import annotations

import mimetypes
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from stratoflow.console.auth import TOKEN_COOKIE
from stratoflow.console.deps import Caller
from stratoflow.errors import NotFoundError

router = APIRouter(include_in_schema=False)
STATIC = files("stratoflow.console") / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
# The pages' code and styles come from this server only; nothing inline may run.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _shell(request: Request) -> Response:
    response = Response(
        (STATIC / "index.html").read_bytes(), media_type="text/html", headers=SECURITY_HEADERS
    )
    token = request.query_params.get("token")
    if token:  # a visit with ?token= (accepted by the authorizer) keeps it for the page's API calls
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.get("/")
def home(request: Request, caller: Caller) -> Response:
    if request.query_params.get("token"):
        return _shell(request)
    return RedirectResponse("/ui/flows")


@router.get("/ui/{page:path}")
def page(request: Request, caller: Caller, page: str) -> Response:
    return _shell(request)


@router.get("/static/{name}")
def static(name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]+\.(js|css|svg)$")]) -> Response:
    resource = STATIC / name
    if not resource.is_file():
        raise NotFoundError(f"no static file {name}")
    kind = TYPES.get("." + name.rsplit(".", 1)[-1]) or mimetypes.guess_type(name)[0] or "text/plain"
    return Response(
        resource.read_bytes(), media_type=kind, headers={"cache-control": "no-cache", **SECURITY_HEADERS}
    )
