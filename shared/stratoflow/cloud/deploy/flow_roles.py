"""Each flow's own IAM role, with exactly the permissions its tasks declare (`CompiledFlow.permissions`).

A flow whose tasks declare IAM statements (the AWS tasks) gets the role `<StackName>-flow-<hash>` under
`/stratoflow/` (see `naming.flow_role_name`). Its state machine runs with it (native integrations such
as `ecs:runTask.sync`), and the task runner assumes it for the AWS tasks it runs (`flow_credentials`).

- Trust: states.amazonaws.com for this flow's state machine only (aws:SourceAccount, aws:SourceArn),
  and the task-runner role.
- The stack's base policy, attached: invoke the task runner and admission, child executions, the
  sync-events rule, X-Ray, log delivery (what every state machine needs).
- The inline policy `flow-tasks`: the flow's statements, replaced on every deployment, so a revision
  that drops a task drops its permission. Nothing else stays attached or inline.
- The stack's permissions boundary, which caps whatever a flow declares: the deployer may create and
  change these roles only with that boundary set (its IAM grants are conditioned on it). With
  namespace grants the stack has one boundary per namespace of the grants, allowing only that
  namespace's resources (`STRATOFLOW_NAMESPACE_BOUNDARIES`); a flow's role gets the boundary of its
  namespace's nearest entry (itself, then its parents), else the stack's boundary.

A flow without permissions keeps the shared state machine role: no role for nothing (IAM's role quota
is per account). `FlowRoleStep` runs before the state machine step (which reads `deployment.role_arn`)
and deletes the role on retirement, after the state machine is gone; `UnusedFlowRoleStep` runs after
it and deletes the role of a revision that no longer needs one, once the state machine left it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from stratoflow.cloud.config.clients import error_code
from stratoflow.cloud.config.naming import FLOW_ROLE_PATH, AccountRegion, flow_role_name
from stratoflow.cloud.config.settings import Settings
from stratoflow.cloud.deploy.deployment import Deployment, FlowTarget, Retirement
from stratoflow.errors import CompileError
from stratoflow.namespaces import parents

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import RoleTypeDef

log = logging.getLogger("stratoflow.deployer")

FLOW_TASKS_POLICY = "flow-tasks"
# IAM's limit on the inline policies of one role, counted without white space.
MAX_INLINE_POLICY_CHARS = 10_240
_POLICY_VERSION = "2012-10-17"


def flow_policy(permissions: Sequence[Mapping[str, Any]], partition: str = "aws") -> dict[str, Any]:
    """The `flow-tasks` policy: one Allow statement per statement the flow's tasks declare."""
    return {
        "Version": _POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": list(statement["Action"]),
                "Resource": [_in_partition(resource, partition) for resource in statement["Resource"]],
            }
            for statement in permissions
        ],
    }


def _in_partition(resource: str, partition: str) -> str:
    # Tasks write `arn:aws:...` (they do not know the account's partition); the deployer does.
    if partition != "aws" and resource.startswith("arn:aws:"):
        return f"arn:{partition}:{resource.removeprefix('arn:aws:')}"
    return resource


