"""Executions: the list (filters, cursor pages), one execution, task runs, logs, files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from stratoflow.domain import Execution, LogEntry
from stratoflow.states import State
from tests.unit.console.conftest import Console

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _history(console: Console, count: int) -> None:
    """`count` executions of two flows, one minute apart, every third labelled, every fourth FAILED."""
    store = console.platform.store
    for n in range(count):
        store.create_execution(
            Execution(
                id=f"e{n:04d}",
                namespace="demo" if n % 2 else "other",
                flow_id="greet" if n % 2 else "hidden",
                revision=1,
                labels={"batch": "x"} if n % 3 == 0 else {},
                start_date=T0 + timedelta(minutes=n),
            )
        )
        if n % 4 == 1:
            store.update_execution(f"e{n:04d}", state=State.RUNNING)
            store.update_execution(f"e{n:04d}", state=State.FAILED)


def _all_pages(client: TestClient, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        response = client.get(
            "/api/v1/executions", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        if body["executions"]:
            pages.append([e["id"] for e in body["executions"]])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages


def test_pages_walk_the_whole_history_newest_first(console: Console) -> None:
    # Given 25 executions
    _history(console, 25)

    # When read 10 at a time
    pages = _all_pages(console.client, limit=10)

    # Then every execution comes once, newest first, in pages of 10
    assert [len(p) for p in pages] == [10, 10, 5]
    flat = [i for p in pages for i in p]
    assert flat == [f"e{n:04d}" for n in range(24, -1, -1)]


def test_filters_combine_with_pages(console: Console) -> None:
    _history(console, 25)
    client = console.client

    def ids(**params: Any) -> list[str]:
        return [i for p in _all_pages(client, **params) for i in p]

    assert ids(namespace="demo", flowId="greet", limit=4) == [f"e{n:04d}" for n in range(23, 0, -2)]
    assert ids(state="FAILED", limit=2) == [f"e{n:04d}" for n in range(21, 0, -4)]
    assert ids(label="batch:x", limit=3) == [f"e{n:04d}" for n in range(24, -1, -3)]
    assert ids(label=["batch:x"], namespace="demo", limit=50) == ["e0021", "e0015", "e0009", "e0003"]
    window = {
        "since": (T0 + timedelta(minutes=5)).isoformat(),
        "until": (T0 + timedelta(minutes=8)).isoformat(),
    }
    assert ids(**window) == ["e0007", "e0006", "e0005"]


def test_a_summary_says_what_the_list_shows(console: Console) -> None:
    execution = console.run("greet", name="Ada")
    [summary] = console.client.get(
        "/api/v1/executions", params={"flowId": "greet", "namespace": "demo"}
    ).json()["executions"]
    assert summary["id"] == execution.id and summary["state"] == "SUCCESS"
    assert summary["flowId"] == "greet" and summary["namespace"] == "demo" and summary["revision"] == 1
    assert summary["durationMs"] is not None and summary["durationMs"] >= 0


def test_bad_list_parameters_are_400_with_the_parameter_named(client: TestClient) -> None:
    cases = {
        "state=DONE": "state",
        "limit=0": "limit",
        "limit=501": "limit",
        "flowId=greet": "flowId",
        "cursor=garbage": "cursor",
        "label=nocolon": "label",
        "since=yesterday": "since",
    }
    for query, name in cases.items():
        response = client.get(f"/api/v1/executions?{query}")
        assert response.status_code == 400, query
        assert name in response.json()["message"], (query, response.json())


def test_one_execution_masks_secret_inputs_and_has_outputs(console: Console) -> None:
    # Given a run with a SECRET input
    execution = console.run("greet", name="Ada", token="hunter2-very-secret")

    # When it is read
    response = console.client.get(f"/api/v1/executions/{execution.id}")

    # Then the secret is masked, the outputs and the state history are there
    body = response.json()
    assert response.status_code == 200
    assert body["inputs"]["token"] == "******" and body["inputs"]["name"] == "Ada"
    assert body["outputs"] == {"greeting": "hi Ada"}
    assert [s["state"] for s in body["stateHistory"]][-1] == "SUCCESS"
    assert body["correlationId"] == execution.id  # the root of its own chain
    assert "hunter2-very-secret" not in response.text
    missing = console.client.get("/api/v1/executions/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "execution nope does not exist"


def test_task_runs_carry_attempts_and_loop_iterations(console: Console) -> None:
    execution = console.run("loop", namespace="demo.team")
    runs = console.client.get(f"/api/v1/executions/{execution.id}/taskruns").json()["taskRuns"]
    items = [r for r in runs if r["taskId"] == "item"]
    assert sorted(r["value"] for r in items) == ["a", "b", "c"]
    assert all(r["state"] == "SUCCESS" and len(r["attempts"]) == 1 for r in items)
    assert {r["taskId"] for r in runs} >= {"each", "item", "branch", "yes"}
    only = console.client.get(f"/api/v1/executions/{execution.id}/taskruns", params={"taskId": "each"}).json()
    assert [r["taskId"] for r in only["taskRuns"]] == ["each"]


def test_logs_filter_by_task_and_level_and_continue_after_a_cursor(console: Console) -> None:
    # Given a finished run with INFO and WARN lines
    execution = console.run("greet", name="Ada")
    url = f"/api/v1/executions/{execution.id}/logs"

    # When its logs are read whole, by task, by level, and one line at a time
    everything = console.client.get(url).json()["logs"]
    warn = console.client.get(url, params={"level": "warn"}).json()["logs"]
    hello = console.client.get(url, params={"taskId": "hello"}).json()["logs"]
    one_by_one = []
    after = None
    while True:
        page = console.client.get(url, params={"limit": 1, **({"after": after} if after else {})}).json()
        if not page["logs"]:
            break
        one_by_one += page["logs"]
        after = page["nextCursor"]

    # Then each filter keeps its lines, and the cursor walks every line once
    assert [(line["taskId"], line["message"]) for line in warn] == [("shout", "HELLO Ada")]
    assert [line["message"] for line in hello] == ["hello Ada x1"]
    assert [line["message"] for line in one_by_one] == [line["message"] for line in everything]
    assert len(everything) >= 2
    assert console.client.get(url, params={"level": "LOUD"}).status_code == 400
    assert console.client.get(url, params={"after": "nonsense"}).status_code == 400


def test_lines_with_one_timestamp_are_paged_one_by_one(console: Console) -> None:
    # Given three lines written with the same timestamp
    execution = console.run("broken")
    stamp = datetime(2030, 1, 1, tzinfo=UTC)
    console.platform.store.append_logs(
        [
            LogEntry(execution_id=execution.id, task_id="x", message=f"same {n}", timestamp=stamp)
            for n in range(3)
        ]
    )
    url = f"/api/v1/executions/{execution.id}/logs"
    before = console.client.get(url).json()["logs"]
    after = before[-4]["cursor"]  # the last line before the three

    # When they are read one at a time from there
    seen = []
    for _ in range(3):
        page = console.client.get(url, params={"after": after, "limit": 1}).json()
        seen += [line["message"] for line in page["logs"]]
        after = page["nextCursor"]

    # Then each comes once
    assert seen == ["same 0", "same 1", "same 2"]


def test_the_log_stream_sends_lines_then_the_end(console: Console) -> None:
    # Given a finished run
    execution = console.run("greet", name="Ada")

    # When its stream is read
    with console.client.stream("GET", f"/api/v1/executions/{execution.id}/logs/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())

    # Then it holds the lines (each with its cursor as the event id), the state, and the end
    events = [block for block in text.split("\n\n") if block.strip()]
    kinds = [
        line.split(": ", 1)[1] for block in events for line in block.splitlines() if line.startswith("event:")
    ]
    assert kinds[-1] == "end" and "state" in kinds and kinds.count("log") == 2
    assert "HELLO Ada" in text
    assert all("id: " in block for block in events if "event: log" in block)


def test_the_stream_resumes_after_last_event_id(console: Console) -> None:
    execution = console.run("greet", name="Ada")
    logs = console.client.get(f"/api/v1/executions/{execution.id}/logs").json()["logs"]
    headers = {"last-event-id": logs[-2]["cursor"]}
    with console.client.stream(
        "GET", f"/api/v1/executions/{execution.id}/logs/stream", headers=headers
    ) as response:
        text = "".join(response.iter_text())
    assert text.count("event: log") == 1 and logs[-1]["message"] in text


def test_files_are_listed_and_downloaded_and_nothing_else_is(console: Console) -> None:
    # Given a run with an uploaded FILE input
    response = console.client.post(
        "/api/v1/flows/demo/greet/executions",
        data={"name": "Ada"},
        files={"data": ("rows.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert response.status_code == 201, response.text
    execution_id = response.json()["id"]
    console.wait_end(execution_id)

    # When its files are listed and one downloaded
    files = console.client.get(f"/api/v1/executions/{execution_id}/files").json()["files"]
    [stored] = [f for f in files if f["name"] == "rows.csv"]
    download = console.client.get(f"/api/v1/executions/{execution_id}/file", params={"uri": stored["uri"]})

    # Then the bytes are the upload's, and a URI outside the execution is refused
    assert download.status_code == 200 and download.content == b"a,b\n1,2\n"
    assert 'filename="rows.csv"' in download.headers["content-disposition"]
    outside = console.client.get(
        f"/api/v1/executions/{execution_id}/file", params={"uri": "strato:///namespaces/demo/files/x"}
    )
    assert outside.status_code == 400 and "uri" in outside.json()["message"]
    escape = stored["uri"].rsplit("/", 1)[0] + "/../../../../other/x"
    assert (
        console.client.get(f"/api/v1/executions/{execution_id}/file", params={"uri": escape}).status_code
        == 400
    )


def test_a_replay_names_its_chain_and_the_chain_is_listed_by_its_label(console: Console) -> None:
    # Given an execution and its replay
    done = console.run("greet", name="Ada")
    replay_id = console.client.post(
        f"/api/v1/executions/{done.id}/replay", json={"fromTask": "hello"}
    ).json()["id"]
    console.wait_end(replay_id)

    # When the replay is read, and its chain listed by the label its page links to
    replay = console.client.get(f"/api/v1/executions/{replay_id}").json()
    chain = console.client.get(
        "/api/v1/executions", params={"label": f"system.correlationId:{done.id}"}
    ).json()

    # Then the replay names the root, and the chain holds both
    assert replay["correlationId"] == done.id and replay["originalExecutionId"] == done.id
    assert {e["id"] for e in chain["executions"]} == {done.id, replay_id}
