"""The denials every flow-role boundary carries, and the boundaries of a stack with an operator's policy.

Denials (explicit Deny statements: they refuse whatever any Allow of the role or its boundary allows):

- `NeverThePlatformsRecords`: the stack's table and its indexes, the flows bucket, the buckets of the
  stack's assets (console pages, access logs, the sandbox code) and the flows' secrets and parameters
  (`stratoflow/*`). Flows reach their records through `kv`, `read()`, `strato://` files and
  `secret()`, which the task runner checks; a grant as wide as `arn:aws:s3:::*` reaches none of them.
  (The data bucket holds the distributed-map objects a flow role needs, of its own namespace only:
  its bucket policy denies flow roles the rest, see DeployerWiring; IAM cannot subtract those objects
  from a boundary's Deny.)
- `KeysOnlyThroughTaskServices`: a KMS key only through S3, SQS, SNS or DynamoDB (`kms:ViaService`).
- `OnlyTheNamespacesGrants` (with namespace grants): nothing of the task services, role passing or
  KMS outside the namespace's patterns and the base policy's own resources.

The stack's own boundaries express the last two as what they allow (workflow_role.FlowRoleBoundary).
With `flowPermissionsBoundaryArn`, `OperatorBoundaries` makes each boundary the operator's statements
plus all three denials, written when the stack is deployed by the housekeeping function
(stratoflow.cloud.deploy.flow_boundaries explains why, rather than a second policy beside the
operator's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import CustomResource, IStableAnyProducer, Lazy, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stratoflow.cloud.deploy.flow_boundaries import RESOURCE_TYPE

from ..nag import acknowledge, wildcard_resource
from ..naming import owned_flow_boundaries_arn
from .housekeeping import Housekeeping

# What may never touch the stack's records, whatever a boundary allows.
PLATFORM_DENIED_ACTIONS = ("dynamodb:*", "s3:*", "secretsmanager:*", "ssm:*")
# The services whose task-library calls use a customer managed key on the caller's behalf.
KMS_SERVICES = ("s3", "sqs", "sns", "dynamodb")
# What those calls need of the key: S3 and SQS writes a data key, reads decrypt, DynamoDB describes it.
KMS_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey")


def kms_services(scope: Construct) -> list[str]:
    """`kms:ViaService` of the task services in the stack's region."""
    region = Stack.of(scope).region
    return [f"{service}.{region}.amazonaws.com" for service in KMS_SERVICES]


def platform_denial(resources: Sequence[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="NeverThePlatformsRecords",
        effect=iam.Effect.DENY,
        actions=list(PLATFORM_DENIED_ACTIONS),
        resources=list(resources),
    )


def kms_denial(scope: Construct) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="KeysOnlyThroughTaskServices",
        effect=iam.Effect.DENY,
        actions=["kms:*"],
        resources=["*"],
        conditions={"StringNotEquals": {"kms:ViaService": kms_services(scope)}},
    )


def grants_denial(actions: Sequence[str], allowed: Sequence[str]) -> iam.PolicyStatement:
    """Deny `actions` on every resource but `allowed` (the namespace's patterns, the base policy's)."""
    return iam.PolicyStatement(
        sid="OnlyTheNamespacesGrants",
        effect=iam.Effect.DENY,
        actions=list(actions),
        not_resources=list(dict.fromkeys(allowed)),
    )


@jsii.implements(IStableAnyProducer)
class _Produced:
    """A value computed at synthesis, once every construct added what it must (CDK's `Lazy`)."""

    def __init__(self, produce: Callable[[], Any]):
        self._produce = produce

    def produce(self) -> Any:
        return self._produce()


class OperatorBoundaries(Construct):
    """One boundary per key ("default", and one per namespace of the grants): the operator's policy
    and `denials()[key]`, written by the housekeeping function; `arn(key)` waits for it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        housekeeping: Housekeeping,
        operator_arn: str,
        denials: Callable[[], Mapping[str, list[iam.PolicyStatement]]],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        policies = owned_flow_boundaries_arn(self)
        statements = [
            iam.PolicyStatement(
                sid="ReadOperatorBoundary",
                actions=["iam:GetPolicy", "iam:GetPolicyVersion"],
                resources=[operator_arn],
            ),
            iam.PolicyStatement(
                sid="WriteFlowBoundaries",
                actions=[
                    "iam:CreatePolicy",
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicyVersion",
                    "iam:ListPolicyVersions",
                    "iam:GetPolicyVersion",
                    "iam:DeletePolicy",
                ],
                resources=[policies],
            ),
            iam.PolicyStatement(sid="ListFlowBoundaries", actions=["iam:ListPolicies"], resources=["*"]),
        ]
        for statement in statements:
            housekeeping.role.add_to_principal_policy(statement)
        acknowledge(
            housekeeping.role,
            "The flow-role boundaries that hold the operator's policy are the stack's own managed policies "
            "'/stratoflow/<StackName>-flow-boundary-<key>', written when the stack is deployed; listing "
            "policies takes no resource.",
            wildcard_resource(housekeeping.role, policies),
            wildcard_resource(housekeeping.role, "*"),
        )

        def properties() -> dict[str, list[dict[str, Any]]]:
            return {
                key: [statement.to_statement_json() for statement in found]
                for key, found in denials().items()
            }

        self.resource = CustomResource(
            self,
            "Resource",
            service_token=housekeeping.service_token,
            resource_type=RESOURCE_TYPE,
            properties={
                "StackName": stack.stack_name,
                "OperatorPolicyArn": operator_arn,
                "Denials": Lazy.any(_Produced(properties)),
            },
        )

    def arn(self, key: str) -> str:
        return self.resource.get_att_string(key)
