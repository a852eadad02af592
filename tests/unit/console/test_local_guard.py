"""`strato server`'s console answers this machine's browser only: no request forged by another
site's page (a form or a bodiless POST needs no CORS preflight), no DNS-rebound host name."""

from __future__ import annotations

from fastapi.testclient import TestClient

from stratoflow.local.http import platform_app
from tests.unit.console.conftest import Console


def _client(console: Console, host: str = "127.0.0.1:8080") -> TestClient:
    async def no_webhooks(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not a webhook path")

    app = platform_app(no_webhooks, console.client.app)  # type: ignore[arg-type]
    return TestClient(app, base_url=f"http://{host}")


def test_a_page_of_another_site_cannot_act(console: Console) -> None:
    client = _client(console)
    # When another origin posts a form (no preflight) or a kill
    forged = client.post(
        "/api/v1/flows/demo/greet/executions", data={"name": "x"}, headers={"origin": "https://evil.example"}
    )
    kill = client.post("/api/v1/executions/any/kill", headers={"origin": "http://localhost:9999"})

    # Then both are refused before anything starts, with the reason
    assert forged.status_code == 403 and forged.json()["message"] == (
        "a request from https://evil.example may not act on this console"
    )
    assert kill.status_code == 403
    assert client.get("/api/v1/executions").json()["executions"] == []


def test_the_consoles_own_pages_and_tools_without_an_origin_may_act(console: Console) -> None:
    client = _client(console)
    own = client.post(
        "/api/v1/flows/demo/greet/executions",
        json={"inputs": {"name": "x"}},
        headers={"origin": "http://127.0.0.1:8080"},
    )
    curl = client.post("/api/v1/flows/demo/greet/executions", json={"inputs": {"name": "y"}})
    assert own.status_code == 201 and curl.status_code == 201
    assert client.get("/api/v1/flows", headers={"origin": "https://elsewhere.example"}).status_code == 200


def test_a_host_name_other_than_loopback_is_refused(console: Console) -> None:
    rebound = _client(console, host="attacker.example:8080").get("/api/v1/flows")
    assert rebound.status_code == 403 and "loopback names only" in rebound.json()["message"]
    assert _client(console, host="localhost:8080").get("/api/v1/flows").status_code == 200
    assert _client(console, host="[::1]:8080").get("/ui/flows").status_code == 200
