"""Schedules in the cloud, on moto: admission records the last fired slot, a (re)deploy starts the
slots missed meanwhile, and `strato backfill --remote` starts past slots through admission.

moto stores schedules but never fires them: a delivery is the schedule's Input with the scheduled
time filled in, handed to the admission function as Scheduler would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from stratoflow.cli.main import cli
from stratoflow.cloud.assembly import cloud_deployer
from stratoflow.cloud.deploy.deployment import Deployment
from stratoflow.cloud.deploy.schedules import SchedulesStep, scheduled_input
from stratoflow.cloud.runtime.scheduled_events import SCHEDULED_TIME
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.flow import Flow, load_flow
from stratoflow.store.base import TriggerState
from stratoflow.triggers import schedule_trigger
from stratoflow.triggers.recovery import get_last_fired

pytestmark = pytest.mark.slow


def source(namespace: str, *, disabled: bool = False, triggers: str = "") -> str:
    return (
        f"id: hourly\nnamespace: {namespace}\ndisabled: {str(disabled).lower()}\n"
        "inputs: [{id: scope, type: STRING, defaults: all}]\n"
        "tasks: [{id: t, type: Log, message: 'slot {{ trigger.date }}'}]\n"
        "triggers:\n"
        + (triggers or '  - {id: every, type: Schedule, cron: "0 * * * *", inputs: {scope: hour}}\n')
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def delivery(flow: Flow, trigger_id: str, instant: str) -> dict[str, Any]:
    """What Scheduler sends admission for the slot at `instant`."""
    document: dict[str, Any] = json.loads(
        scheduled_input(flow, schedule_trigger(flow, trigger_id)).replace(SCHEDULED_TIME, instant)
    )
    return document


def test_admission_records_the_last_fired_slot_of_scheduler_deliveries_only(sim: CloudSimulation) -> None:
    # Given a deployed flow with an hourly schedule
    text = source("gaps.fired")
    assert sim.upload("gaps/fired.yaml", text).status == "DEPLOYED"
    flow = load_flow(text)

    # When Scheduler delivers the 10:00 slot
    first = sim.admit(delivery(flow, "every", "2026-03-30T10:00:00Z"))

    # Then the trigger's last fired slot is 10:00, with that execution
    assert first["state"] != "REFUSED", first
    assert get_last_fired(sim.store, "gaps.fired", "hourly", "every") == at("2026-03-30T10:00")
    state = sim.store.get_trigger_state("gaps.fired", "hourly", "every")
    assert state is not None and state.last_execution_id == first["executionId"]

    # When a late delivery of an older slot arrives, and a start that only carries a schedule context
    sim.admit(delivery(flow, "every", "2026-03-30T09:00:00Z"))
    backfilled = {"type": "schedule", "id": "every", "date": "2026-03-30T12:00:00+00:00"}
    sim.admit({"namespace": "gaps.fired", "flowId": "hourly", "trigger": backfilled})

    # Then neither moves it: it only moves forward, and only for Scheduler deliveries
    assert get_last_fired(sim.store, "gaps.fired", "hourly", "every") == at("2026-03-30T10:00")

    # When the next slot is delivered, it moves
    sim.admit(delivery(flow, "every", "2026-03-30T11:00:00Z"))
    assert get_last_fired(sim.store, "gaps.fired", "hourly", "every") == at("2026-03-30T11:00")


@pytest.fixture
def scheduling_deployer(sim: CloudSimulation, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Uploads now run the stack's whole deployer (schedules included); returns a clock setter."""
    settings = sim.settings.model_copy(
        update={
            "stratoflow_schedule_group": "Stratoflow",
            "stratoflow_scheduler_role_arn": "arn:aws:iam::123456789012:role/Stratoflow-SchedulerRole",
        }
    )
    scheduler = boto3.client("scheduler")
    if not any(g["Name"] == "Stratoflow" for g in scheduler.list_schedule_groups()["ScheduleGroups"]):
        scheduler.create_schedule_group(Name="Stratoflow")
    deployer = cloud_deployer(settings, sim.clients)
    deployer.store = sim.store
    now = {"value": datetime.now(UTC)}
    for step in deployer.steps:
        if isinstance(step, SchedulesStep):
            step.clock = lambda: now["value"]
    monkeypatch.setattr(sim, "deployer", deployer)

    def set_now(text: str) -> None:
        now["value"] = at(text)

    return set_now


