"""`http.Request` against a local HTTP server (127.0.0.1 only, no network): sockets, so not a unit test."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from stratoflow.tasks.errors import HttpError, TaskFailed
from tests.unit.flow.flow_test_helpers import FakeContext, request


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/echo")
            self.end_headers()
            return
        status = 404 if self.path == "/missing" else 200
        payload = (
            "x" * 5000
            if self.path == "/big"
            else json.dumps(
                {"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)}
            )
        )
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_get_returns_code_headers_and_body(server: str, make_ctx: Callable[..., FakeContext]) -> None:
    # Given
    ctx = make_ctx({"{{ url }}": f"{server}/echo"})

    # When
    outputs = request("{id: r, type: http.Request, uri: '{{ url }}', headers: {X-Trace: abc}}", ctx)

    # Then
    assert outputs["code"] == 200
    assert outputs["headers"]["Set-Cookie"] == ["a=1", "b=2"]
    echoed = json.loads(outputs["body"])
    assert echoed["method"] == "GET" and echoed["headers"]["X-Trace"] == "abc"


def test_post_a_json_body(server: str, make_ctx: Callable[..., FakeContext]) -> None:
    outputs = request(
        f"{{id: r, type: http.Request, uri: '{server}/echo', method: POST, body: {{a: 1}}}}", make_ctx()
    )

    echoed = json.loads(outputs["body"])
    assert echoed["body"] == '{"a": 1}'
    assert echoed["headers"]["Content-Type"] == "application/json"


def test_post_form_data_and_content_type(server: str, make_ctx: Callable[..., FakeContext]) -> None:
    form = request(
        f"{{id: r, type: http.Request, uri: '{server}/echo', method: POST, formData: {{a: 1, b: x y}}}}",
        make_ctx(),
    )
    text = request(
        f"{{id: r, type: http.Request, uri: '{server}/echo', method: PUT, body: hello, contentType: text/plain}}",
        make_ctx(),
    )

    assert json.loads(form["body"])["body"] == "a=1&b=x+y"
    assert json.loads(text["body"])["headers"]["Content-Type"] == "text/plain"


def test_a_non_2xx_status_fails_unless_allowed(server: str, make_ctx: Callable[..., FakeContext]) -> None:
    with pytest.raises(HttpError) as caught:
        request(f"{{id: r, type: http.Request, uri: '{server}/missing'}}", make_ctx())
    assert caught.value.code == 404 and "status 404" in caught.value.message

    allowed = request(
        f"{{id: r, type: http.Request, uri: '{server}/missing', allowFailed: true}}", make_ctx()
    )
    assert allowed["code"] == 404


def test_redirects_are_followed_unless_disabled(server: str, make_ctx: Callable[..., FakeContext]) -> None:
    followed = request(f"{{id: r, type: http.Request, uri: '{server}/redirect'}}", make_ctx())
    kept = request(
        f"{{id: r, type: http.Request, uri: '{server}/redirect', allowFailed: true, options: {{followRedirects: false}}}}",
        make_ctx(),
    )

    assert followed["code"] == 200 and json.loads(followed["body"])["path"] == "/echo"
    assert kept["code"] == 302


def test_a_response_over_the_size_limit_fails(server: str, make_ctx: Callable[..., FakeContext]) -> None:
    with pytest.raises(TaskFailed, match="maxContentLength"):
        request(
            f"{{id: r, type: http.Request, uri: '{server}/big', options: {{maxContentLength: 100}}}}",
            make_ctx(),
        )


def test_a_refused_connection_is_an_http_error_without_code(make_ctx: Callable[..., FakeContext]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(HttpError) as caught:
        request(
            f"{{id: r, type: http.Request, uri: 'http://127.0.0.1:{port}/', options: {{timeout: PT5S}}}}",
            make_ctx(),
        )

    assert caught.value.code is None
