"""Each flow's own role, as the stack prepares it: the base policy, the permissions boundary, what the
deployer may do to flow roles, and the task runner's right to assume them."""

from __future__ import annotations

import hashlib
from fnmatch import fnmatchcase
from typing import Any

import pytest
from infra_synth import CUSTOM_CONTEXT, Synthesized
from stratoflow._platform.infra.config import ConfigError, StackConfig
from stratoflow._platform.infra.nag import render_cfn

from stratoflow.compiler import compile_flow
from stratoflow.flow import load_flow, registry

FLOW_ROLES = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/{stack}-flow-*"

# One task of every AWS type, with the options that add actions (versions, deletes, ECS roles...).
EVERY_AWS_TASK = """id: every-aws-task
namespace: tests.boundary
tasks:
  - {id: up, type: aws.s3.Upload, bucket: b, key: k, content: x}
  - {id: down, type: aws.s3.Download, bucket: b, key: k, versionId: v}
  - {id: ls, type: aws.s3.List, bucket: b}
  - {id: cp, type: aws.s3.Copy, from: {bucket: b, key: k, versionId: v}, to: {key: k2}, delete: true}
  - {id: rm, type: aws.s3.Delete, bucket: b, key: k, versionId: v}
  - {id: put, type: aws.dynamodb.PutItem, tableName: t, item: {id: 1}}
  - {id: get, type: aws.dynamodb.GetItem, tableName: t, key: {id: 1}}
  - {id: query, type: aws.dynamodb.Query, tableName: t, indexName: i, keyConditionExpression: "id = :id"}
  - {id: sqs, type: aws.sqs.Publish, queueUrl: "https://sqs.us-east-1.amazonaws.com/1/q", messages: [{data: x}]}
  - {id: sns, type: aws.sns.Publish, topicArn: "arn:aws:sns:us-east-1:1:t", message: x}
  - id: events
    type: aws.eventbridge.PutEvents
    entries: [{source: s, detailType: d, detail: {}, eventBusName: bus}]
  - {id: fn, type: aws.lambda.Invoke, functionArn: f}
  - id: athena
    type: aws.athena.Query
    query: SELECT 1
    database: db
    outputLocation: s3://results/q/
    dataLocations: [s3://lake/data/]
  - id: ecs
    type: aws.ecs.RunTask
    cluster: c
    taskDefinition: td
    subnets: [subnet-1]
    passRoles: ["arn:aws:iam::1:role/task"]
  - {id: batch, type: aws.batch.SubmitJob, jobQueue: q, jobDefinition: d}
  - {id: mail, type: aws.ses.SendEmail, from: a@example.com, to: b@example.com, plainTextContent: t}
  - {id: cli, type: aws.cli.AwsCLI, commands: [aws s3 ls]}
"""


def _role(synth: Synthesized, name: str) -> Any:
    return synth.platform.functions.roles[name]


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"]
        found.append({**statement, "Action": [actions] if isinstance(actions, str) else actions})
    return found


def test_the_base_policy_is_managed_attached_to_the_shared_role_and_given_to_the_deployer(
    synth: Synthesized,
) -> None:
    platform = synth.platform
    state_machines = platform.deployer.state_machine_role
    base = synth.resource(state_machines.base_policy)

    assert base["Type"] == "AWS::IAM::ManagedPolicy"
    assert base["Properties"]["Roles"] == [{"Ref": synth.logical_id(state_machines.role)}]
    # S3: only what a distributed Map reads (its items) and writes (its results), in the data bucket:
    # the base policy, those of the role's own namespace (its tag); the shared role, every namespace's
    data = synth.logical_id(platform.storage.data_bucket)
    own = "${aws:PrincipalTag/stratoflow:namespace}"
    assert set(synth.resources_allowed(state_machines.role, "s3:PutObject")) == {
        f"<{data}.Arn>/map-results/*/*",
        f"<{data}.Arn>/map-results/{own}/*",
    }
    assert set(synth.resources_allowed(state_machines.role, "s3:GetObject")) == {
        f"<{data}.Arn>/*/*/executions/*/items.json",
        f"<{data}.Arn>/map-results/*/*",
        f"<{data}.Arn>/map-results/{own}/*",
        f"<{data}.Arn>/{own}/*/executions/*/items.json",
    }
    # ... the policy variable written literally in the template, for IAM (not CloudFormation) to fill
    items = next(s for s in _statements(base) if s["Sid"] == "DistributedMapItems")["Resource"]
    assert items == {
        "Fn::Join": [
            "",
            [
                {"Fn::GetAtt": [data, "Arn"]},
                "/${aws:PrincipalTag/stratoflow:namespace}/*/executions/*/items.json",
            ],
        ]
    }
    shared = synth.resource(state_machines.shared_policy)
    assert shared["Properties"]["Roles"] == [{"Ref": synth.logical_id(state_machines.role)}]
    environment = synth.environment(platform.functions.deployer)
    assert environment["STRATOFLOW_FLOW_BASE_POLICY_ARN"] == {
        "Ref": synth.logical_id(state_machines.base_policy)
    }
    assert environment["STRATOFLOW_FLOW_BOUNDARY_ARN"] == {
        "Ref": synth.logical_id(platform.deployer.flow_role_boundary.policy)
    }
    assert environment["STRATOFLOW_TASK_RUNNER_ROLE_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(_role(synth, "task_runner")), "Arn"]
    }


