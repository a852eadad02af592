"""Deploy by upload, on moto: state machines with versions, alarms, flow records, invalid files, deletions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratoflow.cloud.config.naming import alarm_prefix, state_machine_name
from stratoflow.cloud.deploy.alarms import ALARM_METRICS, SILENT_METRICS
from stratoflow.cloud.deploy.deployer import UNIDENTIFIED_NAMESPACE
from stratoflow.cloud.deploy.rules import rule_prefix
from stratoflow.cloud.deploy.schedules import schedule_prefix
from stratoflow.cloud.runtime.event_models import FlowObjectEvent
from stratoflow.cloudsim.platform import CloudSimulation
from tests.integration.conftest import EXAMPLES, Queue, event_fixture
from tests.unit.cloud.test_limits import wide_parallel

pytestmark = pytest.mark.slow


def flow(flow_id: str, message: str = "hello", namespace: str = "tests.deploy") -> str:
    return f"""id: {flow_id}
namespace: {namespace}
tasks:
  - id: say
    type: Log
    message: "{message}"
"""


BROKEN_TASK = """id: {flow_id}
namespace: tests.deploy
tasks:
  - id: say
    type: Log
    message: "still here"
  - id: oops
    type: io.kestra.plugin.core.log.Logg
"""


def machine_arn(sim: CloudSimulation, namespace: str, flow_id: str) -> str:
    return sim.deployer.target(namespace, flow_id).state_machine_arn


def describe(sim: CloudSimulation, namespace: str, flow_id: str) -> dict[str, Any]:
    response: dict[str, Any] = sim.clients.stepfunctions.describe_state_machine(
        stateMachineArn=machine_arn(sim, namespace, flow_id)
    )
    return response


def alarms(sim: CloudSimulation, namespace: str, flow_id: str) -> list[dict[str, Any]]:
    prefix = alarm_prefix(sim.stack_name, namespace, flow_id)
    found: list[dict[str, Any]] = sim.clients.cloudwatch.describe_alarms(AlarmNamePrefix=prefix)[
        "MetricAlarms"
    ]
    return found


def test_a_valid_upload_deploys_a_versioned_state_machine_its_alarms_and_the_flow_record(
    sim: CloudSimulation,
) -> None:
    # When a flow file is uploaded to the flows bucket
    verdict = sim.upload("deploy/first.yaml", flow("first"))

    # Then the deployer deployed revision 1
    assert (verdict.status, verdict.revision) == ("DEPLOYED", 1)
    # ... as a state machine named after the stack, namespace and flow, its placeholders resolved
    machine = describe(sim, "tests.deploy", "first")
    assert machine["name"] == state_machine_name("Stratoflow", "tests.deploy", "first")
    assert machine["roleArn"] == sim.settings.stratoflow_state_machine_role_arn
    assert "${" not in machine["definition"]
    assert sim.settings.stratoflow_task_runner_arn in machine["definition"]
    assert machine["loggingConfiguration"]["level"] == "ERROR"
    assert machine["tracingConfiguration"] == {"enabled": True}
    tags = sim.clients.stepfunctions.list_tags_for_resource(resourceArn=machine["stateMachineArn"])["tags"]
    assert {t["key"]: t["value"] for t in tags} == {
        "stratoflow:namespace": "tests.deploy",
        "stratoflow:flow": "first",
        "stratoflow:revision": "1",
    }
    # ... with a version for the revision, which admission will start
    version = sim.registry.version_arn("tests.deploy", "first", 1, verdict.source_hash)
    assert version == f"{machine['stateMachineArn']}:1"
    version_definition = sim.clients.stepfunctions.describe_state_machine(stateMachineArn=version)[
        "definition"
    ]
    assert json.loads(version_definition) == json.loads(machine["definition"])
    # ... one alarm per failure metric, on the alerts topic
    found = {a["MetricName"]: a for a in alarms(sim, "tests.deploy", "first")}
    assert set(found) == set(ALARM_METRICS)
    for metric, alarm in found.items():
        assert alarm["AlarmName"] == f"{machine['name']}-{metric}"
        assert alarm["Namespace"] == "AWS/States"
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": machine["stateMachineArn"]}]
        # A failed execution sends its own alert: its alarms notify nobody (one failure, one mail)
        notifies = [] if metric in SILENT_METRICS else [sim.settings.stratoflow_alert_topic_arn]
        assert alarm["AlarmActions"] == notifies
        assert alarm["TreatMissingData"] == "notBreaching"
    # ... and the flow record, live
    record = sim.store.get_flow("tests.deploy", "first")
    assert record is not None
    assert (record.revision, record.status, record.source_hash) == (1, "DEPLOYED", verdict.source_hash)
    head = sim.store.get_flow_head("tests.deploy", "first")
    assert head is not None and (head.status, head.deployed_revision) == ("DEPLOYED", 1)


def test_a_changed_file_publishes_a_new_version_and_the_same_file_again_changes_nothing(
    sim: CloudSimulation,
) -> None:
    # Given a deployed flow
    sim.upload("deploy/second.yaml", flow("second", "v1"))

    # When it changes, then comes again unchanged
    changed = sim.upload("deploy/second.yaml", flow("second", "v2"))
    again = sim.upload("deploy/second.yaml", flow("second", "v2"))

    # Then the change is revision 2 on version 2, and the repeat deployed nothing
    assert (changed.status, changed.revision) == ("DEPLOYED", 2)
    assert (again.status, again.revision) == ("DEPLOYED", 2)
    assert "unchanged" in again.message
    arn = machine_arn(sim, "tests.deploy", "second")
    assert sim.registry.version_arn("tests.deploy", "second", 2, changed.source_hash) == f"{arn}:2"
    with pytest.raises(sim.clients.stepfunctions.exceptions.StateMachineDoesNotExist):
        sim.clients.stepfunctions.describe_state_machine(stateMachineArn=f"{arn}:3")
    assert "revision 2" in json.loads(describe(sim, "tests.deploy", "second")["definition"])["Comment"]
    head = sim.store.get_flow_head("tests.deploy", "second")
    assert head is not None and head.latest_revision == 2


def test_an_invalid_file_never_replaces_the_working_revision(sim: CloudSimulation, alerts: Queue) -> None:
    # Given a working flow
    good = sim.upload("deploy/third.yaml", flow("third", "works"))
    before = describe(sim, "tests.deploy", "third")["definition"]
    alerts.drain()

    # When a broken version of it is uploaded
    verdict = sim.upload("deploy/third.yaml", BROKEN_TASK.format(flow_id="third"))

    # Then it is refused with its errors, file and line
    assert verdict.status == "INVALID"
    assert verdict.errors and verdict.errors[0].startswith("deploy/third.yaml:8:")
    assert "Logg" in verdict.errors[0]
    # ... the previous revision keeps running, untouched
    assert describe(sim, "tests.deploy", "third")["definition"] == before
    live = sim.store.get_flow("tests.deploy", "third")
    assert live is not None and live.revision == good.revision == 1
    head = sim.store.get_flow_head("tests.deploy", "third")
    assert head is not None
    assert (head.status, head.errors, head.deployed_revision) == ("INVALID", verdict.errors, 1)
    started = sim.start("tests.deploy", "third")
    assert sim.wait(str(started.execution_arn)).execution.state == "SUCCESS"
    # ... and the alerts topic says which flow failed to deploy, and why
    [alert] = alerts.drain()
    assert alert["Subject"] == "Stratoflow: flow tests.deploy.third failed to deploy"
    assert "Revision 1 is still deployed and keeps running." in alert["Message"]
    assert verdict.errors[0] in alert["Message"]

    # When the same broken file is delivered again, nothing is alerted twice
    sim.upload("deploy/third.yaml", BROKEN_TASK.format(flow_id="third"))
    assert alerts.drain() == []

    # When the working content comes back, the flow is DEPLOYED again without a new revision
    back = sim.upload("deploy/third.yaml", flow("third", "works"))
    assert (back.status, back.revision) == ("DEPLOYED", 1)
    head = sim.store.get_flow_head("tests.deploy", "third")
    assert head is not None and (head.status, head.errors) == ("DEPLOYED", [])


def test_a_file_that_is_not_even_a_flow_is_recorded_under_what_can_be_known(
    sim: CloudSimulation, alerts: Queue
) -> None:
    # Given a flow deployed from a file
    sim.upload("deploy/fourth.yaml", flow("fourth"))
    alerts.drain()

    # When that file becomes unreadable YAML, and another unknown file too
    held = sim.upload("deploy/fourth.yaml", "id: [unclosed\n")
    unknown = sim.upload("deploy/stray.yaml", "::: not yaml :::\n  - [")

    # Then the first is recorded on the flow the file held, the second under its object key
    assert (held.status, held.namespace, held.flow_id) == ("INVALID", "tests.deploy", "fourth")
    assert (unknown.status, unknown.namespace, unknown.flow_id) == (
        "INVALID",
        UNIDENTIFIED_NAMESPACE,
        "deploy/stray.yaml",
    )
    stray = sim.store.get_flow_head(UNIDENTIFIED_NAMESPACE, "deploy/stray.yaml")
    assert stray is not None and stray.status == "INVALID" and stray.errors
    assert len(alerts.drain()) == 2


def test_duplicate_and_late_events_are_harmless(sim: CloudSimulation) -> None:
    # Given two uploads of one file
    first = sim.upload("deploy/fifth.yaml", flow("fifth", "one"))
    second = sim.upload("deploy/fifth.yaml", flow("fifth", "two"))
    bucket = sim.settings.stratoflow_flows_bucket

    def created(version_id: str | None) -> FlowObjectEvent:
        return FlowObjectEvent.from_eventbridge(
            event_fixture(
                "s3_object_created",
                {
                    "detail.bucket.name": bucket,
                    "detail.object.key": "deploy/fifth.yaml",
                    "detail.object.version-id": version_id,
                },
            )
        )

    # When the second upload's event is delivered again, and the first one's arrives late
    duplicate = sim.deployer.handle(created(second.version_id))
    late = sim.deployer.handle(created(first.version_id))

    # Then neither deploys anything: revision 2 ("two") stays live
    assert (duplicate.status, duplicate.revision) == ("DEPLOYED", 2)
    assert late.status == "SKIPPED"
    # ... and each upload keeps its own verdict (what `strato deploy` waits for)
    assert sim.registry.verdict("deploy/fifth.yaml", first.version_id).status == "SKIPPED"  # type: ignore[union-attr]
    assert sim.registry.verdict("deploy/fifth.yaml", second.version_id).revision == 2  # type: ignore[union-attr]
    live = sim.store.get_flow("tests.deploy", "fifth")
    assert live is not None and live.revision == 2 and '"two"' in live.source
    head = sim.store.get_flow_head("tests.deploy", "fifth")
    assert head is not None and head.latest_revision == 2


def test_deleting_the_file_retires_the_flow(sim: CloudSimulation) -> None:
    # Given a deployed flow
    sim.upload("deploy/sixth.yaml", flow("sixth"))
    arn = machine_arn(sim, "tests.deploy", "sixth")

    # When its file is deleted
    verdict = sim.delete("deploy/sixth.yaml")

    # Then its state machine and alarms are gone and the flow is DELETED
    assert verdict.status == "DELETED"
    with pytest.raises(sim.clients.stepfunctions.exceptions.StateMachineDoesNotExist):
        sim.clients.stepfunctions.describe_state_machine(stateMachineArn=arn)
    assert alarms(sim, "tests.deploy", "sixth") == []
    head = sim.store.get_flow_head("tests.deploy", "sixth")
    assert head is not None and head.status == "DELETED"
    assert sim.store.get_flow("tests.deploy", "sixth") is None
    refused = sim.start("tests.deploy", "sixth")
    assert (refused.state, refused.error) == ("REFUSED", "flow tests.deploy.sixth is not deployed")

    # When the deletion event is delivered again, nothing happens
    again = sim.deployer.handle(
        FlowObjectEvent.from_eventbridge(
            event_fixture(
                "s3_object_deleted",
                {
                    "detail.bucket.name": sim.settings.stratoflow_flows_bucket,
                    "detail.object.key": "deploy/sixth.yaml",
                },
            )
        )
    )
    assert again.status == "SKIPPED"

    # When a broken file then arrives under that flow, the flow stays DELETED (nothing comes back to life)
    broken = sim.upload("deploy/sixth.yaml", BROKEN_TASK.format(flow_id="sixth"))
    assert broken.status == "INVALID"
    head = sim.store.get_flow_head("tests.deploy", "sixth")
    assert head is not None and head.status == "DELETED" and head.errors == broken.errors
    assert sim.store.get_flow("tests.deploy", "sixth") is None

    # When a valid file arrives, it is a new revision on a new state machine
    revived = sim.upload("deploy/sixth.yaml", flow("sixth", "again"))
    assert (revived.status, revived.revision) == ("DEPLOYED", 2)
    assert describe(sim, "tests.deploy", "sixth")["stateMachineArn"] == arn


def test_a_file_that_now_holds_another_flow_retires_the_flow_it_held(sim: CloudSimulation) -> None:
    # Given a file that deployed one flow
    sim.upload("deploy/renamed.yaml", flow("old_name"))

    # When the flow's id changes inside the file
    verdict = sim.upload("deploy/renamed.yaml", flow("new_name"))

    # Then the new flow is deployed and the old one retired
    assert (verdict.status, verdict.flow_id) == ("DEPLOYED", "new_name")
    old = sim.store.get_flow_head("tests.deploy", "old_name")
    assert old is not None and old.status == "DELETED"
    with pytest.raises(sim.clients.stepfunctions.exceptions.StateMachineDoesNotExist):
        describe(sim, "tests.deploy", "old_name")

    # When the file is deleted, the flow it holds now goes
    assert sim.delete("deploy/renamed.yaml").flow_id == "new_name"


def test_subflow_calls_point_at_the_child_state_machine_derived_from_its_name(sim: CloudSimulation) -> None:
    # When a flow calling a subflow is deployed (before its child: the ARN needs no lookup)
    verdict = sim.upload("subflow_parent.yaml", (EXAMPLES / "subflow_parent.yaml").read_text())

    # Then its Subflow state starts the child's state machine
    assert verdict.status == "DEPLOYED"
    definition = describe(sim, "examples", "subflow_parent")["definition"]
    assert machine_arn(sim, "examples", "subflow_child") in definition
    assert "${" not in definition


def test_a_flow_over_an_aws_limit_is_refused_before_anything_is_deployed(
    sim: CloudSimulation, alerts: Queue
) -> None:
    # Given a working flow
    good = sim.upload("deploy/wide.yaml", flow("wide", "small"))
    before = describe(sim, "tests.deploy", "wide")
    alerts.drain()

    # When the file grows past what one state machine holds, in one task no cut into parts shrinks
    # (a Parallel of 1,850 branches; a long sequence would be cut, a large record kept in S3)
    wide = wide_parallel(1850, "wide").replace("namespace: tests.limits", "namespace: tests.deploy")
    verdict = sim.upload("deploy/wide.yaml", wide)

    # Then it is INVALID with the located message `strato validate` prints, and an alert
    assert verdict.status == "INVALID"
    [error] = verdict.errors
    assert error.startswith("deploy/wide.yaml:3:1: tasks: the state machine definition is")
    [alert] = alerts.drain()
    assert error in alert["Message"] and "Revision 1 is still deployed" in alert["Message"]
    # ... and nothing was touched: $LATEST unchanged, no revision recorded, revision 1 live
    assert describe(sim, "tests.deploy", "wide")["definition"] == before["definition"]
    head = sim.store.get_flow_head("tests.deploy", "wide")
    assert head is not None and (head.latest_revision, head.deployed_revision) == (1, 1)
    live = sim.store.get_flow("tests.deploy", "wide")
    assert live is not None and live.revision == good.revision == 1


def test_a_flow_of_600_tasks_deploys_its_record_kept_compressed(sim: CloudSimulation) -> None:
    # Given a flow of 600 tasks (its record is about 450 KB of JSON, over DynamoDB's item limit)
    tasks = "".join(f"  - id: t{i}\n    type: Log\n    message: m\n" for i in range(600))
    source = f"id: many\nnamespace: tests.deploy\ntasks:\n{tasks}"

    # When it is uploaded
    verdict = sim.upload("deploy/many.yaml", source)

    # Then it is deployed, and its record reads back whole
    assert (verdict.status, verdict.revision) == ("DEPLOYED", 1), verdict.errors
    live = sim.store.get_flow("tests.deploy", "many")
    assert live is not None and live.source == source and live.definition is not None
    assert len(live.model_dump_json()) > 400_000


def test_the_simulation_deploys_with_every_step_the_deployer_lambda_has(sim: CloudSimulation) -> None:
    # Given a flow with a schedule and a Flow trigger
    source = flow("triggered", namespace="tests.steps") + (
        "triggers:\n"
        '  - {id: nightly, type: Schedule, cron: "0 2 * * *"}\n'
        "  - id: upstream\n"
        "    type: Flow\n"
        "    conditions:\n"
        "      - {type: ExecutionFlowCondition, namespace: tests.deploy, flowId: first}\n"
    )

    # When it is uploaded to the simulated stack
    verdict = sim.upload("steps/triggered.yaml", source)

    # Then its schedule is in the stack's group and its rule on the bus, as the Lambda would leave them
    assert verdict.status == "DEPLOYED", verdict.errors
    group = sim.settings.stratoflow_schedule_group
    schedules = sim.clients.scheduler.list_schedules(
        GroupName=group, NamePrefix=schedule_prefix("tests.steps", "triggered")
    )
    assert len(schedules["Schedules"]) == 1
    rules = sim.clients.events.list_rules(NamePrefix=f"{rule_prefix(sim.settings)}triggered-upstream-")
    assert len(rules["Rules"]) == 1
