"""The role of one flow's pipes: it reads exactly the queues the flow's SQS triggers declare.

One stack-wide pipes role would let every pipe read any queue of the account. Instead the deployer
gives each flow with SQS triggers the role `/stratoflow/<StackName>-pipe-<hash>`
(`naming.pipe_role_name`):

- Trust: EventBridge Pipes of the stack's account, for this flow's pipes only (aws:SourceArn lists
  their ARNs), so no other pipe, not even another flow's of the same stack, can act with it.
- The inline policy `pipe-queues`: receive, delete and read the attributes of each queue the flow's
  SQS triggers declare (disabled ones too: their pipes exist, stopped), and invoke admission.
  Replaced on every deployment: a revision that drops a queue drops its permission.
- The stack's pipe-role boundary (`STRATOFLOW_PIPE_BOUNDARY_ARN`): at most those three SQS actions on
  the stack's region, decryption through SQS and invoking admission, whatever the deployer writes
  (its IAM grants allow these roles only with that boundary on them).

The role is put before the pipes (a pipe whose role cannot read its queue fails to create) and
deleted once the flow has no pipe left: on retirement, or when a revision drops its last SQS trigger.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import FLOW_ROLE_PATH, AccountRegion, pipe_role_name
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import flow_tags
from stratoflow.cloud.deploy.flow_roles import compact, policy_document

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import RoleTypeDef

log = logging.getLogger("stratoflow.deployer")

PIPE_QUEUES_POLICY = "pipe-queues"
# What a pipe does with its SQS source: poll, delete what the target accepted, read the queue's settings.
QUEUE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
_POLICY_VERSION = "2012-10-17"


def pipe_policy(queue_arns: Sequence[str], admission_arn: str) -> dict[str, Any]:
    """The `pipe-queues` policy: the declared queues and the admission function, nothing else."""
    return {
        "Version": _POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReadDeclaredQueues",
                "Effect": "Allow",
                "Action": list(QUEUE_ACTIONS),
                "Resource": sorted(set(queue_arns)),
            },
            {
                "Sid": "StartThroughAdmission",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": [admission_arn],
            },
        ],
    }


def pipe_trust_policy(account: AccountRegion, pipe_names: Sequence[str]) -> dict[str, Any]:
    """EventBridge Pipes of the stack's account, acting for these pipes only (the confused-deputy guard)."""
    return {
        "Version": _POLICY_VERSION,
        "Statement": [
            {
                "Sid": "FlowPipes",
                "Effect": "Allow",
                "Principal": {"Service": "pipes.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account.account},
                    "ArnLike": {"aws:SourceArn": sorted(account.pipe_arn(name) for name in pipe_names)},
                },
            }
        ],
    }


def pipe_role_arn(settings: Settings, namespace: str, flow_id: str) -> str:
    """The ARN of a flow's pipe role, in the pipes' account (admission's, their target)."""
    account = AccountRegion.from_arn(settings.stratoflow_admission_arn)
    return account.roles_arn() + pipe_role_name(settings.stratoflow_stack_name, namespace, flow_id)


class PipeRoles:
    """Creates, converges and deletes the pipe roles of flows; every call is safe to repeat."""

    def __init__(self, client: IAMClient, settings: Settings):
        self.client = client
        self.settings = settings

    @property
    def account(self) -> AccountRegion:
        # The pipes' account and region: admission's, their target (read when a flow has SQS triggers).
        return AccountRegion.from_arn(self.settings.stratoflow_admission_arn)

    def name(self, namespace: str, flow_id: str) -> str:
        return pipe_role_name(self.settings.stratoflow_stack_name, namespace, flow_id)

    def arn(self, namespace: str, flow_id: str) -> str:
        return pipe_role_arn(self.settings, namespace, flow_id)

    def ensure(
        self, namespace: str, flow_id: str, pipe_names: Sequence[str], queue_arns: Sequence[str]
    ) -> bool:
        """The role exists with this trust, the boundary and exactly these queues; True when created."""
        name = self.name(namespace, flow_id)
        trust = pipe_trust_policy(self.account, pipe_names)
        boundary = self.settings.stratoflow_pipe_boundary_arn
        role = self._get(name)
        created = role is None
        if role is None:
            self._create(name, namespace, flow_id, trust)
        else:
            if (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") != boundary:
                self.client.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
            if policy_document(role.get("AssumeRolePolicyDocument")) != trust:
                self.client.update_assume_role_policy(RoleName=name, PolicyDocument=compact(trust))
        policy = pipe_policy(queue_arns, self.settings.stratoflow_admission_arn)
        self.client.put_role_policy(
            RoleName=name, PolicyName=PIPE_QUEUES_POLICY, PolicyDocument=compact(policy)
        )
        for page in self.client.get_paginator("list_role_policies").paginate(RoleName=name):
            for stale in set(page["PolicyNames"]) - {PIPE_QUEUES_POLICY}:
                self.client.delete_role_policy(RoleName=name, PolicyName=stale)
        return created

    def delete(self, namespace: str, flow_id: str) -> bool:
        """Delete the role and its inline policies; False when it did not exist."""
        name = self.name(namespace, flow_id)
        try:
            for page in self.client.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy in page["PolicyNames"]:
                    self.client.delete_role_policy(RoleName=name, PolicyName=policy)
            self.client.delete_role(RoleName=name)
        except Exception as error:
            if error_code(error) == "NoSuchEntity":  # never created, or a duplicate event deleted it
                return False
            raise
        log.info("deleted pipe role %s of %s.%s", name, namespace, flow_id)
        return True

    def _get(self, name: str) -> RoleTypeDef | None:
        try:
            role = self.client.get_role(RoleName=name)["Role"]
        except Exception as error:
            if error_code(error) == "NoSuchEntity":
                return None
            raise
        return role

    def _create(self, name: str, namespace: str, flow_id: str, trust: dict[str, Any]) -> None:
        try:
            self.client.create_role(
                Path=FLOW_ROLE_PATH,
                RoleName=name,
                AssumeRolePolicyDocument=compact(trust),
                PermissionsBoundary=self.settings.stratoflow_pipe_boundary_arn,
                Description=f"Stratoflow pipes of {namespace}.{flow_id}"[:1000],
                Tags=[
                    {"Key": key, "Value": value[:256]} for key, value in flow_tags(namespace, flow_id).items()
                ],
            )
        except Exception as error:
            if error_code(error) != "EntityAlreadyExists":  # a concurrent deployment created it
                raise
            return
        log.info("created pipe role %s for %s.%s", name, namespace, flow_id)
