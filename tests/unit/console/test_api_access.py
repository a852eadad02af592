"""Who may call: the token of `strato server --token`, and principals limited to namespaces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import HTTPConnection

from stratoflow.console.auth import TOKEN_COOKIE, Principal, token_authorizer
from tests.unit.console.conftest import Console, make_console

TEAM = Principal("ada", read=("demo",), act=("demo.team",))


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Console]:
    yield from make_console(tmp_path, authorize=lambda connection: TEAM)


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Console]:
    yield from make_console(tmp_path, authorize=token_authorizer("s3cret-token-value"))


def test_without_the_token_every_route_and_page_is_401(guarded: Console) -> None:
    client = guarded.client
    for method, path in (
        ("GET", "/api/v1/flows"),
        ("GET", "/api/v1/executions"),
        ("POST", "/api/v1/flows/demo/greet/executions"),
        ("GET", "/ui/flows"),
        ("GET", "/"),
    ):
        response = client.request(method, path, headers={"authorization": "Bearer wrong"})
        assert response.status_code == 401, path
        assert response.json()["message"].startswith("authentication required")


def test_the_token_opens_the_api_and_a_page_visit_keeps_it_in_a_cookie(guarded: Console) -> None:
    client = guarded.client
    bearer = client.get("/api/v1/flows", headers={"authorization": "Bearer s3cret-token-value"})
    assert bearer.status_code == 200
    visit = client.get("/?token=s3cret-token-value")
    assert visit.status_code == 200 and TOKEN_COOKIE in visit.headers["set-cookie"]
    assert "httponly" in visit.headers["set-cookie"].lower()
    assert client.get("/api/v1/flows").status_code == 200  # the cookie is sent from now on


def test_a_principal_reads_only_its_namespaces(limited: Console) -> None:
    client = limited.client
    flows = client.get("/api/v1/flows").json()["flows"]
    assert {f["namespace"] for f in flows} == {"demo", "demo.team"}
    assert client.get("/api/v1/namespaces").json()["namespaces"] == ["demo", "demo.team"]
    hidden = client.get("/api/v1/flows/other/hidden")
    assert hidden.status_code == 403 and hidden.json()["message"] == "ada may not read namespace other"
    assert client.get("/api/v1/executions", params={"namespace": "other"}).status_code == 403


def test_a_principal_acts_only_on_its_namespaces(limited: Console) -> None:
    # Given executions in two namespaces (started by the platform, not through the API)
    platform = limited.platform
    other = platform.admit(*_live(platform, "other", "hidden"), {})
    demo = platform.admit(*_live(platform, "demo", "broken"), {})

    # When the principal (read demo.*, act on demo.team) acts
    start = limited.client.post("/api/v1/flows/demo/greet/executions", json={"inputs": {"name": "x"}})
    kill = limited.client.post(f"/api/v1/executions/{demo.id}/kill")
    read_other = limited.client.get(f"/api/v1/executions/{other.id}")
    allowed = limited.client.post("/api/v1/flows/demo.team/loop/executions", json={})

    # Then only demo.team is open to actions, and other cannot even be read
    assert start.status_code == 403 and start.json()["message"] == "ada may not act on namespace demo"
    assert kill.status_code == 403
    assert read_other.status_code == 403
    assert allowed.status_code == 201
    listed = limited.client.get("/api/v1/executions").json()["executions"]
    assert other.id not in {e["id"] for e in listed} and demo.id in {e["id"] for e in listed}


def _live(platform: object, namespace: str, flow_id: str) -> tuple[object, object]:
    from stratoflow.execution.flows import flow_of

    record = platform.store.get_flow(namespace, flow_id)  # type: ignore[attr-defined]
    return flow_of(record), record


def test_grants_cover_child_namespaces_only() -> None:
    principal = Principal("p", read=("team",), act=())
    assert principal.may_read("team") and principal.may_read("team.etl")
    assert not principal.may_read("teams") and not principal.may_act("team")
    assert Principal("all").may_act("anything")


def test_the_token_is_read_from_header_cookie_or_query() -> None:
    authorize = token_authorizer("tok")

    def connection(headers: dict[str, str], query: str = "") -> HTTPConnection:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        return HTTPConnection({"type": "http", "headers": raw, "query_string": query.encode()})

    assert authorize(connection({"authorization": "Bearer tok"})).name == "local user"
    assert authorize(connection({"cookie": f"{TOKEN_COOKIE}=tok"})).name == "local user"
    assert authorize(connection({}, "token=tok")).name == "local user"
