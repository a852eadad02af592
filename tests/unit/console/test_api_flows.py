"""Flows: list, one flow (inputs, triggers with next fires, tasks), revisions, topology, validation."""

from __future__ import annotations

import textwrap

from fastapi.testclient import TestClient

from tests.unit.console.conftest import FLOWS, Console


def test_flows_are_listed_by_namespace_with_their_status(client: TestClient) -> None:
    # When every flow is listed, and then one namespace (with its children)
    everything = client.get("/api/v1/flows").json()["flows"]
    demo = client.get("/api/v1/flows", params={"namespace": "demo"}).json()["flows"]

    # Then they come by namespace and id, with what the list shows
    assert [(f["namespace"], f["flowId"]) for f in everything] == [
        ("demo", "approve"),
        ("demo", "broken"),
        ("demo", "greet"),
        ("demo.team", "loop"),
        ("other", "hidden"),
    ]
    assert {f["flowId"] for f in demo} == {"approve", "broken", "greet", "loop"}
    greet = next(f for f in everything if f["flowId"] == "greet")
    assert greet["status"] == "DEPLOYED" and greet["revision"] == 1
    assert greet["labels"] == {"team": "data"}
    assert greet["triggerTypes"] == ["Schedule", "Webhook"]
    assert client.get("/api/v1/namespaces").json() == {"namespaces": ["demo", "demo.team", "other"]}


def test_one_flow_has_its_source_typed_inputs_triggers_and_tasks(client: TestClient) -> None:
    # When one flow is read
    response = client.get("/api/v1/flows/demo/greet")

    # Then it has its source and what the start form needs
    assert response.status_code == 200
    flow = response.json()
    assert flow["source"] == textwrap.dedent(FLOWS["greet"])
    inputs = {i["id"]: i for i in flow["inputs"]}
    assert inputs["name"] == {
        "id": "name",
        "type": "STRING",
        "required": True,
        "default": None,
        "description": "Who to greet",
        "displayName": None,
        "values": None,
        "itemType": None,
    }
    assert inputs["times"]["default"] == 1
    assert inputs["color"]["values"] == ["red", "blue"]
    assert [t["id"] for t in flow["tasks"]] == ["hello", "shout", "result"]
    # And the schedule's next fire times, in its zone and in UTC
    nightly = next(t for t in flow["triggers"] if t["id"] == "nightly")
    assert nightly["cron"] == "30 2 * * *" and nightly["timezone"] == "Europe/Paris"
    assert len(nightly["nextFires"]) >= 5
    assert all(
        f["local"].endswith(("+01:00", "+02:00")) or f["dst"] == "skipped" for f in nightly["nextFires"]
    )
    hook = next(t for t in flow["triggers"] if t["id"] == "hook")
    assert hook == {
        "id": "hook",
        "type": "Webhook",
        "disabled": False,
        "cron": None,
        "timezone": None,
        "nextFires": [],
        "schedulerError": None,
    }


def test_a_secret_default_is_masked_and_on_resume_inputs_are_listed(client: TestClient) -> None:
    flow = client.get("/api/v1/flows/demo/approve").json()
    wait = next(t for t in flow["tasks"] if t["id"] == "wait")
    assert wait["type"] == "Pause"
    assert [(i["id"], i["type"]) for i in wait["onResume"]] == [("approved", "BOOLEAN")]


def test_an_unknown_flow_is_404_with_a_message(client: TestClient) -> None:
    response = client.get("/api/v1/flows/demo/nope")
    assert response.status_code == 404
    assert response.json() == {"message": "flow demo.nope does not exist"}
    assert client.get("/api/v1/flows/demo/nope/revisions").status_code == 404
    assert client.get("/api/v1/flows/demo/nope/topology").status_code == 404


def test_revisions_are_listed_newest_first_and_each_has_its_source(console: Console) -> None:
    # Given a second revision of a flow
    changed = textwrap.dedent(FLOWS["broken"]).replace("message: one", "message: uno")
    console.platform.deploy_source(changed, "broken.yaml")

    # When its revisions are read
    revisions = console.client.get("/api/v1/flows/demo/broken/revisions").json()["revisions"]
    first = console.client.get("/api/v1/flows/demo/broken/revisions/1").json()

    # Then both are there, and each revision's source is its own
    assert [r["revision"] for r in revisions] == [2, 1]
    assert first["source"] == textwrap.dedent(FLOWS["broken"])
    assert console.client.get("/api/v1/flows/demo/broken").json()["source"] == changed
    missing = console.client.get("/api/v1/flows/demo/broken/revisions/9")
    assert missing.status_code == 404 and missing.json()["message"] == "flow demo.broken has no revision 9"
    assert console.client.get("/api/v1/flows/demo/broken/revisions/0").status_code == 400


def test_topology_has_groups_and_error_and_finally_paths(client: TestClient) -> None:
    # When the topology of a flow with errors and finally is read
    broken = client.get("/api/v1/flows/demo/broken/topology").json()
    edges = {(e["source"], e["target"], e["kind"]) for e in broken["edges"]}

    # Then tasks follow each other, errors hang off the failure node, finally comes before the end
    assert ("__start__", "first", "next") in edges
    assert ("first", "boom", "next") in edges
    assert ("__failure__", "alert", "error") in edges
    assert ("never", "cleanup", "finally") in edges
    assert ("cleanup", "__end__", "next") in edges

    # And flowables are groups holding their children, branches labelled
    loop = client.get("/api/v1/flows/demo.team/loop/topology").json()
    nodes = {n["id"]: n for n in loop["nodes"]}
    assert nodes["each"]["kind"] == "group" and nodes["item"]["group"] == "each"
    assert nodes["yes"]["group"] == "branch"
    labels = {(e["source"], e["target"]): e["label"] for e in loop["edges"] if e["kind"] == "branch"}
    assert labels == {("branch", "yes"): "then", ("branch", "no"): "else"}


def test_validate_locates_every_problem_and_stores_nothing(client: TestClient) -> None:
    # Given a flow text with an unknown task type on line 4
    text = "id: x\nnamespace: demo\ntasks:\n  - {id: a, type: Logg, message: hi}\n"

    # When it is validated
    response = client.post("/api/v1/flows/validate", json={"source": text, "file": "x.yaml"})

    # Then the answer locates the problem, and no flow was deployed
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    [problem] = [d for d in body["diagnostics"] if d["severity"] == "error"]
    assert problem["line"] == 4 and problem["column"] > 0
    assert "Logg" in problem["message"] and problem["text"].startswith("x.yaml:4:")
    assert client.get("/api/v1/flows/demo/x").status_code == 404


def test_validate_accepts_a_valid_flow_and_refuses_a_bad_body(client: TestClient) -> None:
    ok = client.post("/api/v1/flows/validate", json={"source": textwrap.dedent(FLOWS["greet"])})
    assert ok.json()["valid"] is True
    missing = client.post("/api/v1/flows/validate", json={})
    assert missing.status_code == 400 and "source" in missing.json()["message"]
    not_json = client.post(
        "/api/v1/flows/validate", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400


def test_the_openapi_document_is_served_beside_the_api(client: TestClient) -> None:
    from stratoflow.console.openapi import openapi_document

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json() == openapi_document()
