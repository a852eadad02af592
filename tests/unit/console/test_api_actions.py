"""Actions: start with typed inputs (JSON and forms with files), kill, restart, replay, resume."""

from __future__ import annotations

from fastapi.testclient import TestClient

from stratoflow.states import State
from tests.unit.console.conftest import Console


def test_start_types_the_inputs_and_runs_the_flow(console: Console) -> None:
    # When a flow is started with inputs as text, as a form would send them
    response = console.client.post(
        "/api/v1/flows/demo/greet/executions",
        json={"inputs": {"name": "Ada", "times": "3"}, "labels": {"by": "me"}},
    )

    # Then it is admitted (201), typed as the CLI types them, and runs to its end
    assert response.status_code == 201
    started = response.json()
    assert started["labels"]["by"] == "me"
    execution = console.wait_end(started["id"])
    assert execution.state == State.SUCCESS
    assert execution.inputs["times"] == 3 and execution.inputs["color"] == "red"


def test_start_refuses_bad_inputs_naming_them(client: TestClient) -> None:
    cases = [
        ({"inputs": {}}, "name"),  # required
        ({"inputs": {"name": "x", "times": "many"}}, "times"),
        ({"inputs": {"name": "x", "color": "green"}}, "color"),
        ({"inputs": "nope"}, "inputs"),
        ({"labels": {"a": 1}}, "labels"),
    ]
    for body, name in cases:
        response = client.post("/api/v1/flows/demo/greet/executions", json=body)
        assert response.status_code == 400, (body, response.text)
        assert name in response.json()["message"], (body, response.json())
    assert client.get("/api/v1/executions").json()["executions"] == []


def test_start_of_an_unknown_flow_is_404(client: TestClient) -> None:
    response = client.post("/api/v1/flows/demo/nope/executions", json={})
    assert response.status_code == 404 and response.json()["message"] == "flow demo.nope is not deployed"


def test_a_form_start_takes_fields_files_and_labels(console: Console) -> None:
    response = console.client.post(
        "/api/v1/flows/demo/greet/executions",
        data={"name": "Bob", "times": "", "__label": ["env:test", "team:x"]},
        files={"data": ("in.txt", b"payload", "text/plain")},
    )
    assert response.status_code == 201, response.text
    execution = console.wait_end(response.json()["id"])
    assert execution.state == State.SUCCESS
    assert execution.inputs["times"] == 1  # an empty field is not given: the default applies
    assert str(execution.inputs["data"]).startswith("strato:///demo/greet/executions/")
    assert execution.labels["env"] == "test" and execution.labels["team"] == "x"


def test_a_file_for_a_text_input_is_refused_and_nothing_is_stored(console: Console) -> None:
    response = console.client.post(
        "/api/v1/flows/demo/greet/executions", data={}, files={"name": ("n.txt", b"Ada", "text/plain")}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "input 'name': is not a FILE input: send its value as text"
    assert console.platform.blobs.list_keys("demo") == []


def test_a_refused_start_removes_its_uploads(console: Console) -> None:
    response = console.client.post(
        "/api/v1/flows/demo/greet/executions",
        data={"times": "x"},
        files={"data": ("in.txt", b"payload", "text/plain")},
    )
    assert response.status_code == 400
    assert console.platform.blobs.list_keys("demo") == []


def test_kill_stops_a_paused_execution_and_a_second_kill_is_409(console: Console) -> None:
    # Given an execution waiting on its Pause
    execution_id = console.start("approve")
    console.wait_end(execution_id, (State.PAUSED,))

    # When it is killed
    response = console.client.post(f"/api/v1/executions/{execution_id}/kill")

    # Then it ends KILLED, and killing it again is a conflict that says why
    assert response.status_code == 200 and response.json() == {"killed": [execution_id]}
    assert console.wait_end(execution_id).state == State.KILLED
    again = console.client.post(f"/api/v1/executions/{execution_id}/kill")
    assert again.status_code == 409 and "only a created, queued, running or paused" in again.json()["message"]


def test_resume_types_on_resume_inputs_and_continues(console: Console) -> None:
    # Given a paused execution
    execution_id = console.start("approve")
    console.wait_end(execution_id, (State.PAUSED,))

    # When resumed with a bad input, then a good one
    bad = console.client.post(
        f"/api/v1/executions/{execution_id}/resume", json={"inputs": {"approved": "maybe"}}
    )
    unknown = console.client.post(f"/api/v1/executions/{execution_id}/resume", json={"inputs": {"other": 1}})
    good = console.client.post(
        f"/api/v1/executions/{execution_id}/resume", json={"inputs": {"approved": "true"}}
    )

    # Then the bad ones are 400 naming the input, and the good one ends the pause
    assert bad.status_code == 400 and "approved" in bad.json()["message"]
    assert unknown.status_code == 400 and "other" in unknown.json()["message"]
    assert good.status_code == 200
    assert console.wait_end(execution_id).state == State.SUCCESS
    logs = console.client.get(f"/api/v1/executions/{execution_id}/logs", params={"taskId": "after"}).json()
    assert [line["message"] for line in logs["logs"]] == ["approved=true"]
    done = console.client.post(
        f"/api/v1/executions/{execution_id}/resume", json={"inputs": {"approved": "true"}}
    )
    assert done.status_code == 409 and "nothing to resume" in done.json()["message"]


def test_restart_runs_a_failed_execution_again_from_its_failed_task(console: Console) -> None:
    # Given a FAILED execution
    execution = console.run("broken")
    assert execution.state == State.FAILED

    # When it is restarted
    response = console.client.post(f"/api/v1/executions/{execution.id}/restart")

    # Then the same execution runs again (and fails again at the same task)
    assert response.status_code == 200 and response.json()["id"] == execution.id
    again = console.wait_end(execution.id)
    assert again.state == State.FAILED and again.restarts == 1
    done = console.run("greet", name="x")
    refused = console.client.post(f"/api/v1/executions/{done.id}/restart")
    assert refused.status_code == 409 and "SUCCESS" in refused.json()["message"]


def test_replay_starts_a_new_execution_from_a_task(console: Console) -> None:
    done = console.run("greet", name="Ada")
    response = console.client.post(f"/api/v1/executions/{done.id}/replay", json={"fromTask": "result"})
    assert response.status_code == 201
    replay = console.wait_end(response.json()["id"])
    assert replay.id != done.id and replay.original_execution_id == done.id
    assert replay.state == State.SUCCESS
    bad = console.client.post(f"/api/v1/executions/{done.id}/replay", json={"fromTask": "nope"})
    assert bad.status_code == 409 and "nope" in bad.json()["message"]
    empty = console.client.post(f"/api/v1/executions/{done.id}/replay", json={})
    assert empty.status_code == 400 and "fromTask" in empty.json()["message"]


def test_actions_on_a_missing_execution_are_404(client: TestClient) -> None:
    for action, body in (("kill", None), ("restart", None), ("replay", {"fromTask": "a"}), ("resume", {})):
        response = client.post(f"/api/v1/executions/missing/{action}", json=body)
        assert response.status_code == 404, action
        assert response.json()["message"] == "execution missing does not exist"
