"""`strato server`: the folder watcher, webhooks over HTTP, Flow triggers, schedules, concurrency, and a
clean stop (a thread and a stop event stand in for Ctrl-C)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.engine import VirtualClock
from stratoflow.local.server import StratoServer
from stratoflow.states import State
from tests.unit.triggers.server_helpers import HELD, UP, Files

# --- the folder --------------------------------------------------------------------------------


def test_flows_are_deployed_and_redeployed_when_their_file_changes(
    server: StratoServer, files: Files
) -> None:
    store = server.platform.store
    path = files.write("up.yaml", UP)

    server.sync_flows()
    assert store.get_flow("demo", "up").revision == 1  # type: ignore[union-attr]

    # Touching without changing redeploys nothing; changing makes a new revision
    path.write_text(path.read_text())
    server.sync_flows()
    assert store.get_flow_head("demo", "up").latest_revision == 1  # type: ignore[union-attr]
    files.write("up.yaml", UP.replace("hi {{", "hello {{"))
    server.sync_flows()
    assert store.get_flow("demo", "up").revision == 2  # type: ignore[union-attr]


def test_an_invalid_file_is_reported_and_the_last_good_revision_kept(
    server: StratoServer, files: Files, messages: list[str]
) -> None:
    store = server.platform.store
    files.write("up.yaml", UP)
    server.sync_flows()

    # When the file becomes invalid
    files.write("up.yaml", UP.replace("type: Return", "type: Returnn"))
    server.sync_flows()

    # Then the problem is reported with its line, and revision 1 stays live
    assert any("invalid, not deployed" in m and "Returnn" in m for m in messages)
    assert any("revision 1 keeps running" in m for m in messages)
    head = store.get_flow_head("demo", "up")
    assert head is not None and head.status == "INVALID" and head.deployed_revision == 1
    assert store.get_flow("demo", "up").revision == 1  # type: ignore[union-attr]

    # And putting the good text back makes it DEPLOYED again, without a new revision
    files.write("up.yaml", UP)
    server.sync_flows()
    head = store.get_flow_head("demo", "up")
    assert head is not None and (head.status, head.latest_revision) == ("DEPLOYED", 1)


def test_a_deleted_file_retires_its_flow(server: StratoServer, files: Files) -> None:
    path = files.write("up.yaml", UP)
    server.sync_flows()

    path.unlink()
    server.sync_flows()

    assert server.platform.store.get_flow("demo", "up") is None
    assert server.platform.store.get_flow_head("demo", "up").status == "DELETED"  # type: ignore[union-attr]


# --- webhooks and flow triggers ----------------------------------------------------------------


def test_a_dead_servers_executions_are_failed_and_their_slot_given_back(
    tmp_path: Path, server: StratoServer, files: Files, messages: list[str]
) -> None:
    # Given an earlier process on the same home that took the only slot and died (its lease gone),
    # and an execution queued behind it
    from stratoflow.local import LocalPlatform

    files.write("held.yaml", HELD)
    server.sync_flows()
    dead = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    flow, record = dead.deploy_file(files.root / "held.yaml")
    orphan = dead.admit(flow, record, {})
    queued = dead.admit(flow, record, {})
    dead.lease.release()

    # When the server sweeps
    server.sweep()

    # Then the orphan ended FAILED, the server said so, and the queued execution took the slot
    store = server.platform.store
    assert store.get_execution(orphan.id).state == State.FAILED  # type: ignore[union-attr]
    assert any(m.startswith(f"execution {orphan.id} ended FAILED: the process running it") for m in messages)
    assert store.slot_holders("demo", "held") == [queued.id]
    assert store.get_execution(queued.id).state != State.QUEUED  # type: ignore[union-attr]


# --- schedules ---------------------------------------------------------------------------------


def test_due_schedule_slots_start_once_each(server: StratoServer, files: Files) -> None:
    files.write(
        "every.yaml",
        """
        id: every
        namespace: demo
        triggers: [{id: minute, type: Schedule, cron: "* * * * *"}]
        tasks: [{id: t, type: Return, format: "{{ trigger.date }}"}]
        """,
    )
    server.sync_flows()
    t0 = datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC)

    # The first round starts nothing (a trigger that never fired missed nothing); the next ones
    # start the slots that came due since the round before
    server.fire_schedules(t0)
    server.fire_schedules(t0 + timedelta(minutes=2))
    server.fire_schedules(t0 + timedelta(minutes=2, seconds=10))
    server.platform.join()

    executions = server.platform.store.list_executions("demo", "every")
    dates = sorted(e.trigger["date"] for e in executions if e.trigger)
    assert dates == ["2026-01-05T09:01:00+00:00", "2026-01-05T09:02:00+00:00"]
    assert {e.state for e in executions} == {State.SUCCESS}


# --- stopping ----------------------------------------------------------------------------------


# --- the command -------------------------------------------------------------------------------


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(cli, ["server", "--help"])

    assert result.exit_code == 0
    assert "--flows-dir" in result.output and "--port" in result.output and "--home" in result.output


# --- the examples ------------------------------------------------------------------------------
