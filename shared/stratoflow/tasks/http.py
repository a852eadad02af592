"""`http.Request` and `http.Download`: one HTTP exchange with the standard library.

`Request` outputs `code`, `headers` and `body` (text, as Kestra gives it: parse it with `fromJson`);
`Download` stores the body as a file and outputs its `uri`. A non-2xx status raises `HttpError`
(unless `allowFailed`), a timeout raises `TaskTimeout`, and a connection that cannot be made raises
`HttpError` without a code.

When the runner abandons the attempt (a flowable's timeout around it expired, runner.abandon), the
exchange's sockets are shut down: a read blocked on a slow server returns, and the server sees the
connection closed.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import posixpath
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message
from typing import Any, ClassVar, Literal

from pydantic import Field

from stratoflow.flow.fields import Duration, StrictModel
from stratoflow.flow.registry import kestra_aliases, register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import HttpError, TaskFailed, TaskTimeout
from stratoflow.tasks.files import safe_file_name

DEFAULT_TIMEOUT = timedelta(seconds=60)
# A Request's body is a task output: keep it small enough for the execution store by default.
REQUEST_MAX_CONTENT = 10 * 1024 * 1024
CHUNK = 64 * 1024
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class HttpAuth(StrictModel):
    """Credentials sent with the request: BASIC (`username`, `password`) or BEARER (`token`)."""

    type: Literal["BASIC", "BEARER"] = "BASIC"
    username: str | None = None
    password: str | None = None
    token: str | None = None


class RequestOptions(StrictModel):
    """Client options. `timeout` bounds the whole exchange; `connectTimeout`/`readTimeout` each socket
    operation (urllib has one socket timeout: the larger of the two is used)."""

    timeout: Duration | None = None
    connect_timeout: Duration | None = None
    read_timeout: Duration | None = None
    follow_redirects: bool = True
    max_content_length: int | None = Field(default=None, ge=1)
    auth: HttpAuth | None = None
    # Kestra 0.x spelling of BASIC auth.
    basic_auth_user: str | None = None
    basic_auth_password: str | None = None
    # Kestra 1.x moved `allowFailed` here; either place allows a non-2xx status.
    allow_failed: bool = False

    def socket_seconds(self) -> float:
        chosen = max(
            (t for t in (self.connect_timeout, self.read_timeout) if t is not None),
            default=self.timeout or DEFAULT_TIMEOUT,
        )
        return chosen.total_seconds()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Sockets:
    """The sockets one exchange opened (redirects may open more), shut down together on a stop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.shut = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            if not self.shut:
                self._open.append(sock)
                return
        _shut_down(sock)  # connected after the stop: it must not live on either

    def shut_down(self) -> None:
        with self._lock:
            self.shut, sockets = True, list(self._open)
        for sock in sockets:
            _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    # The plain socket's shutdown: it wakes a read blocked in another thread (close alone does not),
    # and leaves a TLS socket's state to the thread that owns it.
    with contextlib.suppress(OSError):  # already closed, or never connected
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _HTTPConnection(http.client.HTTPConnection):
    sockets: _Sockets

    def connect(self) -> None:
        if self.sockets.shut:
            raise OSError("the task was stopped")
        super().connect()
        self.sockets.add(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection):
    sockets: _Sockets

    def connect(self) -> None:
        if self.sockets.shut:
            raise OSError("the task was stopped")
        super().connect()
        self.sockets.add(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, sockets: _Sockets):
        super().__init__()
        self.sockets = sockets

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, host: str, **options: Any) -> http.client.HTTPConnection:
        connection = _HTTPConnection(host, **options)
        connection.sockets = self.sockets
        return connection


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, sockets: _Sockets):
        super().__init__()
        self.sockets = sockets

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, host: str, **options: Any) -> http.client.HTTPSConnection:
        connection = _HTTPSConnection(host, **options)
        connection.sockets = self.sockets
        return connection


def _headers(message: Message) -> dict[str, list[str]]:
    """Response headers as Kestra gives them: each name with the list of its values."""
    headers: dict[str, list[str]] = {}
    for name, value in message.items():
        headers.setdefault(name, []).append(value)
    return headers


@dataclass
class Response:
    code: int
    headers: Message
    data: bytes

    def text(self) -> str:
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return self.data.decode(charset, errors="replace")
        except LookupError:  # a charset name Python does not know
            return self.data.decode("utf-8", errors="replace")


def _read_body(stream: Any, limit: int | None, deadline: float | None) -> bytes:
    """The whole body, in chunks, checking the size limit and the exchange's deadline as it goes."""
    read = getattr(stream, "read1", stream.read)
    buffer = bytearray()
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("the response took longer than the timeout")
        chunk = read(CHUNK)
        if not chunk:
            return bytes(buffer)
        buffer.extend(chunk)
        if limit is not None and len(buffer) > limit:
            raise TaskFailed(f"the response is larger than maxContentLength ({limit} bytes)")


