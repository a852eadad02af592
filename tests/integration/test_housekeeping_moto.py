"""The stack's housekeeping custom resource on moto: deleting the stack removes every resource the
deployer created for it (rules, pipes, state machines, alarms, flow roles), and nothing of another
stack or of the template; anything else than the stack's deletion removes nothing."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloudsim.platform import CloudSimulation

pytestmark = pytest.mark.slow

STACK = "Doomed"
OTHER = "DoomedDev"  # another stack of the account, whose prefix starts with this one's name
ACCOUNT_QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
BUS = "shop-events"
FLOWS = {
    "roles.yaml": """id: writes
namespace: team.a
tasks:
  - id: put
    type: aws.s3.Upload
    bucket: lake
    key: raw/x.json
    content: {"rows": 1}
""",
    "nightly.yaml": """id: nightly
namespace: team.a
triggers:
  - id: nightly
    type: Schedule
    cron: "0 2 * * *"
tasks:
  - id: hello
    type: Log
    message: hi
""",
    "after.yaml": """id: after
namespace: team.a
triggers:
  - id: after-writes
    type: Flow
    conditions:
      - type: ExecutionFlow
        namespace: team.a
        flowId: writes
tasks:
  - id: hello
    type: Log
    message: hi
""",
    "orders.yaml": f"""id: orders
namespace: team.a
triggers:
  - id: placed
    type: aws.eventbridge.Trigger
    bus: {BUS}
    pattern: {{source: [shop.orders]}}
  - id: queued
    type: aws.sqs.Trigger
    queueUrl: {ACCOUNT_QUEUE.format(name="orders")}
tasks:
  - id: hello
    type: Log
    message: hi
""",
}


class StackStatus:
    """CloudFormation's answer about the stack (moto cannot hold a stack in DELETE_IN_PROGRESS)."""

    def __init__(self, status: str):
        self.status = status
        self.asked: list[str] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.asked.append(StackName)
        return {"Stacks": [{"StackId": StackName, "StackStatus": self.status}]}


class FailingRoleDeletes:
    """IAM as moto answers it, but refusing to delete roles (as a role still in use would be)."""

    def __init__(self, iam: Any):
        self.iam = iam

    def __getattr__(self, name: str) -> Any:
        return getattr(self.iam, name)

    def delete_role(self, RoleName: str) -> None:
        raise ClientError({"Error": {"Code": "DeleteConflict", "Message": "in use"}}, "DeleteRole")


@pytest.fixture
def sim() -> Iterator[CloudSimulation]:
    with CloudSimulation(stack_name=STACK) as simulation:
        # The simulation deploys with every step of the stack's deployer: rules, pipes and schedules too
        boto3.client("events").create_event_bus(Name=BUS)
        boto3.client("sqs").create_queue(QueueName="orders")
        for key, source in FLOWS.items():
            verdict = simulation.upload(key, source)
            assert verdict.status == "DEPLOYED", verdict
        yield simulation


@pytest.fixture
def others(sim: CloudSimulation) -> dict[str, str]:
    """Resources the stack does not own: another stack's, and the template's own (named `<Stack>.`)."""
    events, cloudwatch, iam = boto3.client("events"), boto3.client("cloudwatch"), boto3.client("iam")
    events.put_rule(Name=f"{OTHER}-rule", EventPattern='{"source": ["x"]}')
    events.put_rule(Name=f"{STACK}.flow-changes", EventPattern='{"source": ["aws.s3"]}')
    cloudwatch.put_metric_alarm(
        AlarmName=f"{OTHER}-team_a-x-ExecutionsFailed",
        MetricName="ExecutionsFailed",
        Namespace="AWS/States",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    iam.create_role(
        Path="/stratoflow/", RoleName=f"{OTHER}-flow-0123456789abcdef", AssumeRolePolicyDocument="{}"
    )
    # A boundary built on an operator's policy that an update of the template left behind (two
    # versions), and another stack's
    document = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}'
    )
    for stack in (STACK, OTHER):
        arn = iam.create_policy(
            Path="/stratoflow/", PolicyName=f"{stack}-flow-boundary-n0123abcd", PolicyDocument=document
        )["Policy"]["Arn"]
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    return {"rule": f"{OTHER}-rule", "platform rule": f"{STACK}.flow-changes"}


