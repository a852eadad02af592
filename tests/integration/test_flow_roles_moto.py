"""Each flow's own IAM role, on moto: made from the flow's permissions, used by its state machine and
assumed by the task runner for its AWS tasks; deleted when no longer needed."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloud.config.naming import FLOW_ROLE_PATH, flow_role_name
from stratoflow.cloud.deploy.deployer import Deployer
from stratoflow.cloud.deploy.deployment import FlowTarget
from stratoflow.cloud.deploy.flow_roles import FLOW_TASKS_POLICY, FlowRoles, flow_policy
from stratoflow.cloud.runtime.flow_credentials import FlowRoleCredentials
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow
from stratoflow.states import State

pytestmark = pytest.mark.slow

NAMESPACE = "tests.roles"
BUCKET = "roles-lake"

LOG_TASK = """  - id: hello
    type: Log
    message: "hi"
"""
UPLOAD_TASKS = f"""  - id: put
    type: aws.s3.Upload
    bucket: {BUCKET}
    key: "raw/{{{{ execution.id }}}}.json"
    content: {{"rows": 1}}
  - id: mark
    type: aws.s3.Upload
    bucket: {BUCKET}
    key: done/marker
    content: ok
"""


def flow(flow_id: str, *tasks: str) -> str:
    return f"id: {flow_id}\nnamespace: {NAMESPACE}\ntasks:\n" + "".join(tasks)


class Recording:
    """A boto3 client that records the operations called on it, then lets moto answer them."""

    def __init__(self, client: Any):
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name == "get_paginator":

            def paginator(operation: str) -> Any:
                self.calls.append((operation, {}))
                return attribute(operation)

            return paginator
        if name in ("exceptions", "meta") or not callable(attribute):
            return attribute

        def call(**request: Any) -> Any:
            self.calls.append((name, request))
            return attribute(**request)

        return call

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture(scope="module")
def bucket(sim: CloudSimulation) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


def role_name(sim: CloudSimulation, flow_id: str) -> str:
    return flow_role_name(sim.stack_name, NAMESPACE, flow_id)


def machine(sim: CloudSimulation, flow_id: str) -> dict[str, Any]:
    arn = sim.deployer.target(NAMESPACE, flow_id).state_machine_arn
    described: dict[str, Any] = sim.clients.stepfunctions.describe_state_machine(stateMachineArn=arn)
    return described


def role_exists(name: str) -> bool:
    iam = boto3.client("iam")
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def test_a_flow_with_aws_tasks_runs_with_its_own_role_holding_exactly_their_permissions(
    sim: CloudSimulation,
) -> None:
    # Given a flow that uploads to a bucket it names
    source = flow("uploads", LOG_TASK, UPLOAD_TASKS)

    # When it is deployed
    verdict = sim.upload("roles/uploads.yaml", source)

    # Then it has its own role, under the stack's path, capped by the boundary
    assert verdict.status == "DEPLOYED", verdict.errors
    iam = boto3.client("iam")
    name = role_name(sim, "uploads")
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == FLOW_ROLE_PATH
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == sim.settings.stratoflow_flow_boundary_arn
    # ... trusted by Step Functions for this flow's state machine only, and by the task runner
    state_machine = machine(sim, "uploads")
    arn = state_machine["stateMachineArn"]
    trust = {statement["Sid"]: statement for statement in role["AssumeRolePolicyDocument"]["Statement"]}
    assert trust["FlowStateMachine"]["Principal"] == {"Service": "states.amazonaws.com"}
    assert trust["FlowStateMachine"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": [arn, f"{arn}:*"]},
    }
    assert trust["TaskRunner"]["Principal"] == {"AWS": sim.settings.stratoflow_task_runner_role_arn}
    # ... with exactly the compiled permissions inline, and the base policy attached
    permissions = compile_flow(load_flow(source)).permissions
    assert permissions == [
        {"Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{BUCKET}/raw/*"]},
        {"Action": ["s3:PutObject"], "Resource": [f"arn:aws:s3:::{BUCKET}/done/marker"]},
    ]
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == [FLOW_TASKS_POLICY]
    inline = iam.get_role_policy(RoleName=name, PolicyName=FLOW_TASKS_POLICY)["PolicyDocument"]
    assert inline == flow_policy(permissions)
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [sim.settings.stratoflow_flow_base_policy_arn]
    # ... and the state machine runs with it
    assert state_machine["roleArn"] == role["Arn"]


def test_a_revision_that_drops_a_task_drops_its_permission(sim: CloudSimulation) -> None:
    # Given a flow with two uploads
    sim.upload("roles/shrinks.yaml", flow("shrinks", UPLOAD_TASKS))

    # When a revision keeps only the first one
    first_only = UPLOAD_TASKS.split("  - id: mark")[0]
    verdict = sim.upload("roles/shrinks.yaml", flow("shrinks", first_only))

    # Then the role's inline policy holds only its permission
    assert (verdict.status, verdict.revision) == ("DEPLOYED", 2)
    inline = boto3.client("iam").get_role_policy(
        RoleName=role_name(sim, "shrinks"), PolicyName=FLOW_TASKS_POLICY
    )["PolicyDocument"]
    assert [statement["Resource"] for statement in inline["Statement"]] == [[f"arn:aws:s3:::{BUCKET}/raw/*"]]


def test_a_revision_without_aws_tasks_moves_back_to_the_shared_role_and_deletes_its_own(
    sim: CloudSimulation,
) -> None:
    # Given a flow deployed with its own role
    sim.upload("roles/shared.yaml", flow("shared", UPLOAD_TASKS))
    assert role_exists(role_name(sim, "shared"))

    # When a revision no longer uses AWS tasks
    verdict = sim.upload("roles/shared.yaml", flow("shared", LOG_TASK))

    # Then its state machine runs with the shared role, and the flow's own role is gone
    assert (verdict.status, verdict.revision) == ("DEPLOYED", 2)
    assert machine(sim, "shared")["roleArn"] == sim.settings.stratoflow_state_machine_role_arn
    assert not role_exists(role_name(sim, "shared"))


def test_retiring_a_flow_deletes_its_role_and_a_duplicate_retirement_is_harmless(
    sim: CloudSimulation,
) -> None:
    # Given a deployed flow with its own role
    sim.upload("roles/retired.yaml", flow("retired", UPLOAD_TASKS))
    assert role_exists(role_name(sim, "retired"))

    # When its file is deleted, and the flow is retired once more
    verdict = sim.delete("roles/retired.yaml")
    sim.deployer.retire_flow(NAMESPACE, "retired")

    # Then the role is gone with the state machine
    assert verdict.status == "DELETED"
    assert not role_exists(role_name(sim, "retired"))


def test_a_flow_without_aws_tasks_keeps_the_shared_role_and_creates_nothing_in_iam(
    sim: CloudSimulation,
) -> None:
    # Given a deployer whose IAM calls are recorded
    iam = Recording(boto3.client("iam"))
    clients = AwsClients(
        s3=sim.clients.s3,
        stepfunctions=sim.clients.stepfunctions,
        cloudwatch=sim.clients.cloudwatch,
        sns=sim.clients.sns,
        iam=iam,
    )
    deployer = Deployer(sim.store, sim.settings, clients)

    # When a flow of Log tasks is deployed
    verdict = deployer.deploy_source(flow("plain", LOG_TASK), "roles/plain.yaml")

    # Then its state machine has the shared role, and IAM was only asked whether a role existed
    assert verdict.status == "DEPLOYED"
    assert machine(sim, "plain")["roleArn"] == sim.settings.stratoflow_state_machine_role_arn
    assert iam.names()
    assert [name for name in iam.names() if not name.startswith(("get_", "list_"))] == []
    assert not role_exists(role_name(sim, "plain"))


def test_permissions_beyond_what_iam_accepts_on_one_role_refuse_the_flow(sim: CloudSimulation) -> None:
    # Given a flow whose uploads name more distinct objects than one inline policy can hold
    uploads = "".join(
        f"  - {{id: put{n}, type: aws.s3.Upload, bucket: {BUCKET}, key: exports/file-{n:04}.json, content: x}}\n"
        for n in range(250)
    )

    # When it is uploaded
    verdict = sim.upload("roles/huge.yaml", flow("huge", uploads))

    # Then it is refused with the reason, and nothing was created for it
    assert verdict.status == "INVALID"
    assert "IAM accepts 10240" in verdict.errors[0]
    assert not role_exists(role_name(sim, "huge"))


def test_a_task_naming_the_stacks_own_storage_refuses_the_flow_located(sim: CloudSimulation) -> None:
    # Given a flow whose tasks read the stack's table and write its data bucket by name
    settings = sim.settings
    tasks = (
        f"  - {{id: peek, type: aws.dynamodb.GetItem, tableName: {settings.stratoflow_table_name}, "
        "key: {pk: x}}\n"
        f"  - {{id: drop, type: aws.s3.Upload, bucket: {settings.stratoflow_data_bucket}, key: k, content: x}}\n"
    )

    # When it is uploaded
    verdict = sim.upload("roles/peek.yaml", flow("peek", LOG_TASK, tasks))

    # Then it is refused, each task at its line, and no role was created for it
    assert verdict.status == "INVALID"
    reason = "is the stack's own storage: flows reach it through kv, read() and strato:// files"
    table = f"arn:aws:dynamodb:*:*:table/{settings.stratoflow_table_name}"
    assert [error.split(", not through")[0] for error in verdict.errors] == [
        f"roles/peek.yaml:7:5: task 'peek': {table} {reason}",
        f"roles/peek.yaml:8:5: task 'drop': arn:aws:s3:::{settings.stratoflow_data_bucket}/k {reason}",
    ]
    assert not role_exists(role_name(sim, "peek"))


def _run(sim: CloudSimulation, flow_id: str, source: str) -> tuple[str, State]:
    verdict = sim.upload(f"roles/{flow_id}.yaml", source)
    assert verdict.status == "DEPLOYED", verdict.errors
    response = sim.start(NAMESPACE, flow_id)
    assert response.execution_arn is not None, response.error
    run = sim.wait(response.execution_arn)
    return run.execution.id, run.execution.state


def test_the_task_runner_assumes_the_flows_role_for_its_aws_tasks_only(
    sim: CloudSimulation, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task runner whose STS calls are recorded
    sts = Recording(boto3.client("sts"))
    credentials = FlowRoleCredentials(sim.settings.stratoflow_flow_role_prefix, sim.stack_name, sts)
    monkeypatch.setattr(sim.runner, "credentials", credentials)

    # When a flow of Log tasks runs
    _, state = _run(sim, "quiet", flow("quiet", LOG_TASK))

    # Then no role was assumed
    assert state == State.SUCCESS
    assert sts.calls == []

    # When a flow with a Log task and two uploads runs
    execution_id, state = _run(sim, "runs", flow("runs", LOG_TASK, UPLOAD_TASKS))

    # Then the uploads ran with the flow's role, assumed once for the execution
    assert state == State.SUCCESS
    role_arn = boto3.client("iam").get_role(RoleName=role_name(sim, "runs"))["Role"]["Arn"]
    assert sts.calls == [
        ("assume_role", {"RoleArn": role_arn, "RoleSessionName": execution_id, "DurationSeconds": 3600})
    ]
    body = boto3.client("s3").get_object(Bucket=bucket, Key=f"raw/{execution_id}.json")["Body"].read()
    assert json.loads(body) == {"rows": 1}


def test_the_credentials_handed_to_aws_tasks_are_the_flows_assumed_role(sim: CloudSimulation) -> None:
    # Given a deployed flow with its own role
    sim.upload("roles/identity.yaml", flow("identity", UPLOAD_TASKS))
    credentials = FlowRoleCredentials(sim.settings.stratoflow_flow_role_prefix, sim.stack_name)

    # When the task runner's provider gives credentials for one of its executions
    keys = credentials.for_flow(NAMESPACE, "identity", "exec-42")

    # Then they are temporary credentials of the flow's role, for that session
    assert keys["aws_access_key_id"].startswith("ASIA")
    identity = boto3.client("sts", **keys).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::123456789012:assumed-role/{role_name(sim, 'identity')}/exec-42"


def test_a_role_changed_by_hand_converges_on_the_next_deployment(sim: CloudSimulation) -> None:
    # Given a flow's role that someone widened: another boundary, trust, inline and attached policy
    source = flow("tampered", UPLOAD_TASKS)
    sim.upload("roles/tampered.yaml", source)
    iam = boto3.client("iam")
    name = role_name(sim, "tampered")
    admin = iam.create_policy(
        PolicyName="tampered-admin",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=admin)
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=admin)
    extra = flow_policy([{"Action": ["sqs:*"], "Resource": ["*"]}])
    iam.put_role_policy(RoleName=name, PolicyName="extra", PolicyDocument=json.dumps(extra))
    everyone = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    iam.update_assume_role_policy(
        RoleName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everyone]})
    )

    # When the flow is deployed again (a new revision)
    verdict = sim.upload("roles/tampered.yaml", source + "description: again\n")

    # Then the role has exactly what the deployer gives it
    assert (verdict.status, verdict.revision) == ("DEPLOYED", 2)
    role = iam.get_role(RoleName=name)["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == sim.settings.stratoflow_flow_boundary_arn
    assert [s["Sid"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
        "FlowStateMachine",
        "TaskRunner",
    ]
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == [FLOW_TASKS_POLICY]
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [policy["PolicyArn"] for policy in attached] == [sim.settings.stratoflow_flow_base_policy_arn]


def test_with_namespace_boundaries_a_flow_role_gets_its_namespaces_nearest_one(sim: CloudSimulation) -> None:
    # Given a stack with a boundary for team.a (infra: one per namespace of the namespace grants)
    iam = boto3.client("iam")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    team_a = iam.create_policy(PolicyName="team-a-boundary", PolicyDocument=json.dumps(document))["Policy"][
        "Arn"
    ]
    settings = sim.settings.model_copy(
        update={"stratoflow_namespace_boundaries": json.dumps({"team.a": team_a})}
    )
    roles = FlowRoles(iam, settings)
    upload = [{"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::lake/raw/*"]}]

    def target(namespace: str, flow_id: str) -> FlowTarget:
        machine_arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{sim.stack_name}-{flow_id}"
        return FlowTarget(namespace, flow_id, f"{sim.stack_name}-{flow_id}", machine_arn)

    # When flows of team.a.etl (a child namespace) and of team.b get their roles
    roles.ensure(target("team.a.etl", "nested"), upload)
    roles.ensure(target("team.b", "elsewhere"), upload)

    # Then the first has team.a's boundary, the second the stack's own
    def boundary(namespace: str, flow_id: str) -> str:
        role = iam.get_role(RoleName=roles.name(target(namespace, flow_id)))["Role"]
        return str(role["PermissionsBoundary"]["PermissionsBoundaryArn"])

    assert boundary("team.a.etl", "nested") == team_a
    assert boundary("team.b", "elsewhere") == sim.settings.stratoflow_flow_boundary_arn

    # When team.a's boundary is removed from the stack's settings, the next deployment moves the role
    FlowRoles(iam, sim.settings).ensure(target("team.a.etl", "nested"), upload)
    assert boundary("team.a.etl", "nested") == sim.settings.stratoflow_flow_boundary_arn
    for namespace, flow_id in (("team.a.etl", "nested"), ("team.b", "elsewhere")):
        roles.delete(target(namespace, flow_id))
