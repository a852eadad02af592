"""Flow roles without AWS: their names, policy documents, the deployer's step order, Step Functions'
wait for a new role, and the task runner's credential cache."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.naming import AccountRegion, flow_role_arn, flow_role_name
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.alarms import AlarmsStep
from stratoflow.cloud.deploy.deploy_steps import StateMachineStep, default_steps
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget
from stratoflow.cloud.deploy.flow_roles import FlowRoleStep, UnusedFlowRoleStep, flow_policy, trust_policy
from stratoflow.cloud.runtime.flow_credentials import FlowRoleCredentials, session_name

ACCOUNT = "123456789012"
STATE_MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:S-ns-f"
SHARED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/shared"
FLOW_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/S-flow-0123456789abcdef"
NOT_YET = (
    "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to "
    "assume the provided role."
)

names = st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=120)


@given(names, names)
def test_flow_role_names_fit_iam_and_stay_under_the_stacks_prefix(namespace: str, flow_id: str) -> None:
    name = flow_role_name("A" * 40, namespace, flow_id)

    assert len(name) <= 64
    assert name.startswith("A" * 40 + "-flow-")
    assert name == flow_role_name("A" * 40, namespace, flow_id)


def test_flow_role_names_tell_flows_apart_and_refuse_a_stack_name_too_long() -> None:
    assert flow_role_name("S", "a.b", "c") != flow_role_name("S", "a", "b.c")
    assert flow_role_arn("arn:aws:iam::1:role/stratoflow/", "S", "ns", "f") == (
        "arn:aws:iam::1:role/stratoflow/" + flow_role_name("S", "ns", "f")
    )
    assert AccountRegion.from_arn(STATE_MACHINE).roles_arn() == f"arn:aws:iam::{ACCOUNT}:role/stratoflow/"
    with pytest.raises(ValueError, match="too long"):
        flow_role_name("A" * 60, "ns", "f")


def test_the_flow_policy_allows_each_declared_statement_in_the_accounts_partition() -> None:
    permissions = [
        {"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::lake/raw/*"]},
        {"Action": ["batch:DescribeJobs"], "Resource": ["*"]},
    ]

    assert flow_policy(permissions)["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::lake/raw/*"]},
        {"Effect": "Allow", "Action": ["batch:DescribeJobs"], "Resource": ["*"]},
    ]
    china = flow_policy(permissions, partition="aws-cn")["Statement"]
    assert [statement["Resource"] for statement in china] == [["arn:aws-cn:s3:::lake/raw/*"], ["*"]]


def test_the_trust_policy_names_the_flows_state_machine_and_the_task_runner() -> None:
    trust = trust_policy(AccountRegion.from_arn(STATE_MACHINE), STATE_MACHINE, "arn:aws:iam::1:role/runner")

    states, runner = trust["Statement"]
    assert states["Principal"] == {"Service": "states.amazonaws.com"}
    assert states["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    assert states["Condition"]["ArnLike"] == {"aws:SourceArn": [STATE_MACHINE, f"{STATE_MACHINE}:*"]}
    assert runner == {
        "Sid": "TaskRunner",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::1:role/runner"},
        "Action": "sts:AssumeRole",
    }


def settings(**changes: Any) -> Settings:
    return Settings(
        stratoflow_table_name="t",
        stratoflow_data_bucket="d",
        stratoflow_stack_name="S",
        stratoflow_state_machine_role_arn=SHARED_ROLE,
        **changes,
    )


FLOW_ROLE_SETTINGS = {
    "stratoflow_task_runner_role_arn": "arn:aws:iam::1:role/runner",
    "stratoflow_flow_base_policy_arn": "arn:aws:iam::1:policy/base",
    "stratoflow_flow_boundary_arn": "arn:aws:iam::1:policy/boundary",
}


def test_the_role_is_made_before_the_state_machine_and_an_unused_one_removed_after_it() -> None:
    clients = AwsClients(stepfunctions=object(), cloudwatch=object(), iam=object())

    steps = [type(step) for step in default_steps(clients, settings(**FLOW_ROLE_SETTINGS))]
    without = [type(step) for step in default_steps(clients, settings())]

    # Retirement runs the steps in reverse: the role goes after the state machine
    assert steps == [FlowRoleStep, StateMachineStep, UnusedFlowRoleStep, AlarmsStep]
    assert without == [StateMachineStep, AlarmsStep]


def deployment(role_arn: str | None = None) -> Deployment:
    return Deployment(
        FlowTarget("ns", "f", "S-ns-f", STATE_MACHINE),
        flow=None,
        previous=None,
        revision=1,
        definition={"StartAt": "a", "States": {}},
        role_arn=role_arn,
    )


def new_state_machine(*failures: tuple[str, str]) -> tuple[Any, Stubber]:
    """A Step Functions client where the state machine does not exist and creating it first fails so."""
    client = boto3.client("stepfunctions", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("describe_state_machine", "StateMachineDoesNotExist", "none")
    for code, message in failures:
        stub.add_client_error("create_state_machine", code, message)
    return client, stub


def created(stub: Stubber, role_arn: str) -> None:
    created = {"stateMachineArn": STATE_MACHINE, "creationDate": datetime(2026, 1, 1, tzinfo=UTC)}
    stub.add_response(
        "create_state_machine",
        {**created, "stateMachineVersionArn": f"{STATE_MACHINE}:1"},
        {
            "name": "S-ns-f",
            "definition": '{"StartAt":"a","States":{}}',
            "roleArn": role_arn,
            "type": "STANDARD",
            "tags": [
                {"key": "stratoflow:namespace", "value": "ns"},
                {"key": "stratoflow:flow", "value": "f"},
                {"key": "stratoflow:revision", "value": "1"},
            ],
            "loggingConfiguration": {"level": "OFF"},
            "tracingConfiguration": {"enabled": True},
            "publish": True,
            "versionDescription": "revision 1",
        },
    )


def test_a_new_role_that_step_functions_cannot_assume_yet_is_tried_again_after_a_backoff() -> None:
    # Given Step Functions refuses the flow's brand-new role twice
    client, stub = new_state_machine(("InvalidArn", NOT_YET), ("AccessDeniedException", NOT_YET))
    created(stub, FLOW_ROLE)
    sleeps: list[float] = []
    step = StateMachineStep(client, settings(), role_delays=(1.0, 2.0, 4.0), sleep=sleeps.append)

    # When the state machine is deployed with that role
    published = deployment(FLOW_ROLE)
    with stub:
        step.deploy(published)
        stub.assert_no_pending_responses()

    # Then it was created on the third attempt, after waiting 1 s then 2 s
    assert sleeps == [1.0, 2.0]
    assert published.version_arn == f"{STATE_MACHINE}:1"


def test_the_wait_for_a_new_role_is_bounded() -> None:
    # Given Step Functions never accepts the role
    client, stub = new_state_machine(*[("InvalidArn", NOT_YET)] * 3)
    sleeps: list[float] = []
    step = StateMachineStep(client, settings(), role_delays=(1.0, 2.0), sleep=sleeps.append)

    # When the state machine is deployed, Then the last refusal fails the deployment after the delays
    with stub, pytest.raises(client.exceptions.ClientError, match="authorized to assume"):
        step.deploy(deployment(FLOW_ROLE))
    assert sleeps == [1.0, 2.0]


def test_other_refusals_fail_at_once_and_a_flow_without_a_role_uses_the_shared_one() -> None:
    # Given a malformed role ARN
    client, stub = new_state_machine(("InvalidArn", "Invalid Arn: 'Resource type not valid'"))
    sleeps: list[float] = []
    step = StateMachineStep(client, settings(), sleep=sleeps.append)

    # When deployed, Then it fails without waiting
    with stub, pytest.raises(client.exceptions.ClientError, match="Resource type not valid"):
        step.deploy(deployment(FLOW_ROLE))
    assert sleeps == []

    # Given a flow without its own role, Then the state machine gets the shared role
    client, stub = new_state_machine()
    created(stub, SHARED_ROLE)
    with stub:
        StateMachineStep(client, settings(), sleep=sleeps.append).deploy(deployment(None))
        stub.assert_no_pending_responses()


class FakeSts:
    def __init__(self, lifetime: float):
        self.lifetime = lifetime
        self.now = 1_000_000.0
        self.calls: list[dict[str, Any]] = []

    def assume_role(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n}",
                "SecretAccessKey": f"secret{n}",
                "SessionToken": f"token{n}",
                "Expiration": datetime.fromtimestamp(self.now + self.lifetime, UTC),
            }
        }


def test_credentials_are_cached_per_role_until_they_would_not_outlive_a_task_run() -> None:
    # Given credentials valid for an hour, handed out while at least 15 minutes remain
    sts = FakeSts(lifetime=3600)
    provider = FlowRoleCredentials(
        "arn:aws:iam::1:role/stratoflow/", "S", sts, clock=lambda: sts.now, refresh_margin=900
    )

    # When two executions of a flow run tasks within 45 minutes, then one an hour later
    first = provider.for_flow("ns", "f", "exec-1")
    sts.now += 2699
    second = provider.for_flow("ns", "f", "exec-2")
    sts.now += 2
    third = provider.for_flow("ns", "f", "exec-3")
    other_flow = provider.for_flow("ns", "g", "exec-3")

    # Then the role was assumed again only once too close to expiry, and once for the other flow
    assert (
        first
        == second
        == {
            "aws_access_key_id": "ASIA1",
            "aws_secret_access_key": "secret1",
            "aws_session_token": "token1",
        }
    )
    assert third["aws_access_key_id"] == "ASIA2"
    assert other_flow["aws_access_key_id"] == "ASIA3"
    assert [(call["RoleArn"], call["RoleSessionName"]) for call in sts.calls] == [
        (provider.role_arn("ns", "f"), "exec-1"),
        (provider.role_arn("ns", "f"), "exec-3"),
        (provider.role_arn("ns", "g"), "exec-3"),
    ]
    assert provider.role_arn("ns", "f") == "arn:aws:iam::1:role/stratoflow/" + flow_role_name("S", "ns", "f")


def test_session_names_are_the_execution_id_as_sts_accepts_it() -> None:
    assert session_name("7fQ2mZ9xKpL3vB8nR1cT4w") == "7fQ2mZ9xKpL3vB8nR1cT4w"
    assert session_name("run with spaces/and#signs") == "run_with_spaces_and_signs"
    assert session_name("x" * 100) == "x" * 64
    assert len(session_name("a")) == 2
