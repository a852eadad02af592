"""Triggers: types and aliases, cron and time zone checks, and each trigger's own rules."""

from __future__ import annotations

import pytest

from stratoflow.flow import (
    EventBridgeTrigger,
    FlowTrigger,
    S3Trigger,
    Schedule,
    SqsTrigger,
    Webhook,
    load_flow,
)
from stratoflow.states import State
from tests.unit.flow.flow_test_helpers import flow_text, messages

TASKS = "tasks: [{id: t, type: Log, message: m}]\n"


def triggers(yaml: str) -> str:
    return TASKS + "triggers:\n" + yaml


def test_every_trigger_type_loads() -> None:
    # Given
    text = flow_text(
        triggers(
            """\
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
    timezone: Europe/Paris
    recoverMissedSchedules: LAST
    lateMaximumDelay: PT1H
    backfill: {start: "2024-01-01T00:00:00Z"}
    stopAfter: [FAILED]
    labels: {source: schedule}
  - id: after_upstream
    type: Flow
    states: [SUCCESS, WARNING]
    conditions:
      - {type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: up, flowId: producer}
  - {id: hook, type: Webhook, key: s3cr3t-key-0123456789}
  - id: events
    type: aws.eventbridge.Trigger
    pattern: {source: [my.app]}
    bus: orders
  - {id: files, type: aws.s3.Trigger, bucket: my-bucket, prefix: in/, suffix: .csv}
  - {id: queue, type: aws.sqs.Trigger, queueArn: "arn:aws:sqs:eu-west-1:123456789012:q", batchSize: 5}
"""
        )
    )

    # When
    flow = load_flow(text)

    # Then
    kinds = [type(t) for t in flow.triggers]
    assert kinds == [Schedule, FlowTrigger, Webhook, EventBridgeTrigger, S3Trigger, SqsTrigger]
    schedule = flow.triggers[0]
    assert isinstance(schedule, Schedule)
    assert schedule.type == "Schedule" and schedule.timezone == "Europe/Paris"
    assert schedule.recover_missed_schedules == "LAST"
    assert schedule.stop_after == [State.FAILED] and schedule.labels == {"source": "schedule"}
    assert schedule.backfill is not None and schedule.backfill.start.year == 2024
    flow_trigger = flow.triggers[1]
    assert isinstance(flow_trigger, FlowTrigger) and flow_trigger.states == [State.SUCCESS, State.WARNING]
    assert flow.trigger("queue") is flow.triggers[5]


def test_schedule_defaults() -> None:
    flow = load_flow(flow_text(triggers("  - {id: s, type: Schedule, cron: '@hourly'}\n")))

    schedule = flow.triggers[0]
    assert isinstance(schedule, Schedule)
    assert (schedule.timezone, schedule.recover_missed_schedules, schedule.disabled) == ("UTC", "ALL", False)
    assert schedule.cron_fields == "0 * * * *"


