"""`strato server` serving the console on its real endpoint: the token guards it, a stopping server
answers starts 503, and the webhooks and the console share the port."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from stratoflow.console.local import server_console
from stratoflow.local.server import StratoServer
from tests.unit.console.conftest import FLOWS


@pytest.fixture
def server(tmp_path: Path) -> StratoServer:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greet.yaml").write_text(textwrap.dedent(FLOWS["greet"]))
    return StratoServer(flows, tmp_path / "home", port=0, report=lambda _: None)


def test_the_servers_token_guards_its_console_and_a_stopping_server_answers_503(server: StratoServer) -> None:
    console = server_console(server, token="the-token")
    server.open(console)
    try:
        server.sync_flows()
        client = TestClient(console)
        assert client.get("/api/v1/flows").status_code == 401
        bearer = {"authorization": "Bearer the-token"}
        assert client.get("/api/v1/flows", headers=bearer).status_code == 200

        server._stopping.set()  # as `close` does first
        refused = client.post(
            "/api/v1/flows/demo/greet/executions", json={"inputs": {"name": "x"}}, headers=bearer
        )
        assert refused.status_code == 503 and refused.json() == {"message": "the server is stopping"}
    finally:
        server.close()


def test_the_webhooks_and_the_console_share_the_port(server: StratoServer) -> None:
    # Given a server on a real loopback port, with its console guarded by a token
    server.open(server_console(server, token="the-token"))
    try:
        server.sync_flows()
        base = f"http://127.0.0.1:{server.port}"

        # When a webhook is called and the console's API asked, over HTTP
        hook = urllib.request.Request(
            f"{base}/webhook/demo/greet/console-test-key-0123456789?wait=true",
            data=json.dumps({}).encode(),
            headers={"content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:  # `name` is required: a 400 naming it
            urllib.request.urlopen(hook, timeout=30)
        api = urllib.request.Request(f"{base}/api/v1/flows", headers={"authorization": "Bearer the-token"})
        with urllib.request.urlopen(api, timeout=30) as response:
            flows = json.loads(response.read())["flows"]

        # Then each answers on the same port
        assert refused.value.code == 400 and "name" in json.loads(refused.value.read())["message"]
        assert [f["flowId"] for f in flows] == ["greet"]
    finally:
        server.close()


def test_without_a_console_other_paths_are_404(server: StratoServer) -> None:
    server.open()
    try:
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/v1/flows", timeout=30)
        assert missing.value.code == 404
    finally:
        server.close()
