"""Schedule triggers on EventBridge Scheduler (moto): created, updated, disabled and deleted with the
right expressions, time zones and inputs, and a delivery turned into an admission request.

moto stores schedules but never fires them: a delivery is simulated by filling in the scheduled time
the way Scheduler does, and handing the Input to `admission_trigger_context`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.schedules import (
    ScheduleSettingsError,
    ScheduleSync,
    delete_schedules,
    schedule_name,
    schedule_prefix,
    schedule_specs,
    sync_schedules,
)
from stratoflow.cloud.runtime.scheduled_events import (
    SCHEDULED_TIME,
    admission_trigger_context,
    is_scheduled_event,
)
from stratoflow.flow import Flow, load_flow
from stratoflow.triggers import parse_instant, plan_backfill

REGION = "eu-west-1"
GROUP = "Stratoflow"
ADMISSION = f"arn:aws:lambda:{REGION}:123456789012:function:Stratoflow-Admission"
ROLE = "arn:aws:iam::123456789012:role/Stratoflow-SchedulerRole"
DLQ = f"arn:aws:sqs:{REGION}:123456789012:Stratoflow-DeadLetters"
SETTINGS = Settings(
    stratoflow_table_name="t",
    stratoflow_data_bucket="b",
    stratoflow_admission_arn=ADMISSION,
    stratoflow_scheduler_role_arn=ROLE,
    stratoflow_schedule_group=GROUP,
    stratoflow_dlq_arn=DLQ,
)


def flow(triggers: str, namespace: str = "team", flow_id: str = "etl", disabled: bool = False) -> Flow:
    return load_flow(
        f"id: {flow_id}\nnamespace: {namespace}\ndisabled: {str(disabled).lower()}\n"
        "inputs: [{id: scope, type: STRING, defaults: all}]\n"
        "tasks: [{id: t, type: Log, message: m}]\n"
        f"triggers:\n{triggers}"
    )


NIGHTLY = (
    '  - {id: nightly, type: Schedule, cron: "30 2 * * *", timezone: Europe/Paris, inputs: {scope: night}}\n'
)
EITHER = '  - {id: either, type: Schedule, cron: "0 6 1 * 1", timezone: America/New_York, labels: {kind: report}}\n'
HOOK = "  - {id: hook, type: Webhook, key: k-0123456789abcdef}\n"


@pytest.fixture
def scheduler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("scheduler", region_name=REGION)
        client.create_schedule_group(Name=GROUP)
        yield client


def group_state(scheduler: Any) -> dict[str, dict[str, Any]]:
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=GROUP)["Schedules"]]
    return {name: scheduler.get_schedule(Name=name, GroupName=GROUP) for name in names}


def test_sync_creates_one_schedule_per_trigger_and_splits_an_either_day_cron(scheduler: Any) -> None:
    # Given a flow with a Paris schedule, an "1st of the month or Monday" New York schedule and a webhook
    subject = flow(NIGHTLY + EITHER + HOOK)

    # When it is deployed for the first time
    result = sync_schedules(subject, None, SETTINGS, scheduler)

    # Then the group holds three schedules: one for nightly, two for the OR of the day fields
    nightly, either, either_monday = (
        schedule_name("team", "etl", t, p) for t, p in [("nightly", 1), ("either", 1), ("either", 2)]
    )
    assert sorted(result.created) == sorted([nightly, either, either_monday])
    state = group_state(scheduler)
    assert set(state) == {nightly, either, either_monday}
    assert state[nightly]["ScheduleExpression"] == "cron(30 2 * * ? *)"
    assert state[nightly]["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert (state[either]["ScheduleExpression"], state[either_monday]["ScheduleExpression"]) == (
        "cron(0 6 1 * ? *)",
        "cron(0 6 ? * MON *)",
    )
    assert state[either]["ScheduleExpressionTimezone"] == "America/New_York"
    assert state[nightly]["State"] == "ENABLED"
    assert state[nightly]["FlexibleTimeWindow"] == {"Mode": "OFF"}

    # And each targets admission with the scheduler role, retries for a day and dead-letters to the DLQ
    target = state[nightly]["Target"]
    assert (target["Arn"], target["RoleArn"]) == (ADMISSION, ROLE)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": DLQ}
    assert json.loads(target["Input"]) == {
        "namespace": "team",
        "flowId": "etl",
        "trigger": {
            "type": "schedule",
            "id": "nightly",
            "date": SCHEDULED_TIME,
            "cron": "30 2 * * *",
            "timezone": "Europe/Paris",
        },
        "inputs": {"scope": "night"},
        "labels": {},
    }
    assert json.loads(state[either_monday]["Target"]["Input"])["labels"] == {"kind": "report"}


def test_sync_updates_what_changed_disables_and_deletes_what_is_gone(scheduler: Any) -> None:
    # Given the first revision deployed
    first = flow(NIGHTLY + EITHER)
    sync_schedules(first, None, SETTINGS, scheduler)
    nightly, either, either_monday = (
        schedule_name("team", "etl", t, p) for t, p in [("nightly", 1), ("either", 1), ("either", 2)]
    )

    # When the nightly cron, zone and inputs change, and `either` becomes a plain weekday cron
    second = flow(
        '  - {id: nightly, type: Schedule, cron: "0 3 * * *", timezone: Asia/Tokyo, inputs: {scope: day}}\n'
        '  - {id: either, type: Schedule, cron: "0 6 * * 1", timezone: America/New_York}\n'
    )
    result = sync_schedules(second, first, SETTINGS, scheduler)

    # Then both are updated in place and the second half of the old split is deleted
    assert sorted(result.updated) == sorted([nightly, either])
    assert result.deleted == [either_monday]
    state = group_state(scheduler)
    assert set(state) == {nightly, either}
    assert (state[nightly]["ScheduleExpression"], state[nightly]["ScheduleExpressionTimezone"]) == (
        "cron(0 3 * * ? *)",
        "Asia/Tokyo",
    )
    assert json.loads(state[nightly]["Target"]["Input"])["inputs"] == {"scope": "day"}
    assert state[either]["ScheduleExpression"] == "cron(0 6 ? * MON *)"

    # When the same revision is synced again, nothing changes
    again = sync_schedules(second, second, SETTINGS, scheduler)
    assert (again.created, again.updated, again.deleted) == ([], [], [])
    assert sorted(again.unchanged) == sorted([nightly, either])

    # When one trigger is disabled, then the whole flow
    third = flow(NIGHTLY.replace("inputs:", "disabled: true, inputs:"))
    sync_schedules(third, second, SETTINGS, scheduler)
    assert {n: s["State"] for n, s in group_state(scheduler).items()} == {nightly: "DISABLED"}
    sync_schedules(flow(NIGHTLY, disabled=True), third, SETTINGS, scheduler)
    assert group_state(scheduler)[nightly]["State"] == "DISABLED"

    # When the flow loses its schedules
    last = sync_schedules(flow(HOOK), third, SETTINGS, scheduler)
    assert last.deleted == [nightly]
    assert group_state(scheduler) == {}


def test_flows_with_the_same_id_in_other_namespaces_keep_their_schedules(scheduler: Any) -> None:
    # Given team.etl and other.etl, and a schedule that shares team.etl's prefix but is not its own
    sync_schedules(flow(NIGHTLY), None, SETTINGS, scheduler)
    sync_schedules(flow(NIGHTLY, namespace="other"), None, SETTINGS, scheduler)
    stranger = schedule_prefix("team", "etl") + "foreign"
    scheduler.create_schedule(
        Name=stranger,
        GroupName=GROUP,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": ADMISSION, "RoleArn": ROLE, "Input": json.dumps({"namespace": "x", "flowId": "y"})},
    )
    assert schedule_name("team", "etl", "nightly") != schedule_name("other", "etl", "nightly")

    # When team.etl loses its schedules, then is deleted
    sync_schedules(flow(HOOK), None, SETTINGS, scheduler)
    result = delete_schedules("team", "etl", SETTINGS, scheduler)

    # Then only team.etl's schedule went (with the first sync); the others are untouched
    assert result.deleted == []
    assert set(group_state(scheduler)) == {schedule_name("other", "etl", "nightly"), stranger}
    assert delete_schedules("other", "etl", SETTINGS, scheduler).deleted == [
        schedule_name("other", "etl", "nightly")
    ]


def test_names_fit_scheduler_limits_and_stay_distinct() -> None:
    long_flow, long_trigger = "f" * 100, "t" * 100
    names = {
        schedule_name("team", long_flow, long_trigger),
        schedule_name("team", long_flow, long_trigger, 10),
        schedule_name("team", long_flow, long_trigger[:-1] + "u"),
        schedule_name("team", long_flow[:-1] + "g", long_trigger),
    }
    assert len(names) == 4
    assert all(len(name) <= 64 and re.fullmatch(r"[0-9a-zA-Z_.-]+", name) for name in names)
    assert schedule_name("team", "etl", "nightly").startswith("etl-") and schedule_name(
        "team", "etl", "nightly"
    ).endswith("-nightly")


def test_specs_need_the_stack_settings() -> None:
    bare = Settings(stratoflow_table_name="t", stratoflow_data_bucket="b")
    with pytest.raises(
        ScheduleSettingsError,
        match="STRATOFLOW_SCHEDULE_GROUP, STRATOFLOW_SCHEDULER_ROLE_ARN, STRATOFLOW_ADMISSION_ARN",
    ):
        schedule_specs(flow(NIGHTLY), bare)
    assert schedule_specs(flow(HOOK), bare) == []  # no schedule, nothing needed
    assert sync_schedules(flow(HOOK), None, bare, scheduler=None) == ScheduleSync()


def test_a_delivery_becomes_an_admission_request_with_the_backfill_execution_id(scheduler: Any) -> None:
    # Given the Input Scheduler sends for the Paris slot after the skipped night
    subject = flow(NIGHTLY)
    sync_schedules(subject, None, SETTINGS, scheduler)
    stored = scheduler.get_schedule(Name=schedule_name("team", "etl", "nightly"), GroupName=GROUP)
    delivered = json.loads(stored["Target"]["Input"].replace(SCHEDULED_TIME, "2026-03-30T00:30:00Z"))
    assert is_scheduled_event(delivered)

    # When admission reads it (twice: Scheduler may deliver again)
    request = admission_trigger_context(delivered)
    assert admission_trigger_context(delivered) == request

    # Then trigger.* is the slot with its neighbours, and the id is the one a backfill of it uses
    assert request["trigger"] == {
        "type": "schedule",
        "id": "nightly",
        "date": "2026-03-30T02:30:00+02:00",
        "next": "2026-03-31T02:30:00+02:00",
        "previous": "2026-03-28T02:30:00+01:00",
        "timezone": "Europe/Paris",
    }
    assert (request["namespace"], request["flowId"], request["inputs"], request["labels"]) == (
        "team",
        "etl",
        {"scope": "night"},
        {},
    )
    (backfilled,) = plan_backfill(
        subject, "nightly", parse_instant("2026-03-30"), parse_instant("2026-03-31")
    )
    assert request["executionId"] == backfilled.execution_id


def test_an_input_that_did_not_come_from_scheduler_is_refused() -> None:
    document = json.loads(schedule_specs(flow(NIGHTLY), SETTINGS)[0]["Target"]["Input"])
    with pytest.raises(ValueError, match="not filled in"):
        admission_trigger_context(document)
    with pytest.raises(ValueError, match="not an ISO 8601"):
        admission_trigger_context({**document, "trigger": {**document["trigger"], "date": "soon"}})
    assert not is_scheduled_event({"namespace": "team", "flowId": "etl", "trigger": {"type": "webhook"}})
