"""A task timeout against a server that answers too slowly (a socket on 127.0.0.1)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow
from tests.unit.runtime.test_semantics import HEADER


@pytest.fixture
def slow_server() -> Iterator[str]:
    """A local HTTP server that answers after 3 s: longer than the task's timeout."""

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(3)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slow"
    server.shutdown()


def test_timeout_fails_the_attempt_and_retries_it(run_flow: RunFlow, slow_server: str) -> None:
    # Given a task that outlives its timeout on every attempt (the runner enforces `timeout` itself)
    outcome = run_flow(
        HEADER
        + f"""
tasks:
  - id: slow
    type: http.Request
    uri: "{slow_server}"
    timeout: PT0.2S
    retry:
      type: constant
      interval: PT1S
      maxAttempts: 2
"""
    )
    assert outcome.execution.state == State.FAILED
    (slow,) = outcome.task_runs
    assert len(slow.attempts) == 2
    assert "timed out" in (slow.error or "")
