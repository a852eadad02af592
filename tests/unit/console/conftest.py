"""The console's app over a real local platform (SQLite history, blob folder) in a temporary home,
called in-process through Starlette's TestClient (no socket)."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stratoflow.console.app import create_app
from stratoflow.console.auth import Authorize
from stratoflow.console.local import LocalConsoleBackend
from stratoflow.domain import Execution
from stratoflow.local.platform import LocalPlatform
from stratoflow.states import State

FLOWS = {
    "greet": """
        id: greet
        namespace: demo
        description: Says hello.
        labels: {team: data}
        inputs:
          - {id: name, type: STRING, description: Who to greet}
          - {id: times, type: INT, defaults: 1}
          - {id: token, type: SECRET, required: false}
          - {id: color, type: SELECT, values: [red, blue], defaults: red}
          - {id: data, type: FILE, required: false}
        triggers:
          - {id: nightly, type: Schedule, cron: "30 2 * * *", timezone: Europe/Paris}
          - {id: hook, type: Webhook, key: console-test-key-0123456789}
        tasks:
          - {id: hello, type: Log, message: "hello {{ inputs.name }} x{{ inputs.times }}"}
          - {id: shout, type: Log, level: WARN, message: "HELLO {{ inputs.name }}"}
          - {id: result, type: Return, format: "hi {{ inputs.name }}"}
        outputs:
          - {id: greeting, type: STRING, value: "{{ outputs.result.value }}"}
    """,
    "approve": """
        id: approve
        namespace: demo
        tasks:
          - {id: before, type: Log, message: waiting}
          - id: wait
            type: Pause
            onResume:
              - {id: approved, type: BOOLEAN}
          - {id: after, type: Log, message: "approved={{ outputs.wait.onResume.approved }}"}
    """,
    "broken": """
        id: broken
        namespace: demo
        tasks:
          - {id: first, type: Log, message: one}
          - {id: boom, type: Fail, errorMessage: it broke}
          - {id: never, type: Log, message: never}
        errors:
          - {id: alert, type: Log, message: failed}
        finally:
          - {id: cleanup, type: Log, message: done}
    """,
    "loop": """
        id: loop
        namespace: demo.team
        tasks:
          - id: each
            type: ForEach
            values: [a, b, c]
            tasks:
              - {id: item, type: Log, message: "item {{ taskrun.value }}"}
          - id: branch
            type: If
            condition: "{{ true }}"
            then:
              - {id: yes, type: Log, message: "yes"}
            else:
              - {id: no, type: Log, message: "no"}
    """,
    "hidden": """
        id: hidden
        namespace: other
        tasks:
          - {id: secret, type: Log, message: private}
    """,
}


class Console:
    """The app, its platform, and helpers to run and wait."""

    def __init__(self, platform: LocalPlatform, client: TestClient) -> None:
        self.platform = platform
        self.client = client

    def wait_end(self, execution_id: str, states: tuple[State, ...] = ()) -> Execution:
        """Wait (bounded) until the execution ends, or reaches one of `states`."""
        for _ in range(600):
            execution = self.platform.store.get_execution(execution_id)
            assert execution is not None
            if execution.state.is_terminal or execution.state in states:
                return execution
            time.sleep(0.05)
        raise AssertionError(f"execution {execution_id} did not end")

    def start(self, flow: str, namespace: str = "demo", **inputs: object) -> str:
        response = self.client.post(f"/api/v1/flows/{namespace}/{flow}/executions", json={"inputs": inputs})
        assert response.status_code == 201, response.text
        execution_id: str = response.json()["id"]
        return execution_id

    def run(self, flow: str, namespace: str = "demo", **inputs: object) -> Execution:
        return self.wait_end(self.start(flow, namespace, **inputs))


def make_console(tmp_path: Path, authorize: Authorize | None = None) -> Iterator[Console]:
    platform = LocalPlatform(tmp_path / "home")
    for name, text in FLOWS.items():
        platform.deploy_source(textwrap.dedent(text), f"{name}.yaml")
    with TestClient(create_app(LocalConsoleBackend(platform), authorize=authorize)) as client:
        yield Console(platform, client)
    platform.stop_all("the test ended")
    platform.close()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from make_console(tmp_path)


@pytest.fixture
def client(console: Console) -> TestClient:
    return console.client