def test_the_boundary_is_attached_to_nothing_and_holds_the_base_policy_and_the_task_services(
    synth: Synthesized,
) -> None:
    platform = synth.platform
    boundary = synth.resource(platform.deployer.flow_role_boundary.policy)
    base = synth.resource(platform.deployer.state_machine_role.base_policy)
    statements = {statement["Sid"]: statement for statement in _statements(boundary)}

    assert not {"Roles", "Users", "Groups"} & set(boundary["Properties"])
    for statement in _statements(base):
        assert statements[statement["Sid"]] == statement
    assert set(statements["TaskServices"]["Action"]) == {
        "s3:*",
        "dynamodb:*",
        "sqs:*",
        "sns:*",
        "athena:*",
        "glue:*",
        "ecs:*",
        "batch:*",
        "events:PutEvents",
        "lambda:InvokeFunction",
        "ses:SendRawEmail",
    }
    assert statements["PassRolesToEcsTasks"]["Action"] == ["iam:PassRole"]
    assert statements["PassRolesToEcsTasks"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    # Only the boundary names whole services, and it grants nothing by itself
    for logical_id, policy in synth.resources("AWS::IAM::ManagedPolicy").items():
        if logical_id != synth.logical_id(platform.deployer.flow_role_boundary.policy):
            actions = [action for statement in _statements(policy) for action in statement["Action"]]
            assert not [action for action in actions if action == "*" or action.endswith(":*")], logical_id


def test_the_boundary_allows_every_action_the_task_library_declares(synth: Synthesized) -> None:
    # Given a flow with one task of every registered AWS type
    flow = load_flow(EVERY_AWS_TASK)
    assert {task.type for task in flow.tasks} == {
        name for name in registry.names() if name.startswith("aws.")
    }

    # When it is compiled, Then the boundary allows each action its tasks declare
    boundary = synth.resource(synth.platform.deployer.flow_role_boundary.policy)
    allowed = [action for statement in _statements(boundary) for action in statement["Action"]]
    declared = {action for statement in compile_flow(flow).permissions for action in statement["Action"]}
    assert declared
    assert [action for action in sorted(declared) if not any(fnmatchcase(action, a) for a in allowed)] == []


def test_the_deployer_writes_flow_roles_only_with_the_boundary_and_attaches_only_the_base_policy(
    synth: Synthesized,
) -> None:
    platform = synth.platform
    deployer = _role(synth, "deployer")
    flow_roles = FLOW_ROLES.format(stack="Stratoflow")
    boundary = {"Ref": synth.logical_id(platform.deployer.flow_role_boundary.policy)}
    by_action = {
        action: statement
        for statement in synth.statements(deployer)
        for action in statement["Action"]
        # The pipe roles' statements: tests/infrastructure/test_infra_pipes.py
        if action.startswith("iam:")
        and action != "iam:PassRole"
        and not statement["Sid"].endswith("PipeRoles")
        and statement["Sid"] != "WritePipeRolesWithinBoundary"
    }

    assert set(by_action) == {
        "iam:CreateRole",
        "iam:PutRolePermissionsBoundary",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:AttachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:TagRole",
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:DeleteRole",
    }
    for action, statement in by_action.items():
        assert render_cfn(statement["Resource"]) == flow_roles, action
    for action in ("iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"):
        assert by_action[action]["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    assert by_action["iam:AttachRolePolicy"]["Condition"] == {
        "StringEquals": {
            "iam:PermissionsBoundary": boundary,
            "iam:PolicyARN": {"Ref": synth.logical_id(platform.deployer.state_machine_role.base_policy)},
        }
    }
    assert flow_roles in synth.resources_allowed(deployer, "iam:PassRole")


def test_only_the_task_runner_assumes_flow_roles(synth: Synthesized) -> None:
    task_runner = synth.platform.functions.task_runner
    environment = synth.environment(task_runner)

    assert synth.resources_allowed(_role(synth, "task_runner"), "sts:AssumeRole") == [
        FLOW_ROLES.format(stack="Stratoflow")
    ]
    assert render_cfn(environment["STRATOFLOW_FLOW_ROLE_PREFIX"]) == (
        "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/"
    )
    for name in ("deployer", "admission", "execution_events", "webhook"):
        assert synth.resources_allowed(_role(synth, name), "sts:AssumeRole") == [], name


def test_an_operators_boundary_is_composed_with_the_stacks_denials_per_namespace(
    custom_synth: Synthesized,
) -> None:
    # Given the stack with an operator's boundary and grants for team.a
    operators = CUSTOM_CONTEXT["flowPermissionsBoundaryArn"]
    platform = custom_synth.platform
    boundary = platform.deployer.flow_role_boundary
    environment = custom_synth.environment(platform.functions.deployer)
    deployer_statements = custom_synth.statements(_role(custom_synth, "deployer"))
    create = next(s for s in deployer_statements if "iam:CreateRole" in s["Action"])
    assert boundary.operator is not None
    composer = custom_synth.logical_id(boundary.operator.resource)
    resource = custom_synth.cfn["Resources"][composer]

    # Then the housekeeping function writes one boundary per key from the operator's policy and the
    # stack's denials (what they allow: tests/security/test_iam_attacks.py)
    assert resource["Type"] == "Custom::StratoflowFlowBoundaries"
    assert resource["Properties"]["OperatorPolicyArn"] == operators
    denials = resource["Properties"]["Denials"]
    assert sorted(denials) == ["default", "n" + hashlib.sha256(b"team.a").hexdigest()[:8]]
    for key, statements in denials.items():
        sids = [statement["Sid"] for statement in statements]
        assert sids == [
            "NeverThePlatformsRecords",
            "KeysOnlyThroughTaskServices",
            # the stack runs containers: the assets bucket to every flow role but the sandbox roles
            "NeverTheAssetsButSandboxCode",
            "OnlyTheNamespacesGrants",
        ], key
        assert all(statement["Effect"] == "Deny" for statement in statements)
        assets = statements[2]
        assert list(assets["Condition"]["ArnNotLike"]) == ["aws:PrincipalArn"]
        assert render_cfn(assets["Condition"]["ArnNotLike"]["aws:PrincipalArn"]).endswith(
            ":role/stratoflow/StratoDev-flow-*-s"
        )
    # ... the deployer gives flow roles those, and may create roles with those only
    assert environment["STRATOFLOW_FLOW_BOUNDARY_ARN"] == {"Fn::GetAtt": [composer, "default"]}
    allowed = create["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
    assert sorted(map(str, allowed)) == sorted(map(str, [{"Fn::GetAtt": [composer, key]} for key in denials]))
    assert operators not in map(str, allowed)
    assert render_cfn(create["Resource"]) == FLOW_ROLES.format(stack="StratoDev")
    # ... and the stack makes no boundary of its own for flow roles (the pipe roles keep theirs)
    managed = custom_synth.resources("AWS::IAM::ManagedPolicy")
    assert sorted(managed) == sorted(
        custom_synth.logical_id(policy)
        for policy in (platform.deployer.state_machine_role.base_policy, platform.triggers.pipe_role_boundary)
    )


@pytest.mark.parametrize(
    "value", ["arn:aws:iam::aws:policy/AdministratorAccess", "FlowBoundary", "arn:aws:iam::123:role/r"]
)
def test_a_boundary_that_is_not_a_managed_policy_of_an_account_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="flowPermissionsBoundaryArn"):
        StackConfig.from_mapping({"flowPermissionsBoundaryArn": value})
    assert StackConfig.from_mapping({}).props.flow_permissions_boundary_arn is None