class HttpTask(RunnableTask):
    """What `http.Request` and `http.Download` share: the request and how it is sent."""

    uri: str
    method: Method = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = None
    content_type: str | None = None
    form_data: dict[str, Any] | None = None
    allow_failed: bool = False
    options: RequestOptions = Field(default_factory=RequestOptions)

    default_max_content: ClassVar[int | None] = None

    def _payload(self, ctx: RunContext, headers: dict[str, str]) -> bytes | None:
        if self.form_data is not None:
            form = {k: as_text(v) for k, v in ctx.render(self.form_data).items()}
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            return urllib.parse.urlencode(form).encode()
        body = ctx.render(self.body)
        if body is None:
            return None
        if isinstance(body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(body).encode()
        return as_text(body).encode()

    def _auth_header(self, ctx: RunContext) -> str | None:
        options = self.options
        auth = options.auth
        if auth is None and options.basic_auth_user is not None:
            auth = HttpAuth(username=options.basic_auth_user, password=options.basic_auth_password)
        if auth is None:
            return None
        if auth.type == "BEARER":
            return "Bearer " + as_text(ctx.render(auth.token))
        pair = f"{as_text(ctx.render(auth.username))}:{as_text(ctx.render(auth.password))}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def _deadline(self) -> float | None:
        bounds = [t.total_seconds() for t in (self.options.timeout, self.timeout) if t is not None]
        return time.monotonic() + min(bounds) if bounds else None

    def exchange(self, ctx: RunContext) -> tuple[str, Response]:
        """Send the request; returns the rendered URI and the response (non-2xx only with allowFailed)."""
        uri = as_text(ctx.render(self.uri))
        if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
            raise TaskFailed(f"'{uri}' is not an http or https URI")
        headers = {as_text(k): as_text(v) for k, v in ctx.render(self.headers).items()}
        if self.content_type is not None:
            headers["Content-Type"] = as_text(ctx.render(self.content_type))
        authorization = self._auth_header(ctx)
        if authorization is not None:
            headers["Authorization"] = authorization
        data = self._payload(ctx, headers)
        request = urllib.request.Request(uri, data=data, headers=headers, method=self.method)
        sockets = _Sockets()
        ctx.on_stop(sockets.shut_down)
        handlers: list[urllib.request.BaseHandler] = [_HTTPHandler(sockets), _HTTPSHandler(sockets)]
        if not self.options.follow_redirects:
            handlers.append(_NoRedirect())
        opener = urllib.request.build_opener(*handlers)
        limit = self.options.max_content_length or self.default_max_content
        deadline = self._deadline()
        seconds = self.options.socket_seconds()
        if deadline is not None:
            seconds = min(seconds, max(0.001, deadline - time.monotonic()))
        try:
            try:
                with opener.open(request, timeout=seconds) as answer:
                    return uri, Response(answer.status, answer.headers, _read_body(answer, limit, deadline))
            except urllib.error.HTTPError as err:
                response = Response(err.code, err.headers, _read_body(err, limit, deadline))
        except TimeoutError:
            raise TaskTimeout(f"{self.method} {uri} timed out") from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                raise TaskTimeout(f"{self.method} {uri} timed out while connecting") from None
            raise HttpError(f"{self.method} {uri} failed: {err.reason}") from None
        except OSError as err:
            raise HttpError(f"{self.method} {uri} failed: {err}") from None
        if self.allow_failed or self.options.allow_failed:
            return uri, response
        raise HttpError(
            f"{self.method} {uri} failed with status {response.code}: {response.text()[:500]}", response.code
        )


@register
class Request(HttpTask):
    """Send an HTTP request; outputs `code`, `headers` and `body` (text). A non-2xx status fails the
    task unless `allowFailed`."""

    type_name: ClassVar[str] = "http.Request"
    aliases: ClassVar[tuple[str, ...]] = (
        *kestra_aliases("http", "Request"),
        "io.kestra.plugin.fs.http.Request",
    )
    output_fields: ClassVar[dict[str, str]] = {
        "code": "the HTTP status code",
        "headers": "response headers: each name with the list of its values",
        "body": "the response body as text (parse JSON with `fromJson`)",
    }
    default_max_content: ClassVar[int | None] = REQUEST_MAX_CONTENT

    def run(self, ctx: RunContext) -> dict[str, Any]:
        _, response = self.exchange(ctx)
        return {"code": response.code, "headers": _headers(response.headers), "body": response.text()}


def download_name(uri: str, headers: Message) -> str:
    """The file name of a download: Content-Disposition's, else the URI path's last segment."""
    disposition = headers.get_filename()
    if disposition:
        return safe_file_name(disposition, "download")
    path = urllib.parse.unquote(urllib.parse.urlsplit(uri).path)
    return safe_file_name(posixpath.basename(path), "download")


@register
class Download(HttpTask):
    """Download a file over HTTP into storage; outputs its `uri`, `code`, `headers` and `length`."""

    type_name: ClassVar[str] = "http.Download"
    aliases: ClassVar[tuple[str, ...]] = (
        *kestra_aliases("http", "Download"),
        "io.kestra.plugin.fs.http.Download",
    )
    output_fields: ClassVar[dict[str, str]] = {
        "uri": "storage URI of the downloaded file",
        "code": "the HTTP status code",
        "headers": "response headers: each name with the list of its values",
        "length": "size of the file in bytes",
    }

    fail_on_empty_response: bool = True
    # The stored file's name (Kestra's `saveAs`); else Content-Disposition's, else the URI's.
    save_as: str | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        uri, response = self.exchange(ctx)
        if not response.data and self.fail_on_empty_response:
            raise TaskFailed(f"{self.method} {uri} returned an empty body (failOnEmptyResponse is true)")
        name = download_name(uri, response.headers)
        if self.save_as is not None:
            name = safe_file_name(as_text(ctx.render(self.save_as)), name)
        stored = ctx.put_file(name, response.data)
        ctx.log("INFO", f"downloaded {len(response.data)} bytes from {uri}")
        return {
            "uri": stored,
            "code": response.code,
            "headers": _headers(response.headers),
            "length": len(response.data),
        }