def _owned(prefix: str) -> dict[str, list[str]]:
    """Every resource whose name starts with `prefix`, by kind."""
    events, pipes = boto3.client("events"), boto3.client("pipes")
    sfn, cloudwatch, iam = boto3.client("stepfunctions"), boto3.client("cloudwatch"), boto3.client("iam")
    return {
        "rules": [
            rule["Name"]
            for bus in ("default", BUS)
            for rule in events.list_rules(NamePrefix=prefix, EventBusName=bus)["Rules"]
        ],
        "pipes": [p["Name"] for p in pipes.list_pipes(NamePrefix=prefix)["Pipes"]],
        "state machines": [
            m["name"] for m in sfn.list_state_machines()["stateMachines"] if m["name"].startswith(prefix)
        ],
        "alarms": [
            a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
        ],
        "roles": [
            r["RoleName"]
            for r in iam.list_roles(PathPrefix="/stratoflow/")["Roles"]
            if r["RoleName"].startswith(prefix)
        ],
        "boundaries": [
            p["PolicyName"]
            for p in iam.list_policies(Scope="Local", PathPrefix="/stratoflow/")["Policies"]
            if p["PolicyName"].startswith(prefix)
        ],
    }


def _handler(monkeypatch: pytest.MonkeyPatch, status: str, **clients: Any) -> tuple[Any, StackStatus]:
    monkeypatch.setenv("STRATOFLOW_STACK_NAME", STACK)
    module = importlib.import_module("functions.housekeeping.handler")
    cloudformation = StackStatus(status)
    monkeypatch.setattr(module, "clients", AwsClients(cloudformation=cloudformation, **clients))
    return module, cloudformation


def _request(kind: str, physical_id: str | None = "Doomed-housekeeping") -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": kind,
        "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/1",
        "LogicalResourceId": "Housekeeping",
        "ResourceProperties": {},
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


class Context:
    function_name = "housekeeping"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:housekeeping"
    aws_request_id = "req"


def test_deleting_the_stack_removes_what_the_deployer_created_and_nothing_else(
    sim: CloudSimulation, others: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the deployed flows' resources, of every kind
    before = _owned(f"{STACK}-")
    assert all(before.values()), before
    module, cloudformation = _handler(monkeypatch, "DELETE_IN_PROGRESS")

    # When CloudFormation deletes the stack, and with it the custom resource
    response = module.lambda_handler(_request("Delete"), Context())

    # Then none of them is left, the other stack's and the template's are, and the id is unchanged
    assert _owned(f"{STACK}-") == {kind: [] for kind in before}
    remaining = _owned(OTHER)
    assert all(remaining[kind] for kind in ("rules", "alarms", "roles", "boundaries")), remaining
    assert (
        boto3.client("events").describe_rule(Name=others["platform rule"])["Name"] == others["platform rule"]
    )
    assert response == {"PhysicalResourceId": "Doomed-housekeeping"}
    assert cloudformation.asked == [_request("Delete")["StackId"]]


def test_removing_the_custom_resource_in_an_update_keeps_the_flows_deployed(
    sim: CloudSimulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given
    before = _owned(f"{STACK}-")
    module, _ = _handler(monkeypatch, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")

    # When
    module.lambda_handler(_request("Delete"), Context())

    # Then
    assert _owned(f"{STACK}-") == before


@pytest.mark.parametrize("kind", ["Create", "Update"])
def test_create_and_update_keep_one_physical_id_and_delete_nothing(
    sim: CloudSimulation, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    before = _owned(f"{STACK}-")
    module, cloudformation = _handler(monkeypatch, "DELETE_IN_PROGRESS")

    response = module.lambda_handler(
        _request(kind, None if kind == "Create" else "Doomed-housekeeping"), Context()
    )

    assert response == {"PhysicalResourceId": "Doomed-housekeeping"}
    assert (_owned(f"{STACK}-"), cloudformation.asked) == (before, [])


def test_what_could_not_be_deleted_fails_the_request_naming_it(
    sim: CloudSimulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given IAM refusing to delete roles (the flow's and its pipes')
    roles = _owned(f"{STACK}-")["roles"]
    role = next(name for name in roles if "-flow-" in name)
    module, _ = _handler(monkeypatch, "DELETE_IN_PROGRESS", iam=FailingRoleDeletes(boto3.client("iam")))

    # When the stack is deleted, the request fails naming the role; the rest is gone
    with pytest.raises(module.TeardownFailed, match=f"role {role}: .*DeleteConflict"):
        module.lambda_handler(_request("Delete"), Context())
    left = _owned(f"{STACK}-")
    assert left == {
        "rules": [],
        "pipes": [],
        "state machines": [],
        "alarms": [],
        "roles": roles,
        "boundaries": [],
    }
