"""The pipes of SQS triggers: the role they assume, and what the deployer may do with them."""

from __future__ import annotations

from infra_synth import Synthesized

ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
PIPES = ARN.format(service="pipes", resource="pipe/Stratoflow-*")
QUEUES = ARN.format(service="sqs", resource="*")
PIPE_ACTIONS = (
    "pipes:CreatePipe",
    "pipes:UpdatePipe",
    "pipes:DeletePipe",
    "pipes:DescribePipe",
    "pipes:StartPipe",
    "pipes:StopPipe",
    "pipes:TagResource",
)


def test_pipes_role_is_assumed_by_the_accounts_own_pipes_only(synth: Synthesized) -> None:
    # Given the role the deployer gives every pipe
    role = synth.platform.triggers.pipes_role

    # When its trust policy is read
    (trust,) = synth.resource(role)["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    # Then only EventBridge Pipes of this account, for the stack's pipes, may assume it
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Join"][1][-1] == ":pipe/Stratoflow-*"


def test_pipes_role_reads_the_regions_queues_and_invokes_only_admission(synth: Synthesized) -> None:
    # Given the pipes role and the admission function
    platform = synth.platform
    role = platform.triggers.pipes_role
    admission = f"<{synth.logical_id(platform.functions.admission)}.Arn>"

    # Then it may poll and delete messages of the account's queues in the stack's region
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert synth.resources_allowed(role, action) == [QUEUES], action
    # ... send nothing, decrypt nothing (a KMS key is the queue owner's to grant), and start only admission
    actions = {action for statement in synth.statements(role) for action in statement["Action"]}
    assert actions == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "lambda:InvokeFunction",
    }
    assert sorted(synth.resources_allowed(role, "lambda:InvokeFunction")) == [admission, f"{admission}:*"]


def test_deployer_manages_only_the_stacks_pipes_and_knows_their_role(synth: Synthesized) -> None:
    # Given the deployer's role and settings
    platform = synth.platform
    deployer = platform.functions.roles["deployer"]

    # Then it manages pipes named after the stack only, and lists them to retire a flow
    for action in PIPE_ACTIONS:
        assert synth.resources_allowed(deployer, action) == [PIPES], action
    assert synth.resources_allowed(deployer, "pipes:ListPipes") == ["*"]
    # ... and the pipes role reaches it by the variable cloud/config/settings.py reads
    environment = synth.environment(platform.functions.deployer)
    assert environment["STRATOFLOW_PIPES_ROLE_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(platform.triggers.pipes_role), "Arn"]
    }