def slot_executions(sim: CloudSimulation, flow: Flow, trigger_id: str, slots: list[str]) -> list[Any]:
    from stratoflow.triggers.schedules import schedule_execution_id

    ids = [schedule_execution_id(flow.namespace, flow.id, trigger_id, at(slot)) for slot in slots]
    return [sim.store.get_execution(execution_id) for execution_id in ids]


def test_a_redeploy_starts_the_slots_missed_while_the_flow_was_disabled(
    sim: CloudSimulation, scheduling_deployer: Callable[[str], None]
) -> None:
    # Given a flow with an ALL and a LAST hourly schedule, deployed (a first deploy recovers nothing)
    triggers = (
        '  - {id: every, type: Schedule, cron: "0 * * * *", recoverMissedSchedules: ALL}\n'
        '  - {id: latest, type: Schedule, cron: "30 * * * *", recoverMissedSchedules: LAST}\n'
    )
    enabled = source("gaps.recover", triggers=triggers)
    flow = load_flow(enabled)
    scheduling_deployer("2026-03-30T10:10")
    first = sim.upload("gaps/recover.yaml", enabled)
    assert first.status == "DEPLOYED" and "missed" not in first.message

    # And both fired their slots before 10:10, then the flow was disabled
    sim.admit(delivery(flow, "every", "2026-03-30T10:00:00Z"))
    sim.admit(delivery(flow, "latest", "2026-03-29T09:30:00Z"))  # its last delivery came long before
    assert (
        sim.upload("gaps/recover.yaml", source("gaps.recover", disabled=True, triggers=triggers)).revision
        == 2
    )

    # When it is re-enabled at 13:15
    scheduling_deployer("2026-03-30T13:15")
    verdict = sim.upload("gaps/recover.yaml", enabled)

    # Then ALL starts 11:00, 12:00 and 13:00 on the new revision; LAST only 12:30
    assert verdict.status == "DEPLOYED" and verdict.revision == 3
    missed = slot_executions(sim, flow, "every", ["2026-03-30T11:00", "2026-03-30T12:00", "2026-03-30T13:00"])
    assert all(e is not None and e.revision == 3 for e in missed), missed
    assert [e.trigger["date"] for e in missed] == [
        "2026-03-30T11:00:00+00:00",
        "2026-03-30T12:00:00+00:00",
        "2026-03-30T13:00:00+00:00",
    ]
    assert slot_executions(sim, flow, "latest", ["2026-03-30T12:30"])[0] is not None
    assert slot_executions(sim, flow, "latest", ["2026-03-30T11:30"])[0] is None
    assert "trigger every missed 3 slot(s) (recoverMissedSchedules ALL): 3 started" in verdict.message
    assert "trigger latest missed 1 slot(s) (recoverMissedSchedules LAST): 1 started" in verdict.message

    # And recovery resumes after them next time
    assert get_last_fired(sim.store, "gaps.recover", "hourly", "every") == at("2026-03-30T13:00")
    assert get_last_fired(sim.store, "gaps.recover", "hourly", "latest") == at("2026-03-30T12:30")

    # When the same deployment is handled again with the trigger state rolled back (a re-delivery)
    state = sim.store.get_trigger_state("gaps.recover", "hourly", "every")
    assert isinstance(state, TriggerState)
    sim.store.put_trigger_state(
        state.model_copy(update={"last_date": at("2026-03-30T10:00")}), expected_version=state.version
    )
    record = sim.store.get_flow("gaps.recover", "hourly")
    live = load_flow(record.source).model_copy(update={"revision": 3})
    deployment = Deployment(
        target=sim.deployer.target("gaps.recover", "hourly"),
        flow=live,
        previous=live,
        revision=3,
        definition={},
        version_arn=sim.registry.version_arn("gaps.recover", "hourly", 3, record.source_hash),
    )
    step = next(s for s in sim.deployer.steps if isinstance(s, SchedulesStep))
    step.deploy(deployment)

    # Then the same slots are found, and nothing starts twice
    assert any("trigger every missed 3 slot(s)" in n and ": 0 started" in n for n in deployment.notes)


