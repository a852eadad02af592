"""The `strato server` fixtures shared by its unit tests and its HTTP tests (tests/integration): flows,
a flows folder, a server on a free port (bound only when a test calls it over HTTP)."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.engine import VirtualClock
from stratoflow.local.server import StratoServer

UP = """
    id: up
    namespace: demo
    inputs: [{id: who, type: STRING, defaults: nobody}]
    triggers:
      - {id: hook, type: Webhook, key: secret-key-0123456789, inputs: {who: "{{ trigger.body.name }}"}}
    tasks:
      - {id: hello, type: Return, format: "hi {{ inputs.who }}"}
    outputs:
      - {id: greeting, type: STRING, value: "{{ outputs.hello.value }}"}
"""

DOWN = """
    id: down
    namespace: demo
    inputs: [{id: greeting, type: STRING}]
    triggers:
      - id: after-up
        type: Flow
        states: [SUCCESS]
        conditions: [{type: ExecutionFlow, namespace: demo, flowId: up}]
        inputs: {greeting: "{{ trigger.outputs.greeting }}"}
    tasks:
      - {id: echo, type: Return, format: "got {{ inputs.greeting }}"}
"""

HELD = """
    id: held
    namespace: demo
    concurrency: {limit: 1}
    triggers:
      - {id: hook, type: Webhook, key: hold-key-0123456789ab}
    tasks:
      - {id: wait, type: Pause}
"""


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text))
        return path


@pytest.fixture
def files(tmp_path: Path) -> Files:
    (tmp_path / "flows").mkdir()
    return Files(tmp_path / "flows")


@pytest.fixture
def messages() -> list[str]:
    return []


@pytest.fixture
def server(tmp_path: Path, files: Files, messages: list[str]) -> Iterator[StratoServer]:
    server = StratoServer(files.root, tmp_path / "home", port=0, clock=VirtualClock(), report=messages.append)
    yield server
    server.close()


def call(
    server: StratoServer, path: str, body: Any = None, method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        data=data,
        method=method,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
