"""What the README promises at the edges: invalid uploads listed with their errors, DST marks in the
next fires, label scans bounded, streams ending when the server stops, the --token option."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from stratoflow.console import routes_executions, views
from stratoflow.domain import Execution
from stratoflow.flow import load_flow
from stratoflow.states import State
from tests.unit.console.conftest import FLOWS, Console


def test_an_invalid_upload_is_listed_with_its_errors(console: Console) -> None:
    console.platform.store.set_flow_status("demo", "broken", "INVALID", ["broken.yaml:3:5: tasks[0]: bad"])
    flows = console.client.get("/api/v1/flows").json()["flows"]
    broken = next(f for f in flows if f["flowId"] == "broken")
    assert broken["status"] == "INVALID" and broken["errors"] == ["broken.yaml:3:5: tasks[0]: bad"]
    assert broken["revision"] == 1  # the last good revision keeps running


def test_a_stored_revision_that_no_longer_parses_is_still_listed(console: Console) -> None:
    # Given a live revision whose stored source this version refuses
    store = console.platform.store
    record = store.get_flow("demo", "broken")
    assert record is not None
    store.put_flow(
        record.model_copy(update={"revision": 2, "source": "id: broken\nnamespace: demo\ntasks: 7\n"})
    )

    # When the flows are listed, Then it is there by its head; its page says why it cannot be read
    flows = console.client.get("/api/v1/flows").json()["flows"]
    assert next(f for f in flows if f["flowId"] == "broken")["revision"] == 2
    page = console.client.get("/api/v1/flows/demo/broken")
    assert page.status_code == 400 and "tasks" in page.json()["message"]


def test_next_fires_mark_the_local_times_dst_skips_and_repeats() -> None:
    # Given a schedule at 02:30 in Paris, previewed from before the spring and autumn changes
    flow = load_flow(textwrap.dedent(FLOWS["greet"]))
    nightly = next(t for t in flow.triggers if t.id == "nightly")
    spring = views.trigger_info(nightly, datetime(2027, 3, 26, tzinfo=UTC))
    autumn = views.trigger_info(nightly, datetime(2027, 10, 29, tzinfo=UTC))

    # Then the local time DST skips is listed, marked, with no UTC time
    skipped = [f for f in spring.next_fires if f.dst == "skipped"]
    assert [f.local[:16] for f in skipped] == ["2027-03-28T02:30"] and skipped[0].utc is None
    # And the one it repeats runs once, marked
    repeated = [f for f in autumn.next_fires if f.dst == "repeated"]
    assert [f.local[:16] for f in repeated] == ["2027-10-31T02:30"] and repeated[0].utc is not None


def test_a_label_filter_reads_a_bounded_number_of_executions_per_page(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 executions of which only the oldest carries the label, and a scan limit of 10
    monkeypatch.setattr(routes_executions, "SCAN_LIMIT", 10)
    monkeypatch.setattr(routes_executions, "SCAN_BATCH", 4)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(30):
        labels = {"rare": "yes"} if n == 0 else {}
        console.platform.store.create_execution(
            Execution(
                id=f"x{n:02d}",
                namespace="demo",
                flow_id="greet",
                revision=1,
                labels=labels,
                start_date=t0 + timedelta(minutes=n),
            )
        )

    # When the label is searched page by page
    pages = []
    cursor = None
    for _ in range(10):
        params = {"label": "rare:yes", **({"cursor": cursor} if cursor else {})}
        body = console.client.get("/api/v1/executions", params=params).json()
        pages.append([e["id"] for e in body["executions"]])
        cursor = body["nextCursor"]
        if cursor is None:
            break

    # Then each page reads at most 10 and answers what it found with a cursor to go on
    assert pages[:3] == [[], [], ["x00"]] and pages[3:] in ([], [[]])


def test_a_live_stream_ends_when_the_server_stops(console: Console) -> None:
    # Given a paused execution (its stream would go on for ever)
    execution_id = console.start("approve")
    console.wait_end(execution_id, (State.PAUSED,))

    # When the host says it is closing
    console.client.app.state.closing.set()  # type: ignore[attr-defined]

    # Then the stream answers and ends instead of holding the shutdown
    with console.client.stream("GET", f"/api/v1/executions/{execution_id}/logs/stream") as response:
        text = "".join(response.iter_text())
    assert response.status_code == 200 and "event: end" not in text


def test_the_command_takes_the_token_from_an_option_or_the_environment() -> None:
    from click.testing import CliRunner

    from stratoflow.cli.main import cli

    result = CliRunner().invoke(cli, ["server", "--help"])
    assert result.exit_code == 0
    assert "--token" in result.output and "STRATO_CONSOLE_TOKEN" in result.output
