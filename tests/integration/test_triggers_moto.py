"""Trigger rules on moto's EventBridge: created, updated, disabled and deleted with the right patterns and
inputs; events delivered through them reach admission as the event it expects (an SQS queue stands in
for the admission Lambda, which moto cannot run); and the webhook Lambda handler."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget, Retirement
from stratoflow.cloud.deploy.rules import RETRY_POLICY, RulesStep, rule_name, rule_specs, sync_rules
from stratoflow.cloud.runtime.paused import pause_publisher
from stratoflow.domain import Execution, StateChange
from stratoflow.engine.lambdas import LambdaContext
from stratoflow.execution.admission import admit
from stratoflow.flow import Flow, load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store.dynamo import DynamoExecutionStore
from stratoflow.triggers.events import event_execution_id
from stratoflow.triggers.flow_triggers import FINISHED_DETAIL_TYPE, FINISHED_SOURCE, finished_event_detail
from tests.contract.conftest import create_table
from tests.integration.conftest import Queue

PREFIX = "Stratoflow-"

FLOW = """
    id: load
    namespace: team
    inputs:
      - {id: file, type: STRING, defaults: none}
      - {id: rows, type: INT, defaults: 0}
    tasks: [{id: t, type: Log, message: hi}]
    triggers:
      - id: after-etl
        type: Flow
        states: [SUCCESS]
        conditions: [{type: ExecutionFlow, namespace: team, flowId: etl}]
        inputs: {rows: "{{ trigger.outputs.rows }}"}
      - id: on-upload
        type: aws.s3.Trigger
        bucket: landing-zone
        prefix: in/
        suffix: .csv
        inputs: {file: "{{ trigger.object.key }}"}
      - id: orders
        type: aws.eventbridge.Trigger
        bus: orders
        pattern: {source: [shop.orders], detail-type: [Order Placed]}
      - {id: nightly, type: Schedule, cron: "0 2 * * *"}
      - {id: hook, type: Webhook, key: the-key-0123456789abcd}
"""


class Cloud:
    """moto's EventBridge, a table, and queues standing in for admission and the dead-letter queue."""

    def __init__(self) -> None:
        self.events = boto3.client("events")
        self.admission = Queue("admission-stand-in")
        self.dlq = Queue("dead-letters")
        self.events.create_event_bus(Name="orders")
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, "stratoflow")
        self.store = DynamoExecutionStore("stratoflow", client=dynamodb)
        self.settings = Settings(
            stratoflow_table_name="stratoflow",
            stratoflow_data_bucket="data",
            stratoflow_admission_arn=self.admission.arn,
            stratoflow_dlq_arn=self.dlq.arn,
            stratoflow_events_rule_prefix=PREFIX,
        )

    def rules(self, bus: str = "default") -> dict[str, dict[str, Any]]:
        found = self.events.list_rules(NamePrefix=PREFIX, EventBusName=bus)["Rules"]
        return {rule["Name"]: rule for rule in found}

    def targets(self, name: str, bus: str = "default") -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self.events.list_targets_by_rule(Rule=name, EventBusName=bus)[
            "Targets"
        ]
        return targets

    def deploy(self, text: str) -> Flow:
        source = textwrap.dedent(text)
        flow = load_flow(source)
        record = deploy_flow(self.store, flow, source)
        return flow.model_copy(update={"revision": record.revision})


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            yield Cloud()


def name_of(trigger_id: str, flow_id: str = "load") -> str:
    return rule_name(PREFIX, "team", flow_id, trigger_id)


# --- rules as data -----------------------------------------------------------------------------


def test_rule_names_are_prefixed_short_and_distinct_per_namespace() -> None:
    long_flow, long_trigger = "f" * 100, "t" * 100

    name = rule_name(PREFIX, "team", long_flow, long_trigger)

    assert name.startswith(PREFIX + "fff") and len(name) == 64
    assert rule_name(PREFIX, "team", "load", "hook").startswith("Stratoflow-load-hook-")
    assert rule_name(PREFIX, "team", "load", "hook") != rule_name(PREFIX, "other", "load", "hook")


def test_only_flow_s3_and_eventbridge_triggers_get_rules() -> None:
    settings = Settings(
        stratoflow_table_name="t", stratoflow_data_bucket="d", stratoflow_events_rule_prefix=PREFIX
    )

    specs = rule_specs(load_flow(textwrap.dedent(FLOW)), settings)

    assert [(s.trigger_id, s.bus) for s in specs] == [
        ("after-etl", "default"),
        ("on-upload", "default"),
        ("orders", "orders"),
    ]


