"""The flow roles' permissions boundaries: the most a flow's role can ever be granted.

By default the services of the task library on every resource but the stack's own table and buckets,
KMS keys through those services, plus the base policy (workflow_role.StateMachineRole); one per
namespace of `namespaceGrants`; every one denies the stack's records outright (operator_boundary).
With `flowPermissionsBoundaryArn` each is the operator's policy plus the stack's denials.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from aws_cdk import Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from stratoflow.cloud.deploy.namespace_grants import ALL_NAMESPACES, patterns_for

from ..nag import acknowledge, wildcard_actions, wildcard_resource
from .housekeeping import Housekeeping
from .operator_boundary import (
    KMS_ACTIONS,
    OperatorBoundaries,
    grants_denial,
    kms_denial,
    kms_services,
    platform_denial,
)
from .workflow_role import (
    CONTAINER_TASKS,
    DISTRIBUTED_MAP_OBJECTS,
    NATIVE_SYNC_RULE_ACTIONS,
    NATIVE_SYNC_RULES,
    OWN_NAMESPACE,
    TASK_SERVICE_ACTIONS,
    StateMachineRole,
    rule_arn,
)


class FlowRoleBoundary(Construct):
    """The permissions boundary of every flow role: what an uploaded flow can never go beyond.

    Without namespace grants: one boundary, the task library's services on any resource but the
    stack's own table and buckets (`platform_storage`). With them
    (`namespaceGrants`), one boundary per namespace of the grants, allowing those services only on
    the resources that namespace may be granted (its entry's, its parents' and `"*"`'s patterns),
    and `policy` is the boundary of namespaces without an entry (`"*"`'s patterns, or none). A
    deployer bug that writes a flow role a resource its namespace is not granted is then refused by
    IAM, not only by the deployer's own check. With an operator's policy (`replacement_arn`) the same
    keys, each the operator's statements and the stack's `denials` (operator_boundary).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_role: StateMachineRole,
        platform_storage: Sequence[str] = (),
        platform_records: Sequence[str] = (),
        replacement_arn: str | None = None,
        grants: Mapping[str, Sequence[str]] | None = None,
        housekeeping: Housekeeping | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.state_machine_role = state_machine_role
        # The stack's own table and buckets: a boundary allowing the task services on any resource
        # allows them on every resource but these, so a flow that names them (a wildcard, or the
        # table's name from the stack's outputs) cannot read other namespaces' records around the
        # task runner's checks. The base statements still allow what distributed maps need there.
        self.platform_storage = list(platform_storage)
        # ... and the table, the flows bucket, the assets' buckets and the secrets (no base statement
        # needs them) are denied outright, so a namespace granted a pattern as wide as `arn:aws:s3:::*`
        # still cannot write flows or read records (`never_reach` adds the ones made later).
        self.platform_records = list(platform_records)
        self._platform_denials: list[iam.PolicyStatement] = []
        # Denials other parts of the stack add to every boundary (`also_deny`), operator-based included.
        self._extra_denials: list[iam.PolicyStatement] = []
        # Boundary by namespace of the grants (the namespaces without an entry get `policy`).
        self.namespace_policies: dict[str, iam.IManagedPolicy] = {}
        self.operator: OperatorBoundaries | None = None
        if replacement_arn is not None:
            self._compose_with_operator(replacement_arn, grants, housekeeping)
            return
        if grants is None:
            self.policy = self._boundary("Policy", ["*"], "each flow's role")
            return
        self.policy = self._boundary(
            "Policy", patterns_for(grants, ALL_NAMESPACES), "flow roles of namespaces without grants"
        )
        for namespace in sorted(set(grants) - {ALL_NAMESPACES}):
            digest = hashlib.sha256(namespace.encode()).hexdigest()[:8]
            self.namespace_policies[namespace] = self._boundary(
                f"Namespace{digest}",
                patterns_for(grants, namespace),
                f"flow roles of namespace {namespace}"[:900],
            )

    def _compose_with_operator(
        self, operator_arn: str, grants: Mapping[str, Sequence[str]] | None, housekeeping: Housekeeping | None
    ) -> None:
        """Each boundary is the operator's policy plus the stack's denials (operator_boundary): the
        namespace of a role is held to its grants in IAM whatever the operator's policy allows."""
        if housekeeping is None:
            raise ValueError("an operator's boundary is written by the housekeeping function")
        keys: dict[str, list[str] | None] = {"default": None}
        namespaces: dict[str, str] = {}
        if grants is not None:
            keys["default"] = patterns_for(grants, ALL_NAMESPACES)
            for namespace in sorted(set(grants) - {ALL_NAMESPACES}):
                digest = hashlib.sha256(namespace.encode()).hexdigest()[:8]
                keys[f"n{digest}"], namespaces[namespace] = patterns_for(grants, namespace), f"n{digest}"

        def denials() -> dict[str, list[iam.PolicyStatement]]:
            return {key: self.denials(patterns) for key, patterns in keys.items()}

        self.operator = OperatorBoundaries(
            self, "Operator", housekeeping=housekeeping, operator_arn=operator_arn, denials=denials
        )
        self.policy: iam.IManagedPolicy = iam.ManagedPolicy.from_managed_policy_arn(
            self, "Policy", self.operator.arn("default")
        )
        for namespace, key in namespaces.items():
            self.namespace_policies[namespace] = iam.ManagedPolicy.from_managed_policy_arn(
                self, f"Namespace{key[1:]}", self.operator.arn(key)
            )

    def denials(self, patterns: Sequence[str] | None) -> list[iam.PolicyStatement]:
        """The Deny statements a boundary built on the operator's policy carries: the stack's records,
        KMS outside the task services, and with grants (`patterns`) the task services, role passing
        and keys outside the namespace's patterns and the base policy's resources."""
        found = [platform_denial(self.platform_records), kms_denial(self), *self._extra_denials]
        if patterns is not None:
            # The base policy's map objects name the role's namespace through its tag; here any
            # namespace's (a Deny whose NotResource holds a variable IAM cannot resolve may not apply
            # at all): the data bucket's own policy keeps a role to its namespace's objects.
            base = [
                resource.replace(OWN_NAMESPACE, "*")
                for statement in self.state_machine_role.base_statements()
                for resource in statement.resources
                if resource != "*"
            ]
            actions = [*TASK_SERVICE_ACTIONS, "iam:PassRole", "kms:*"]
            found.append(grants_denial(actions, [*patterns, *base]))
        return found

    def also_deny(self, statement: iam.PolicyStatement) -> None:
        """Add a Deny statement to every flow-role boundary: the stack's own, and those composed with
        an operator's policy (whose denials are written when the stack is deployed)."""
        self._extra_denials.append(statement)
        for policy in (self.policy, *self.namespace_policies.values()):
            if isinstance(policy, iam.ManagedPolicy):
                policy.add_statements(statement)

    def never_reach(self, *resources: str) -> None:
        """Deny flow roles these resources of the stack too (made after the boundaries)."""
        self.platform_records.extend(resources)
        for statement in self._platform_denials:
            statement.add_resources(*resources)

    def _boundary(self, construct_id: str, resources: Sequence[str], whose: str) -> iam.ManagedPolicy:
        state_machine_role = self.state_machine_role
        native_rules = rule_arn(self, NATIVE_SYNC_RULES)
        granted = []
        if "*" in resources and self.platform_storage:
            granted.append(
                iam.PolicyStatement(
                    sid="TaskServices",
                    actions=list(TASK_SERVICE_ACTIONS),
                    not_resources=self.platform_storage,
                )
            )
        elif resources:
            granted.append(
                iam.PolicyStatement(
                    sid="TaskServices", actions=list(TASK_SERVICE_ACTIONS), resources=list(resources)
                )
            )
        if self.platform_records:
            denial = platform_denial(self.platform_records)
            self._platform_denials.append(denial)
            granted.append(denial)
        # Customer managed keys of the namespace's patterns, only as the task services use them.
        keys = [
            r
            for r in resources
            if r == "*" or Token.is_unresolved(r) or r.split(":")[2:3] in (["kms"], ["*"])
        ]
        if keys:
            granted.append(
                iam.PolicyStatement(
                    sid="KeysThroughTaskServices",
                    actions=list(KMS_ACTIONS),
                    resources=keys,
                    conditions={"StringEquals": {"kms:ViaService": kms_services(self)}},
                )
            )
        # Only patterns that can name a role (IAM allows 6,144 characters in a managed policy).
        roles = [
            r
            for r in resources
            if r == "*" or Token.is_unresolved(r) or r.split(":")[2:3] in (["iam"], ["*"])
        ]
        if roles:
            granted.append(
                iam.PolicyStatement(
                    sid="PassRolesToEcsTasks",
                    actions=["iam:PassRole"],
                    resources=roles,
                    conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                )
            )
        policy = iam.ManagedPolicy(
            self,
            construct_id,
            description=f"Stratoflow: the permissions boundary of {whose}",
            statements=[
                *state_machine_role.base_statements(),
                *granted,
                iam.PolicyStatement(
                    sid="NativeIntegrationRules",
                    actions=list(NATIVE_SYNC_RULE_ACTIONS),
                    resources=[native_rules],
                ),
            ],
        )
        findings = [
            *sorted({wildcard_resource(self, resource) for resource in resources if "*" in resource}),
            *(wildcard_actions(*(a for a in TASK_SERVICE_ACTIONS if a.endswith(":*"))) if resources else ()),
            *(wildcard_actions(*(a for a in KMS_ACTIONS if a.endswith("*"))) if keys else ()),
        ]
        if findings:
            acknowledge(
                policy,
                "A permissions boundary grants nothing by itself: it caps the flow roles, whose inline policy "
                "names each task's actions and the resources the flow names. The boundary keeps them within "
                "the services the task library calls on the resources the namespace may be granted ('*' "
                "without namespace grants), with role passing to ECS tasks only and KMS keys only through "
                "S3, SQS, SNS and DynamoDB (kms:ViaService).",
                *findings,
            )
        acknowledge(
            policy,
            "Same as the base policy: the platform functions' versions and aliases, the stack's own "
            "state machines and executions ('<StackName>-...'), and the managed rules Step Functions "
            "keeps for its .sync integrations ('StepFunctionsGetEventsFor...').",
            *(
                wildcard_resource(self, arn)
                for arn in (
                    *(arn for arn in state_machine_role.invoked_arns if arn.endswith(":*")),
                    state_machine_role.state_machines_arn,
                    state_machine_role.executions_arn,
                    native_rules,
                )
            ),
        )
        acknowledge(policy, DISTRIBUTED_MAP_OBJECTS, *state_machine_role.distributed_map_findings(self))
        if state_machine_role.containers is not None:
            acknowledge(policy, CONTAINER_TASKS, *state_machine_role.containers.nag_findings(self))
        if "*" not in resources:
            acknowledge(
                policy,
                "X-Ray's trace actions and CloudWatch Logs' log-delivery actions take no resource ('*'); "
                "Step Functions needs them to trace and log executions.",
                wildcard_resource(self, "*"),
            )
        return policy

    @property
    def arn(self) -> str:
        """The boundary of flows without a namespace boundary of their own (all flows without grants)."""
        return self.policy.managed_policy_arn

    @property
    def namespace_arns(self) -> dict[str, str]:
        return {namespace: policy.managed_policy_arn for namespace, policy in self.namespace_policies.items()}

    @property
    def arns(self) -> list[str]:
        """Every boundary a flow role may be given."""
        return [self.arn, *self.namespace_arns.values()]
