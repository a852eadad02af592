"""The pipes of SQS triggers: the boundary of the roles the deployer gives them, and what the deployer
may do with pipes and those roles (the roles themselves: tests/integration/test_sqs_triggers_moto.py)."""

from __future__ import annotations

from typing import Any

from infra_synth import Synthesized
from stratoflow._platform.infra.nag import render_cfn

ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
PIPES = ARN.format(service="pipes", resource="pipe/Stratoflow-*")
QUEUES = ARN.format(service="sqs", resource="*")
PIPE_ROLES = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/Stratoflow-pipe-*"
PIPE_ACTIONS = (
    "pipes:CreatePipe",
    "pipes:UpdatePipe",
    "pipes:DeletePipe",
    "pipes:DescribePipe",
    "pipes:StartPipe",
    "pipes:StopPipe",
    "pipes:TagResource",
)


def boundary_statements(synth: Synthesized) -> list[dict[str, Any]]:
    policy = synth.cfn["Resources"][synth.logical_id(synth.platform.triggers.pipe_role_boundary)]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_no_stack_wide_role_reads_the_accounts_queues(synth: Synthesized) -> None:
    # Given every role and inline or managed policy attached to one
    readers = []
    policies = {**synth.resources("AWS::IAM::Policy"), **synth.resources("AWS::IAM::ManagedPolicy")}
    for logical_id, policy in policies.items():
        if not policy["Properties"].get("Roles"):
            continue  # a boundary, or the flow roles' base policy: attached to no role of the template
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "sqs:ReceiveMessage" in actions:
                readers.append(logical_id)

    # Then none may receive messages: only the pipe roles the deployer creates per flow do
    assert readers == []


def test_the_pipe_role_boundary_caps_a_pipe_role_at_queues_decryption_through_sqs_and_admission(
    synth: Synthesized,
) -> None:
    # Given the boundary the deployer puts on every flow's pipe role
    statements = {statement["Sid"]: statement for statement in boundary_statements(synth)}
    admission = f"<{synth.logical_id(synth.platform.functions.admission)}.Arn>"

    # Then it allows reading the region's queues, kms:Decrypt only through SQS, and invoking admission
    assert set(statements) == {"ReadQueues", "DecryptQueueMessages", "StartThroughAdmission"}
    assert sorted(statements["ReadQueues"]["Action"]) == [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    assert render_cfn(statements["ReadQueues"]["Resource"]) == QUEUES
    assert statements["DecryptQueueMessages"]["Action"] == "kms:Decrypt"
    (via,) = statements["DecryptQueueMessages"]["Condition"]["StringEquals"].values()
    assert render_cfn(via) == "sqs.<AWS::Region>.amazonaws.com"
    assert render_cfn(statements["StartThroughAdmission"]["Resource"]) == admission


def test_deployer_manages_only_the_stacks_pipes_and_their_roles_within_the_boundary(
    synth: Synthesized,
) -> None:
    # Given the deployer's role and settings
    platform = synth.platform
    deployer = platform.functions.roles["deployer"]
    statements = {statement.get("Sid"): statement for statement in synth.statements(deployer)}

    # Then it manages pipes named after the stack only, and lists them to retire a flow
    for action in PIPE_ACTIONS:
        assert synth.resources_allowed(deployer, action) == [PIPES], action
    assert synth.resources_allowed(deployer, "pipes:ListPipes") == ["*"]
    # ... writes pipe roles only with the pipe-role boundary on them, and passes them to Pipes only
    writes = statements["WritePipeRolesWithinBoundary"]
    assert render_cfn(writes["Resource"]) == PIPE_ROLES
    assert writes["Condition"]["StringEquals"]["iam:PermissionsBoundary"] == {
        "Ref": synth.logical_id(platform.triggers.pipe_role_boundary)
    }
    assert "iam:AttachRolePolicy" not in writes["Action"]
    passes = statements["PassPipeRoles"]
    assert render_cfn(passes["Resource"]) == PIPE_ROLES
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "pipes.amazonaws.com"}}
    # ... and reads the boundary by the variable cloud/config/settings.py reads
    environment = synth.environment(platform.functions.deployer)
    assert environment["STRATOFLOW_PIPE_BOUNDARY_ARN"] == {
        "Ref": synth.logical_id(platform.triggers.pipe_role_boundary)
    }
    assert "STRATOFLOW_PIPES_ROLE_ARN" not in environment