@pytest.mark.parametrize(
    ("cron", "fields"),
    [
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("*/15  9-17 * * MON-FRI", "*/15 9-17 * * MON-FRI"),
    ],
)
def test_cron_nicknames_and_expressions(cron: str, fields: str) -> None:
    schedule = load_flow(flow_text(triggers(f"  - {{id: s, type: Schedule, cron: '{cron}'}}\n"))).triggers[0]

    assert isinstance(schedule, Schedule) and schedule.cron_fields == fields


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (
            "{id: s, type: Schedule, cron: '61 * * * *'}",
            "triggers[0].cron: '61 * * * *' is not a valid cron expression",
        ),
        (
            "{id: s, type: Schedule, cron: '* * * * * *'}",
            "triggers[0].cron: '* * * * * *' must have 5 fields",
        ),
        (
            "{id: s, type: Schedule, cron: '@dayly'}",
            "triggers[0].cron: unknown cron nickname '@dayly' (did you mean @daily?)",
        ),
        (
            "{id: s, type: Schedule, cron: '@daily', timezone: Mars/Olympus}",
            "triggers[0].timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            "{id: s, type: Schedule, cron: '@daily', timezone: ../../etc/passwd}",
            "triggers[0].timezone: unknown time zone '../../etc/passwd'",
        ),
        ("{id: s, type: Schedule}", "triggers[0]: missing required property 'cron'"),
        (
            "{id: s, type: Shedule, cron: '@daily'}",
            "triggers[0].type: unknown trigger type 'Shedule' (did you mean Schedule?)",
        ),
        ("{id: s, cron: '@daily'}", "triggers[0]: missing required property 'type'"),
        ("{id: w, type: Webhook}", "triggers[0]: missing required property 'key'"),
        ("{id: w, type: Webhook, key: 'has space'}", "triggers[0].key: a key is letters, digits"),
        ("{id: w, type: Webhook, key: short}", "triggers[0].key: a key needs at least 16 characters"),
        ("{id: q, type: aws.sqs.Trigger}", "triggers[0]: set exactly one of 'queueUrl' and 'queueArn'"),
        (
            "{id: b, type: aws.s3.Trigger, bucket: Bad_Bucket}",
            "triggers[0].bucket: 'Bad_Bucket' is not a valid S3 bucket name",
        ),
        ("{id: e, type: aws.eventbridge.Trigger, pattern: {}}", "triggers[0].pattern: must not be empty"),
        ("{id: f, type: Flow, states: [DONE]}", "triggers[0].states[0]: Input should be"),
    ],
)
def test_trigger_problems(trigger: str, expected: str) -> None:
    found = messages(triggers(f"  - {trigger}\n"))

    assert len(found) == 1, found
    assert found[0].startswith(expected)


def test_kestra_sqs_connection_settings_are_accepted_with_a_warning() -> None:
    # Given Kestra's SQS trigger as its documentation shows it
    text = flow_text(
        triggers(
            """\
  - id: orders
    type: io.kestra.plugin.aws.sqs.Trigger
    accessKeyId: "{{ secret('AWS_ACCESS_KEY_ID') }}"
    secretKeyId: "{{ secret('AWS_SECRET_KEY_ID') }}"
    region: eu-west-1
    queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/orders
    maxRecords: 10
"""
        )
    )

    # When
    flow = load_flow(text, "f.yaml")

    # Then it is valid, and each setting the cloud does not use is named
    assert isinstance(flow.triggers[0], SqsTrigger)
    assert [(w.path, w.line) for w in flow.warnings] == [
        ("triggers[0].accessKeyId", 7),
        ("triggers[0].secretKeyId", 8),
        ("triggers[0].region", 9),
    ]
    assert "the stack's pipes role" in flow.warnings[0].message


def test_kestra_preconditions_on_one_upstream_flow_are_its_conditions() -> None:
    # Given Kestra's current Flow trigger syntax
    text = flow_text(
        triggers(
            """\
  - id: after-upstream
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: upstream
      flows:
        - namespace: company.team
          flowId: upstream
          states: [SUCCESS, WARNING]
          labels: {env: prod}
"""
        )
    )

    # When
    [trigger] = load_flow(text).triggers

    # Then
    assert isinstance(trigger, FlowTrigger)
    assert trigger.conditions == [
        {"type": "ExecutionFlow", "namespace": "company.team", "flowId": "upstream"},
        {"type": "ExecutionStatus", "in": ["SUCCESS", "WARNING"]},
        {"type": "ExecutionLabels", "labels": {"env": "prod"}},
    ]


@pytest.mark.parametrize(
    ("yaml", "where", "fragment"),
    [
        ("    states: [SUCCESS, RUNNING]\n", "triggers[0].states[1]", "never fires on RUNNING"),
        ("    states: [PAUSED, KILLING]\n", "triggers[0].states[1]", "never fires on KILLING"),
        (
            "    preconditions:\n      flows:\n        - {namespace: a, flowId: x}\n"
            "        - {namespace: a, flowId: y}\n",
            "triggers[0].preconditions.flows[1]",
            "only one upstream flow is supported",
        ),
    ],
)
def test_flow_trigger_settings_that_would_never_fire_are_refused(
    yaml: str, where: str, fragment: str
) -> None:
    text = flow_text(triggers("  - id: f\n    type: io.kestra.plugin.core.trigger.Flow\n" + yaml))

    [message] = messages(text.split("\n", 2)[2])

    assert message.startswith(where + ": ")
    assert fragment in message