def compact(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


def check_policy_size(
    permissions: Sequence[Mapping[str, Any]], partition: str = "aws", reserved: int = 0
) -> None:
    """CompileError when the flow's statements exceed what IAM accepts inline on one role, beside
    `reserved` characters of other inline policies (a script sandbox's role has one more)."""
    size = len(compact(flow_policy(permissions, partition)))
    if size > MAX_INLINE_POLICY_CHARS - reserved:
        raise CompileError(
            f"the IAM permissions of the flow's tasks take {size} characters; IAM accepts "
            f"{MAX_INLINE_POLICY_CHARS - reserved} on one role: split the flow, or use expressions in fewer "
            "distinct resource names (one statement per task and resource is declared)"
        )


def boundary_for(namespace: str, boundaries: Mapping[str, str], default: str) -> str:
    """The boundary of a flow role of `namespace`: its own entry's, else its nearest parent's, else `default`.

    A namespace's boundary allows its parents' resources too, so the nearest entry is the widest that
    applies: the same resources `namespace_grants.patterns_for` lets the deployer name.
    """
    for name in (namespace, *parents(namespace)):
        if name in boundaries:
            return boundaries[name]
    return default


def parse_boundaries(text: str) -> dict[str, str]:
    """`STRATOFLOW_NAMESPACE_BOUNDARIES`: {namespace: managed policy ARN}; empty when unset."""
    value = json.loads(text) if text.strip() else {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("STRATOFLOW_NAMESPACE_BOUNDARIES: expected a JSON object of policy ARNs")
    return {str(namespace): arn for namespace, arn in value.items()}


def trust_policy(account: AccountRegion, state_machine_arn: str, task_runner_role_arn: str) -> dict[str, Any]:
    """Step Functions for this flow's state machine (and its versions), and the task runner. Not the
    Fargate containers' task role: their scripts run with the flow's sandbox role (`sandboxes`)."""
    return {
        "Version": _POLICY_VERSION,
        "Statement": [
            {
                "Sid": "FlowStateMachine",
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account.account},
                    "ArnLike": {"aws:SourceArn": [state_machine_arn, f"{state_machine_arn}:*"]},
                },
            },
            {
                "Sid": "TaskRunner",
                "Effect": "Allow",
                "Principal": {"AWS": task_runner_role_arn},
                "Action": "sts:AssumeRole",
            },
        ],
    }


