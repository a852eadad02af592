"""The cloud code path's pure parts: names, event parsing, alerts, version pruning (no moto needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from stratoflow.cloud.config.naming import (
    AccountRegion,
    alarm_name,
    state_machine_name,
    unqualified,
    version_number,
)
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deploy_steps import StateMachineStep
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget
from stratoflow.cloud.runtime.alerts import MAX_SUBJECT, invalid_flow_alert
from stratoflow.cloud.runtime.event_models import FlowObjectEvent, StatusChange
from stratoflow.cloud.runtime.events import first_failed_task
from stratoflow.cloudsim import stack as simulated
from stratoflow.domain import TaskRun
from stratoflow.states import State
from tests.integration.conftest import event_fixture

NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
namespaces = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,149}", fullmatch=True)
flow_ids = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}", fullmatch=True)


def test_a_simple_flow_keeps_a_readable_state_machine_name() -> None:
    assert state_machine_name("Stratoflow", "examples", "hello") == "Stratoflow-examples-hello"
    assert (
        alarm_name("Stratoflow", "examples", "hello", "ExecutionsFailed")
        == "Stratoflow-examples-hello-ExecutionsFailed"
    )


def test_names_that_could_be_ambiguous_get_a_hash() -> None:
    # '-' separates the parts, so ("a-b", "c") and ("a", "b-c") would both read Stratoflow-a-b-c
    one, other = state_machine_name("S", "a-b", "c"), state_machine_name("S", "a", "b-c")
    assert one != other
    assert one.startswith("S-a-b-c-") and other.startswith("S-a-b-c-")
    # a namespace's dots are not allowed in the name: changed, hence hashed too
    dotted = state_machine_name("S", "company.team", "etl")
    assert dotted.startswith("S-company_team-etl-") and dotted != state_machine_name(
        "S", "company_team", "etl"
    )


@given(namespaces, flow_ids)
def test_every_name_is_valid_short_and_deterministic(namespace: str, flow_id: str) -> None:
    name = state_machine_name("Stratoflow", namespace, flow_id)
    assert NAME.match(name)
    assert name == state_machine_name("Stratoflow", namespace, flow_id)
    assert name.startswith("Stratoflow-")  # the prefix the stack's IAM policies grant


@given(st.lists(st.tuples(namespaces, flow_ids), min_size=2, max_size=30, unique=True))
def test_distinct_flows_get_distinct_names(flows: list[tuple[str, str]]) -> None:
    names = {state_machine_name("Stratoflow", namespace, flow_id) for namespace, flow_id in flows}
    assert len(names) == len(flows)


def test_arns_are_derived_without_a_lookup() -> None:
    account = AccountRegion.from_arn("arn:aws:lambda:eu-west-1:111122223333:function:stratoflow-task-runner")
    machine = account.state_machine_arn("Stratoflow-examples-hello")
    assert machine == "arn:aws:states:eu-west-1:111122223333:stateMachine:Stratoflow-examples-hello"
    assert account.execution_arn("Stratoflow-examples-hello", "abc") == (
        "arn:aws:states:eu-west-1:111122223333:execution:Stratoflow-examples-hello:abc"
    )
    assert unqualified(f"{machine}:7") == machine and version_number(f"{machine}:7") == 7
    with pytest.raises(ValueError, match="not an ARN"):
        AccountRegion.from_arn("stratoflow-task-runner")


def test_s3_events_parse_into_flow_object_events() -> None:
    created = FlowObjectEvent.from_eventbridge(event_fixture("s3_object_created"))
    deleted = FlowObjectEvent.from_eventbridge(event_fixture("s3_object_deleted"))
    unversioned = FlowObjectEvent.from_eventbridge(
        event_fixture("s3_object_created", {"detail.object.version-id": "null"})
    )

    assert (created.kind, created.bucket, created.key, created.version_id) == (
        "created",
        "stratoflow-flows-bucket",
        "hello.yaml",
        "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    )
    assert (deleted.kind, deleted.deletion_type) == ("deleted", "Delete Marker Created")
    assert unversioned.version_id is None
    with pytest.raises(ValueError, match="not an S3 object event"):
        FlowObjectEvent.from_eventbridge(event_fixture("sfn_status_running"))


def test_status_changes_parse_with_their_dates_and_error() -> None:
    succeeded = StatusChange.from_eventbridge(event_fixture("sfn_status_succeeded"))
    timed_out = StatusChange.from_eventbridge(event_fixture("sfn_status_timed_out"))

    assert (succeeded.name, succeeded.status, succeeded.finished) == (
        "3tPd1DsbVnGoU6y6ZbKtbb",
        "SUCCEEDED",
        True,
    )
    assert succeeded.start_date == datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
    assert succeeded.engine_error is None
    assert timed_out.engine_error == "States.Timeout: The execution timed out after 3600 seconds"
    assert not StatusChange.from_eventbridge(event_fixture("sfn_status_running")).finished
    with pytest.raises(ValueError, match="not a Step Functions status change"):
        StatusChange.from_eventbridge(event_fixture("s3_object_created"))


def test_the_invalid_flow_alert_says_which_flow_and_why() -> None:
    errors = [f"flows/etl.yaml:{line}:3: tasks[{line}].type: unknown task type" for line in range(60)]

    subject, message = invalid_flow_alert("team." + "x" * 120, "etl", "s3://b/flows/etl.yaml", errors, 4)

    assert len(subject) <= MAX_SUBJECT and subject.startswith("Stratoflow: flow team.")
    assert "s3://b/flows/etl.yaml was not deployed" in message
    assert "Revision 4 is still deployed and keeps running." in message
    assert errors[0] in message and "... and 10 more" in message


def task_run(task_id: str, state: State, parent: str | None = None) -> TaskRun:
    return TaskRun(id=task_id, execution_id="e", task_id=task_id, state=state, parent_task_run_id=parent)


def test_the_first_failed_task_skips_tolerated_failures() -> None:
    runs = [
        task_run("allowed", State.WARNING),
        task_run("inner", State.FAILED, parent="allowed"),
        task_run("load", State.FAILED),
        task_run("later", State.FAILED),
    ]
    assert first_failed_task(runs) == "load"
    assert first_failed_task(runs[:2]) is None


def deployment(revision: int) -> Deployment:
    target = FlowTarget("ns", "f", "S-ns-f", "arn:aws:states:us-east-1:123456789012:stateMachine:S-ns-f")
    return Deployment(
        target, flow=None, previous=None, revision=revision, definition={"StartAt": "a", "States": {}}
    )


def stepfunctions_stub(version: int) -> tuple[Any, Stubber]:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    stub = Stubber(client)
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:S-ns-f"
    stub.add_response("describe_state_machine", _machine(arn), {"stateMachineArn": arn})
    stub.add_response(
        "update_state_machine",
        {"updateDate": datetime(2026, 1, 1, tzinfo=UTC), "stateMachineVersionArn": f"{arn}:{version}"},
    )
    stub.add_response("tag_resource", {})
    return client, stub


def _machine(arn: str) -> dict[str, Any]:
    return {
        "stateMachineArn": arn,
        "name": "S-ns-f",
        "definition": "{}",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "type": "STANDARD",
        "creationDate": datetime(2026, 1, 1, tzinfo=UTC),
    }


def test_old_state_machine_versions_are_pruned_and_a_pruning_failure_never_fails_a_deployment() -> None:
    settings = Settings(
        stratoflow_table_name="t",
        stratoflow_data_bucket="d",
        stratoflow_state_machine_role_arn="arn:aws:iam::123456789012:role/r",
    )
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:S-ns-f"

    # Given a state machine publishing its version 101, keeping 100
    client, stub = stepfunctions_stub(101)
    stub.add_response("delete_state_machine_version", {}, {"stateMachineVersionArn": f"{arn}:1"})
    with stub:
        step = StateMachineStep(client, settings, keep_versions=100)
        published = deployment(101)
        step.deploy(published)
        # Then version 1 was deleted
        stub.assert_no_pending_responses()
    assert published.version_arn == f"{arn}:101"

    # Given the deletion fails
    client, stub = stepfunctions_stub(102)
    stub.add_client_error("delete_state_machine_version", "ValidationException", "in use")
    with stub:
        StateMachineStep(client, settings, keep_versions=100).deploy(deployment(102))
        stub.assert_no_pending_responses()


def test_the_simulated_table_is_the_table_the_stack_deploys() -> None:
    from stratoflow._platform.infra.constructs import storage

    assert (simulated.PARTITION_KEY, simulated.SORT_KEY) == (storage.PARTITION_KEY, storage.SORT_KEY)
    assert simulated.GLOBAL_INDEXES == storage.GLOBAL_INDEXES
    assert simulated.INDEX_PROJECTIONS == storage.INDEX_PROJECTIONS
    assert simulated.TTL_ATTRIBUTE == storage.TTL_ATTRIBUTE


def test_local_commands_import_no_aws_sdk() -> None:
    # `strato run` (without --cloud-sim) and the history commands must stay fast: boto3 and moto load
    # only when a cloud command runs.
    code = (
        "import sys, stratoflow.cli.run_cmd, stratoflow.cli.history_cmd, stratoflow.cli.cloud_cmd; "
        "print(sorted(m for m in ('boto3', 'botocore', 'moto') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
