"""`strato server`'s HTTP endpoint: uvicorn (HTTP/1.1, keep-alive) on loopback, serving the webhooks
and the console from one port.

The webhooks keep the logic the webhook Lambda runs (`stratoflow.triggers.webhooks.Webhooks`): this
module only turns ASGI requests into `WebhookRequest`s, on threads of their own (a waited webhook
holds one for up to 25 s without starving the console's API). Everything else goes to the console.
A client that sends its request slowly, or only part of it, has its connection closed after
`READ_TIMEOUT_SECONDS` (uvicorn has no such timeout of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import anyio
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from stratoflow.triggers.webhooks import WebhookRequest, WebhookResponse, Webhooks, content_length

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Connections the kernel holds while the server is busy: a burst of webhooks must not be reset (the
# standard library's 5 dropped some of 20 concurrent requests).
LISTEN_BACKLOG = 256
# A client that sends its request slowly (or half of it) gets its connection closed after this long.
READ_TIMEOUT_SECONDS = 10.0
# Webhook requests handled at once (each on a thread: admission and `?wait=true` block).
WEBHOOK_THREADS = 64
WEBHOOK_PREFIXES = ("/webhook/", "/api/v1/executions/webhook/")
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Answers still being sent when the server stops get this long before their connections are cut.
SHUTDOWN_SECONDS = 10

logger = logging.getLogger(__name__)


class _ReadTimeoutProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request has not fully arrived within
    READ_TIMEOUT_SECONDS of its first byte being awaited (a request being answered is never cut)."""

    read_timeout = READ_TIMEOUT_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_timeout()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_read_timeout()  # the next request on this connection gets the same time

    def _arm_read_timeout(self) -> None:
        previous = getattr(self, "_read_timer", None)
        if previous is not None:
            previous.cancel()
        self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _read_timed_out(self) -> None:
        # IDLE: the request line or headers are incomplete; SEND_BODY: the body is. DONE: it is whole,
        # and its answer is being computed (a waited webhook), which must not be cut.
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()


def _headers(scope: Scope) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return headers


async def _send(send: Send, response: WebhookResponse, close: bool = False) -> None:
    data = response.text().encode()
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    headers.append((b"content-length", str(len(data)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def webhook_endpoint(webhooks: Webhooks) -> ASGIApp:
    """The webhooks as an ASGI app: size checks before the body is read, the logic on a thread."""
    limiter = anyio.CapacityLimiter(WEBHOOK_THREADS)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        try:
            length = content_length(headers.get("content-length"))
        except ValueError as error:  # a client's mistake: an answer, never a traceback
            await _send(send, WebhookResponse(400, {"message": str(error)}), close=True)
            return
        if length > webhooks.max_body_bytes:  # the body stays unread: the connection cannot be reused
            await _send(send, webhooks.too_large(), close=True)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > webhooks.max_body_bytes:  # a chunked body, whose length was not announced
                await _send(send, webhooks.too_large(), close=True)
                return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = WebhookRequest(
            method=scope["method"],
            path=raw_path.decode("latin-1").split("?", 1)[0],
            parameters=parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
            headers=headers,
            body=bytes(body),
        )
        response = await anyio.to_thread.run_sync(webhooks.handle, request, limiter=limiter)
        await _send(send, response)

    return endpoint


def _refusal(headers: dict[str, list[str]], method: str) -> str | None:
    """Why a console request must be refused: a web page of another site may not use the console
    of this machine through its user's browser.

    A page of another origin can send a form or a bodiless POST to 127.0.0.1 without a CORS
    preflight (cross-site request forgery), and a name of its own that resolves to 127.0.0.1 reaches
    the port too (DNS rebinding): the Host must be a loopback name, and a request that changes
    something must come from the console's own origin when the browser says where it comes from.
    """
    host = (headers.get("host") or [""])[0].strip().lower()
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]", 1)[0] + "]"
    if name not in LOOPBACK_NAMES:
        return (
            f"the console answers on loopback names only ({', '.join(sorted(LOOPBACK_NAMES))}), not {name!r}"
        )
    origin = headers["origin"][0] if headers.get("origin") else None
    if method not in SAFE_METHODS and origin is not None and origin.lower() != f"http://{host}":
        return f"a request from {origin} may not act on this console"
    return None


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """What answers paths that are not webhooks when no console is served."""
    await _send(send, WebhookResponse(404, {"message": "Not Found"}))


def platform_app(webhooks: ASGIApp, console: ASGIApp) -> ASGIApp:
    """One app for the port: webhook paths to the webhooks (called from anywhere, by their key),
    everything else to the console, from this machine's browser only."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await console(scope, receive, send)
            return
        if scope["path"].startswith(WEBHOOK_PREFIXES):
            await webhooks(scope, receive, send)
            return
        problem = _refusal(_headers(scope), scope["method"])
        if problem is not None:
            await _send(send, WebhookResponse(403, {"message": problem}))
            return
        await console(scope, receive, send)

    return app


class HttpEndpoint:
    """uvicorn on a thread of its own, on a socket bound here (so a taken port fails `open`)."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.host, self.port = host, port
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=_ReadTimeoutProtocol,
            lifespan="off",
            backlog=LISTEN_BACKLOG,
            access_log=False,  # a webhook's path holds its key
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def open(self) -> int:
        """Bind and start serving; returns the port (port 0: any free one). OSError when it cannot."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(LISTEN_BACKLOG)
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="strato-http", daemon=True)
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.01)
        if not self._server.started:
            raise OSError(f"the HTTP server on {self.host}:{self.port} did not start")
        return self.port

    def _run(self) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            assert self._socket is not None
            await self._server.serve(sockets=[self._socket])

        asyncio.run(serve())

    def stop_accepting(self) -> None:
        """No new connection is accepted; those already open go on (their answers are awaited)."""
        loop = self._loop
        if loop is None or not self._server.started:
            return

        async def close_listeners() -> None:
            for server in getattr(self._server, "servers", []):
                server.close()

        # The loop may have ended already: nothing listens then either.
        with contextlib.suppress(RuntimeError, TimeoutError, asyncio.CancelledError):
            asyncio.run_coroutine_threadsafe(close_listeners(), loop).result(timeout=5)

    def close(self) -> None:
        """Stop: requests in flight are answered (for up to SHUTDOWN_SECONDS), the port released."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_SECONDS + 5)
            if self._thread.is_alive():  # a client that never reads its answer
                self._server.force_exit = True
                self._thread.join(5)
        if self._socket is not None:
            self._socket.close()