@pytest.fixture
def strato(sim: CloudSimulation) -> Callable[..., Result]:
    stack = [
        "--table",
        sim.settings.stratoflow_table_name,
        "--admission",
        sim.settings.stratoflow_admission_arn,
    ]

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, [*args, *stack])

    return run


def test_remote_backfill_starts_each_slot_once_through_admission(
    sim: CloudSimulation, strato: Callable[..., Result]
) -> None:
    # Given a deployed flow with an hourly schedule
    text = source("gaps.backfill")
    assert sim.upload("gaps/backfill.yaml", text).status == "DEPLOYED"
    flow = load_flow(text)
    args = ["backfill", "gaps.backfill.hourly", "--remote", "--trigger", "every"]
    window = ["--from", "2026-01-01T00:00Z", "--to", "2026-01-01T03:00Z"]

    # When a dry run lists its slots
    dry = strato(*args, *window, "--dry-run")

    # Then it starts nothing
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.count("would start") == 3
    slots = ["2026-01-01T00:00", "2026-01-01T01:00", "2026-01-01T02:00"]
    assert slot_executions(sim, flow, "every", slots) == [None, None, None]

    # When it runs
    result = strato(*args, *window)

    # Then the three slots started through admission, with the local planner's ids and trigger context
    assert result.exit_code == 0, result.output
    assert result.stdout.count("started") == 3
    executions = slot_executions(sim, flow, "every", slots)
    assert all(e is not None for e in executions)
    assert [e.trigger["date"] for e in executions] == [f"{s}:00+00:00" for s in slots]
    assert all(e.inputs == {"scope": "hour"} for e in executions)
    # A backfill is no Scheduler delivery: recovery's bookmark stays unset
    assert get_last_fired(sim.store, "gaps.backfill", "hourly", "every") is None

    # When it runs again over a wider range, the known slots start nothing new
    again = strato(*args, "--from", "2026-01-01T00:00Z", "--to", "2026-01-01T04:00Z")
    assert again.exit_code == 0, again.output
    assert again.stdout.count("already started") == 3
    assert "1 started, 3 already started" in again.stderr

    # And an unknown trigger is refused with exit 2
    wrong = strato("backfill", "gaps.backfill.hourly", "--remote", "--trigger", "nope", *window)
    assert wrong.exit_code == 2 and "no trigger 'nope'" in wrong.stderr


def test_a_slot_its_conditions_reject_starts_nothing_and_counts_as_fired(sim: CloudSimulation) -> None:
    # Given a weekend-only schedule deployed to the cloud
    text = source(
        "gaps.weekend",
        triggers=(
            '  - {id: every, type: Schedule, cron: "0 * * * *", '
            "conditions: [{type: io.kestra.plugin.core.condition.Weekend}]}\n"
        ),
    )
    assert sim.upload("gaps/weekend.yaml", text).status == "DEPLOYED"
    flow = load_flow(text)

    # When Scheduler delivers a Monday slot, then a Saturday one
    monday = sim.admit(delivery(flow, "every", "2026-03-30T10:00:00Z"))
    fired_after_monday = get_last_fired(sim.store, "gaps.weekend", "hourly", "every")
    saturday = sim.admit(delivery(flow, "every", "2026-04-04T10:00:00Z"))

    # Then admission skips Monday (nothing recorded, the slot is not replayed as missed)
    assert monday["state"] == "REFUSED" and "conditions do not hold" in monday["error"], monday
    assert [
        e.trigger["date"][:10]
        for e in sim.store.list_executions()
        if e.flow_id == "hourly" and e.namespace == "gaps.weekend"
    ] == ["2026-04-04"]
    assert fired_after_monday == at("2026-03-30T10:00")
    assert saturday["state"] != "REFUSED", saturday
    assert get_last_fired(sim.store, "gaps.weekend", "hourly", "every") == at("2026-04-04T10:00")