# --- rules on EventBridge ----------------------------------------------------------------------


def test_deploying_creates_one_rule_per_trigger_with_its_pattern_and_admissions_input(cloud: Cloud) -> None:
    # When a flow with three event triggers is deployed
    flow = cloud.deploy(FLOW)
    changes = sync_rules(flow, None, cloud.settings, cloud.events)

    # Then each has its rule, enabled, on the right bus
    rules = cloud.rules()
    assert set(rules) == {name_of("after-etl"), name_of("on-upload")}
    assert set(cloud.rules("orders")) == {name_of("orders")}
    assert len(changes.put) == 3 and changes.deleted == []
    assert {rule["State"] for rule in [*rules.values(), *cloud.rules("orders").values()]} == {"ENABLED"}
    assert json.loads(rules[name_of("after-etl")]["EventPattern"]) == {
        "source": [FINISHED_SOURCE],
        "detail-type": [FINISHED_DETAIL_TYPE],
        "detail": {"state": ["SUCCESS"], "namespace": ["team"], "flowId": ["etl"]},
    }
    assert json.loads(rules[name_of("on-upload")]["EventPattern"]) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["landing-zone"]}, "object": {"key": [{"wildcard": "in/*.csv"}]}},
    }
    assert json.loads(cloud.rules("orders")[name_of("orders")]["EventPattern"]) == {
        "source": ["shop.orders"],
        "detail-type": ["Order Placed"],
    }
    # And one target each: admission, with retries and the dead-letter queue
    (target,) = cloud.targets(name_of("on-upload"))
    assert target["Arn"] == cloud.admission.arn
    assert target["RetryPolicy"] == RETRY_POLICY
    assert target["DeadLetterConfig"] == {"Arn": cloud.dlq.arn}
    assert target["InputTransformer"]["InputPathsMap"] == {"eventId": "$.id"}
    (flow_target,) = cloud.targets(name_of("after-etl"))
    assert flow_target["InputTransformer"]["InputPathsMap"] == {"upstream": "$.detail.executionId"}


def test_redeploying_updates_disables_and_deletes_rules(cloud: Cloud) -> None:
    # Given the flow deployed
    first = cloud.deploy(FLOW)
    sync_rules(first, None, cloud.settings, cloud.events)

    # When a revision changes the S3 prefix, disables the Flow trigger and drops the EventBridge one
    second = cloud.deploy(
        FLOW.replace("prefix: in/", "prefix: incoming/")
        .replace("states: [SUCCESS]", "states: [SUCCESS]\n        disabled: true")
        .replace("bus: orders", "bus: orders\n        disabled: true")
        .split("      - id: orders")[0]
    )
    changes = sync_rules(second, first, cloud.settings, cloud.events)

    # Then the rules follow
    rules = cloud.rules()
    assert rules[name_of("after-etl")]["State"] == "DISABLED"
    pattern = json.loads(rules[name_of("on-upload")]["EventPattern"])
    assert pattern["detail"]["object"]["key"] == [{"wildcard": "incoming/*.csv"}]
    assert cloud.rules("orders") == {}
    assert changes.deleted == [("orders", name_of("orders"))]


def test_a_disabled_flow_disables_its_rules_and_retiring_it_deletes_them(cloud: Cloud) -> None:
    flow = cloud.deploy(FLOW)
    sync_rules(flow, None, cloud.settings, cloud.events)
    disabled = cloud.deploy(FLOW.replace("namespace: team", "namespace: team\n    disabled: true", 1))

    sync_rules(disabled, flow, cloud.settings, cloud.events)
    assert {rule["State"] for rule in cloud.rules().values()} == {"DISABLED"}

    sync_rules(None, disabled, cloud.settings, cloud.events)
    assert cloud.rules() == {} and cloud.rules("orders") == {}
    # Retiring again (a duplicate event) is not an error
    sync_rules(None, disabled, cloud.settings, cloud.events)


def test_the_deployer_step_puts_and_removes_rules(cloud: Cloud) -> None:
    step = RulesStep(cloud.events, cloud.settings)
    flow = cloud.deploy(FLOW)
    target = FlowTarget(
        "team", "load", "Stratoflow-team-load", "arn:aws:states:us-east-1:123456789012:stateMachine:x"
    )
    deployment = Deployment(target=target, flow=flow, previous=None, revision=1, definition={})

    step.deploy(deployment)
    assert len(cloud.rules()) == 2
    assert deployment.notes == ["trigger rules: 3 put, 0 deleted"]

    step.retire(Retirement(target=target, previous=flow))
    assert cloud.rules() == {}


