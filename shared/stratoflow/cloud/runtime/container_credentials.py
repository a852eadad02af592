"""AWS credentials that refresh, for the scripts of a Fargate container.

A script there may run for hours, and its flow's sandbox role is a role-chained session: an hour at
most. So the container's runner hands a script no static keys: it serves them on a loopback endpoint
that the AWS SDKs and the CLI read, and read again before they expire
(`AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN`, as ECS serves a task
role). Each script gets a token of its own, which names its flow; the endpoint answers with that
flow's sandbox role (`flow_credentials.SandboxRoleCredentials`), assumed again as its session ends.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.runtime.flow_credentials import FlowRoleCredentials

if TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/credentials"


class CredentialsEndpoint:
    """Hands each script a token for its flow's credentials, and serves them on 127.0.0.1."""

    def __init__(self, provider: FlowRoleCredentials):
        self.provider = provider
        self._flows: dict[str, tuple[str, str, str]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def for_flow(self, namespace: str, flow_id: str, execution_id: str) -> dict[str, str]:
        """What a script's environment gets (`tasks.scripts.environment.ENDPOINT_VARIABLES`)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._flows[token] = (namespace, flow_id, execution_id)
        return {
            "container_credentials_full_uri": f"http://127.0.0.1:{self.port}{PATH}",
            "container_authorization_token": token,
        }

    def answer(self, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
        """The status and body for a request: the flow's credentials in ECS's shape, or a refusal."""
        with self._lock:
            flow = self._flows.get(token or "")
        if path != PATH or flow is None:
            return 403, {"message": "unknown path or authorization token"}
        credentials, expires_at = self.provider.issued(*flow)
        expiration = datetime.fromtimestamp(expires_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return 200, {
            "AccessKeyId": credentials["aws_access_key_id"],
            "SecretAccessKey": credentials["aws_secret_access_key"],
            "Token": credentials["aws_session_token"],
            "Expiration": expiration,
        }

    @property
    def port(self) -> int:
        with self._lock:
            if self._server is None:
                # http.server (about 20 ms) only once a script asks: the composition root imports
                # this module for every function.
                from http.server import ThreadingHTTPServer

                self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
                self._server.daemon_threads = True
                threading.Thread(target=self._server.serve_forever, daemon=True).start()
            return int(self._server.server_address[1])

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _handler(endpoint: CredentialsEndpoint) -> type[BaseHTTPRequestHandler]:
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                status, body = endpoint.answer(self.path, self.headers.get("Authorization"))
            except Exception as error:  # STS refused: the SDK reports it as a credentials error
                status, body = 500, {"message": f"{type(error).__name__}: {error}"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # the container's log is the runner's
            pass

    return Handler
