"""The console's CloudFront Function (infra/constructs/console.py), run by Node.js as CloudFront runs
it: the sign-in cookie (or a bearer token) becomes the API's token header; a browser without one is
sent to the sign-in page; the sign-in page itself is always served."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from stratoflow._platform.infra.constructs.console import (
    SIGN_IN_PAGE,
    TOKEN_COOKIE,
    TOKEN_HEADER,
    VIEWER_REQUEST,
)

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


def viewer_request(
    uri: str, headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None
) -> Any:
    event = {
        "request": {
            "uri": uri,
            "method": "GET",
            "headers": {name: {"value": value} for name, value in (headers or {}).items()},
            "cookies": {name: {"value": value} for name, value in (cookies or {}).items()},
            "querystring": {},
        }
    }
    script = f"{VIEWER_REQUEST}\nprocess.stdout.write(JSON.stringify(handler({json.dumps(event)})));"
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(done.stdout)


def test_the_cookie_becomes_the_token_header_of_api_requests() -> None:
    request = viewer_request("/api/v1/executions", cookies={TOKEN_COOKIE: "jwt-from-cookie"})
    assert request["headers"][TOKEN_HEADER] == {"value": "jwt-from-cookie"}


def test_a_bearer_token_wins_over_the_cookie_and_a_forged_header_is_dropped() -> None:
    bearer = viewer_request(
        "/api/v1/flows", headers={"authorization": "Bearer jwt-of-a-script"}, cookies={TOKEN_COOKIE: "c"}
    )
    assert bearer["headers"][TOKEN_HEADER] == {"value": "jwt-of-a-script"}
    # Without a token the API sees no token header at all (the authorizer then answers 401)
    forged = viewer_request("/api/v1/flows", headers={TOKEN_HEADER: "made-up"})
    assert TOKEN_HEADER not in forged["headers"]


def test_pages_without_a_token_go_to_the_sign_in_page_which_is_always_served() -> None:
    redirect = viewer_request("/ui/executions")
    assert redirect["statusCode"] == 302
    assert redirect["headers"]["location"]["value"] == f"{SIGN_IN_PAGE}?next=%2Fui%2Fexecutions"
    for uri in (SIGN_IN_PAGE, "/auth/sign-in.js", "/auth/console-auth.json"):
        assert viewer_request(uri)["uri"] == uri


def test_signed_in_the_paths_are_those_of_strato_server() -> None:
    # The shell answers every /ui/ page; its modules are under /static/; / goes to the flows
    signed_in = {TOKEN_COOKIE: "t"}
    assert viewer_request("/ui/executions/e-1", cookies=signed_in)["uri"] == "/static/index.html"
    assert viewer_request("/ui", cookies=signed_in)["uri"] == "/static/index.html"
    assert viewer_request("/static/main.js", cookies=signed_in)["uri"] == "/static/main.js"
    home = viewer_request("/", cookies=signed_in)
    assert (home["statusCode"], home["headers"]["location"]["value"]) == (302, "/ui/flows")