def test_a_flow_trigger_that_can_never_fire_gets_no_rule_and_a_note(cloud: Cloud) -> None:
    # Given the flow deployed with its rules
    step = RulesStep(cloud.events, cloud.settings)
    target = FlowTarget(
        "team", "load", "Stratoflow-team-load", "arn:aws:states:us-east-1:123456789012:stateMachine:x"
    )
    first = cloud.deploy(FLOW)
    step.deploy(Deployment(target=target, flow=first, previous=None, revision=1, definition={}))

    # When a revision asks for SUCCESS executions that are FAILED
    second = cloud.deploy(
        FLOW.replace(
            "states: [SUCCESS]",
            "states: [SUCCESS]\n        conditions: [{type: ExecutionStatus, in: [FAILED]}]",
        ).replace("        conditions: [{type: ExecutionFlow, namespace: team, flowId: etl}]\n", "", 1)
    )
    deployment = Deployment(target=target, flow=second, previous=first, revision=2, definition={})
    step.deploy(deployment)

    # Then its rule is gone (it never fires locally either), and the deployment says why
    assert name_of("after-etl") not in cloud.rules()
    assert name_of("on-upload") in cloud.rules()
    assert any(note.startswith("no rule: trigger 'after-etl' can never fire") for note in deployment.notes)


# --- deliveries through the rules --------------------------------------------------------------


def admitted(cloud: Cloud, flow: Flow) -> list[tuple[Execution, bool]]:
    """What the admission Lambda does with each delivered event: admit it."""
    results = []
    for event in cloud.admission.drain():
        assert (event["namespace"], event["flowId"]) == (flow.namespace, flow.id)
        results.append(
            admit(
                cloud.store,
                flow,
                flow.revision or 1,
                trigger=event["trigger"],
                execution_id=event["executionId"],
            )
        )
    return results


def test_an_execution_finished_event_starts_the_flow_once(cloud: Cloud) -> None:
    # Given the downstream flow's rules, and an upstream execution that succeeded
    flow = cloud.deploy(FLOW)
    sync_rules(flow, None, cloud.settings, cloud.events)
    upstream = Execution(
        id="up1", namespace="team", flow_id="etl", revision=1, state=State.SUCCESS, outputs={"rows": 7}
    )
    cloud.store.create_execution(upstream)
    entry = {
        "Source": FINISHED_SOURCE,
        "DetailType": FINISHED_DETAIL_TYPE,
        "Detail": json.dumps(finished_event_detail(upstream)),
    }

    # When Stratoflow publishes its end twice (at-least-once), and a failed execution's end once
    cloud.events.put_events(Entries=[entry, entry])
    failed = {**finished_event_detail(upstream), "executionId": "up2", "state": "FAILED"}
    cloud.events.put_events(Entries=[{**entry, "Detail": json.dumps(failed)}])

    # Then admission gets the same start twice, and records one execution, with trigger.outputs
    results = admitted(cloud, flow)
    assert [new for _, new in results] == [True, False]
    execution = results[0][0]
    assert execution.id == event_execution_id("team", "load", "after-etl", "up1")
    assert execution.inputs["rows"] == 7
    assert execution.trigger is not None and execution.trigger["outputs"] == {"rows": 7}


PAUSE_FLOW = """
    id: remind
    namespace: team
    inputs: [{id: state, type: STRING, defaults: none}]
    tasks: [{id: t, type: Log, message: hi}]
    triggers:
      - id: on-pause
        type: io.kestra.plugin.core.trigger.Flow
        states: [PAUSED, FAILED]
        preconditions: {flows: [{namespace: team, flowId: etl}]}
        inputs: {state: "{{ trigger.state }}"}
"""