class FlowRoles:
    """Creates, converges and deletes flow roles through IAM; every call is safe to repeat."""

    def __init__(self, client: IAMClient, settings: Settings):
        self.client = client
        self.settings = settings
        self.boundaries = parse_boundaries(settings.stratoflow_namespace_boundaries)

    def boundary(self, target: FlowTarget) -> str:
        return boundary_for(target.namespace, self.boundaries, self.settings.stratoflow_flow_boundary_arn)

    def name(self, target: FlowTarget) -> str:
        return flow_role_name(self.settings.stratoflow_stack_name, target.namespace, target.flow_id)

    def ensure(self, target: FlowTarget, permissions: Sequence[Mapping[str, Any]]) -> str:
        """The role exists with the trust, boundary, base policy and exactly `permissions`; its ARN."""
        name = self.name(target)
        account = AccountRegion.from_arn(target.state_machine_arn)
        trust = trust_policy(account, target.state_machine_arn, self.settings.stratoflow_task_runner_role_arn)
        role = self._get(name)
        if role is None:
            role = self._create(name, target, trust)
        else:
            self._converge(name, role, trust, self.boundary(target))
        self.client.put_role_policy(
            RoleName=name,
            PolicyName=FLOW_TASKS_POLICY,
            PolicyDocument=compact(flow_policy(permissions, account.partition)),
        )
        base = self.settings.stratoflow_flow_base_policy_arn
        self.client.attach_role_policy(RoleName=name, PolicyArn=base)  # attaching twice is a no-op
        for stale in self._inline_policies(name) - {FLOW_TASKS_POLICY}:
            self.client.delete_role_policy(RoleName=name, PolicyName=stale)
        for stale in self._attached_policies(name) - {base}:
            self.client.detach_role_policy(RoleName=name, PolicyArn=stale)
        return str(role["Arn"])

    def _converge(self, name: str, role: Mapping[str, Any], trust: dict[str, Any], boundary: str) -> None:
        """An existing role gets the current boundary and trust policy (IAM writes only when they differ)."""
        if (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") != boundary:
            # The operator replaced the boundary: the next deployment moves the role onto the new one.
            self.client.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)
        if policy_document(role.get("AssumeRolePolicyDocument")) != trust:
            self.client.update_assume_role_policy(RoleName=name, PolicyDocument=compact(trust))

    def delete(self, target: FlowTarget) -> bool:
        """Delete the role (its inline and attached policies first); False when it did not exist."""
        name = self.name(target)
        try:
            for policy in self._inline_policies(name):
                self._ignore_missing(self.client.delete_role_policy, RoleName=name, PolicyName=policy)
            for arn in self._attached_policies(name):
                self._ignore_missing(self.client.detach_role_policy, RoleName=name, PolicyArn=arn)
            self.client.delete_role(RoleName=name)
        except Exception as error:
            if error_code(error) == "NoSuchEntity":  # never created, or a duplicate event deleted it
                return False
            raise
        log.info("deleted role %s of %s.%s", name, target.namespace, target.flow_id)
        return True

    def _get(self, name: str) -> RoleTypeDef | None:
        try:
            role = self.client.get_role(RoleName=name)["Role"]
        except Exception as error:
            if error_code(error) == "NoSuchEntity":
                return None
            raise
        return role

    def _create(self, name: str, target: FlowTarget, trust: dict[str, Any]) -> RoleTypeDef:
        try:
            role = self.client.create_role(
                Path=FLOW_ROLE_PATH,
                RoleName=name,
                AssumeRolePolicyDocument=compact(trust),
                PermissionsBoundary=self.boundary(target),
                Description=f"Stratoflow flow {target.namespace}.{target.flow_id}"[:1000],
                Tags=[{"Key": key, "Value": value[:256]} for key, value in target.tags().items()],
            )["Role"]
        except Exception as error:
            if error_code(error) != "EntityAlreadyExists":
                raise
            existing = self._get(name)  # a concurrent deployment of the same flow created it
            if existing is None:
                raise
            return existing
        log.info("created role %s for %s.%s", name, target.namespace, target.flow_id)
        return role

    def _inline_policies(self, name: str) -> set[str]:
        pages = self.client.get_paginator("list_role_policies").paginate(RoleName=name)
        return {policy for page in pages for policy in page["PolicyNames"]}

    def _attached_policies(self, name: str) -> set[str]:
        pages = self.client.get_paginator("list_attached_role_policies").paginate(RoleName=name)
        return {policy["PolicyArn"] for page in pages for policy in page["AttachedPolicies"]}

    @staticmethod
    def _ignore_missing(call: Any, **request: Any) -> None:
        try:
            call(**request)
        except Exception as error:
            if error_code(error) != "NoSuchEntity":  # deleted meanwhile: what we wanted
                raise


def policy_document(value: Any) -> Any:
    """A policy document as IAM returns it (boto3 decodes it; a raw response holds URL-encoded JSON)."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


class FlowRoleStep:
    """Before the state machine: the flow's role when its tasks need permissions; on retirement,
    after the state machine was deleted, the role goes too."""

    name = "flow role"

    def __init__(self, roles: FlowRoles):
        self.roles = roles

    def deploy(self, deployment: Deployment) -> None:
        if deployment.permissions:
            deployment.role_arn = self.roles.ensure(deployment.target, deployment.permissions)

    def retire(self, retirement: Retirement) -> None:
        self.roles.delete(retirement.target)


class UnusedFlowRoleStep:
    """After the state machine: a revision without permissions moved it back to the shared role, so
    the flow's own role (left by an earlier revision, if any) is deleted."""

    name = "unused flow role"

    def __init__(self, roles: FlowRoles):
        self.roles = roles

    def deploy(self, deployment: Deployment) -> None:
        if deployment.role_arn is None:
            self.roles.delete(deployment.target)

    def retire(self, retirement: Retirement) -> None:
        """Nothing: `FlowRoleStep` deletes the role once the state machine is gone."""


__all__ = [
    "FLOW_TASKS_POLICY",
    "MAX_INLINE_POLICY_CHARS",
    "FlowRoleStep",
    "FlowRoles",
    "UnusedFlowRoleStep",
    "boundary_for",
    "check_policy_size",
    "flow_policy",
    "trust_policy",
]