def test_each_pause_the_task_runner_publishes_starts_the_flow_once_and_the_end_too(cloud: Cloud) -> None:
    # Given a flow triggered on the pauses and the failure of `etl`, its rule, and an execution of
    # `etl` that paused twice, then failed
    flow = cloud.deploy(PAUSE_FLOW)
    sync_rules(flow, None, cloud.settings, cloud.events)
    history = [StateChange(state=s) for s in (State.RUNNING, State.PAUSED, State.RUNNING, State.PAUSED)]
    upstream = Execution(
        id="up1", namespace="team", flow_id="etl", revision=1, state=State.PAUSED, state_history=history[:2]
    )
    cloud.store.create_execution(upstream)
    publish = pause_publisher(cloud.events, "default")

    # When the task runner's hook publishes its first pause twice (a retried call), then its second
    # pause, and the execution-events function publishes its end
    publish(upstream)
    publish(upstream)
    publish(upstream.model_copy(update={"state_history": history}))
    cloud.store.update_execution("up1", state=State.RUNNING)
    cloud.store.update_execution("up1", state=State.PAUSED)
    cloud.store.update_execution("up1", state=State.FAILED)
    failed = cloud.store.get_execution("up1")
    assert failed is not None
    ended = {
        "Source": FINISHED_SOURCE,
        "DetailType": FINISHED_DETAIL_TYPE,
        "Detail": json.dumps(finished_event_detail(failed)),
    }
    cloud.events.put_events(Entries=[ended])

    # Then admission records one start per pause, seeing PAUSED, and one for the end, seeing FAILED
    results = admitted(cloud, flow)
    assert [new for _, new in results] == [True, False, True, True]
    key = event_execution_id("team", "remind", "on-pause", "up1")
    assert [e.id for e, new in results if new] == [f"{key}-p1", f"{key}-p2", key]
    assert [e.inputs["state"] for e, new in results if new] == ["PAUSED", "PAUSED", "FAILED"]


def test_an_s3_object_created_event_starts_the_flow_with_trigger_object(cloud: Cloud) -> None:
    flow = cloud.deploy(FLOW)
    sync_rules(flow, None, cloud.settings, cloud.events)

    def created(key: str) -> dict[str, Any]:
        detail = {"bucket": {"name": "landing-zone"}, "object": {"key": key, "size": 10}}
        return {"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(detail)}

    cloud.events.put_events(Entries=[created("in/a.csv"), created("in/a.txt"), created("out/a.csv")])

    ((execution, new),) = admitted(cloud, flow)
    assert new and execution.inputs["file"] == "in/a.csv"
    assert execution.trigger is not None
    assert execution.trigger["object"]["uri"] == "s3://landing-zone/in/a.csv"
    event_id = execution.trigger["event"]["id"]
    assert execution.id == event_execution_id("team", "load", "on-upload", event_id)


def test_an_event_on_a_custom_bus_starts_the_flow(cloud: Cloud) -> None:
    flow = cloud.deploy(FLOW)
    sync_rules(flow, None, cloud.settings, cloud.events)

    cloud.events.put_events(
        Entries=[
            {
                "Source": "shop.orders",
                "DetailType": "Order Placed",
                "Detail": '{"id": 1}',
                "EventBusName": "orders",
            },
            {"Source": "shop.orders", "DetailType": "Order Placed", "Detail": '{"id": 2}'},  # default bus
        ]
    )

    ((execution, _),) = admitted(cloud, flow)
    assert execution.trigger is not None and execution.trigger["event"]["detail"] == {"id": 1}


# --- the webhook Lambda ------------------------------------------------------------------------


def test_the_webhook_handler_answers_a_function_url_event(cloud: Cloud) -> None:
    # Given the handler imported as Lambda imports it, with admission replaced by an in-process admit
    cloud.deploy(FLOW)
    environment = {name.upper(): str(value) for name, value in cloud.settings.model_dump().items()}
    environment.update(POWERTOOLS_METRICS_NAMESPACE="Stratoflow", POWERTOOLS_TRACE_DISABLED="true")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        sys.modules.pop("functions.webhook.handler", None)
        handler = importlib.import_module("functions.webhook.handler")
    flow = load_flow(textwrap.dedent(FLOW))

    def start(namespace: str, flow_id: str, inputs: Any, trigger: Any, execution_id: str) -> Execution:
        return admit(handler.webhooks.store, flow, 1, inputs, trigger=trigger, execution_id=execution_id)[0]

    handler.webhooks.start = start
    event = {
        "version": "2.0",
        "rawPath": "/webhook/team/load/the-key-0123456789abcd",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST"}},
        "body": '{"hello": "world"}',
        "isBase64Encoded": False,
    }
    context = LambdaContext(
        function_name="webhook", invoked_function_arn="arn:aws:lambda:us-east-1:1:function:webhook"
    )

    # When a request with the key arrives, and one without
    ok = handler.lambda_handler(event, context)
    wrong = handler.lambda_handler({**event, "rawPath": "/webhook/team/load/nope"}, context)

    # Then the first starts an execution, the second is a 404
    assert ok["statusCode"] == 200
    execution = cloud.store.get_execution(json.loads(ok["body"])["executionId"])
    assert execution is not None and execution.trigger is not None
    assert execution.trigger["body"] == {"hello": "world"}
    assert wrong["statusCode"] == 404
