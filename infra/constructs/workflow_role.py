"""The roles flows' state machines run with, and what the stack gives every flow's own role.

- The base policy (a customer managed policy): what every state machine needs, whatever its tasks:
  invoke the task runner and admission, run and follow child executions, the sync-events rule, X-Ray
  and log delivery. The shared role holds it; the deployer attaches it to each flow role.
- The shared role: flows whose tasks need no AWS permission run with it. It has no namespace tag, so
  it gets every namespace's distributed-map objects in a policy of its own (the base policy grants a
  flow role only its namespace's).
- The flow roles' permissions boundary: the most a flow's role can ever be granted, whatever its tasks
  declare (stratoflow.cloud.deploy.flow_roles). By default the services of the task library on every
  resource but the stack's own table and buckets, KMS keys through those services, plus the base
  policy; every boundary denies the stack's records outright (operator_boundary). With the context
  value `flowPermissionsBoundaryArn` each boundary is the operator's policy plus the stack's denials.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stratoflow.cloud.deploy.deployment import NAMESPACE_TAG
from stratoflow.cloud.deploy.namespace_grants import ALL_NAMESPACES, patterns_for
from stratoflow.storage_layout import LOOP_ITEMS, MAP_RESULTS_PREFIX

from ..grants import service_for
from ..nag import acknowledge, wildcard_actions, wildcard_resource
from ..naming import owned_executions_arn, owned_state_machines_arn
from .containers import Containers
from .housekeeping import Housekeeping
from .operator_boundary import (
    KMS_ACTIONS,
    OperatorBoundaries,
    grants_denial,
    kms_denial,
    kms_services,
    platform_denial,
)

# Step Functions keeps this managed rule to learn when a `.sync` child execution ends.
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"
# ... and one such rule per service for the native `.sync` task integrations (ECS, Batch).
NATIVE_SYNC_RULES = "StepFunctionsGetEventsFor*"

# Log delivery for state machine logging; CloudWatch Logs takes "*" for these actions.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
XRAY_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
# The services the task library calls (stratoflow.tasks.aws): its tasks declare narrower statements,
# the boundary only caps them. Athena reads its catalog from Glue.
TASK_SERVICE_ACTIONS = (
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
)
NATIVE_SYNC_RULE_ACTIONS = ("events:PutTargets", "events:PutRule", "events:DescribeRule")


CONTAINER_TASKS = (
    "Container-run script tasks: any revision of the stack's one task definition, and the tasks of the "
    "stack's own cluster, which Step Functions follows and stops."
)

DISTRIBUTED_MAP_OBJECTS = (
    "A distributed Map reads the items file the task runner wrote in any execution's folder of its "
    "role's namespace (the role's stratoflow:namespace tag), and writes its results under "
    "map-results/<that namespace>/ with names Step Functions chooses."
)
SHARED_DISTRIBUTED_MAP_OBJECTS = (
    "The shared state machine role runs the flows whose tasks need no AWS permission, of every "
    "namespace; no task or script holds it. Its distributed Maps read the items file in any "
    "execution's folder and write results under map-results/ with names Step Functions chooses."
)
# A flow role's own namespace, as IAM reads it from the role's tag (CloudFormation leaves `${aws:...}`
# alone in a Fn::Join). A role without the tag (the shared role) matches nothing through it.
OWN_NAMESPACE = "${aws:PrincipalTag/" + NAMESPACE_TAG + "}"


def _rule_arn(scope: Construct, name: str) -> str:
    return Stack.of(scope).format_arn(
        service="events", resource="rule", resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


class StateMachineRole(Construct):
    """The base policy every flow's state machine needs, and the shared role that holds it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        invoked_functions: Sequence[lambda_.IFunction],
        data_bucket: s3.IBucket,
        containers: Containers | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.data_bucket = data_bucket
        self.containers = containers
        self.state_machines_arn = owned_state_machines_arn(self)
        self.executions_arn = owned_executions_arn(self)
        self.invoked_arns = [
            arn
            for function in invoked_functions
            for arn in (function.function_arn, f"{function.function_arn}:*")
        ]
        self.base_policy = iam.ManagedPolicy(
            self,
            "BasePolicy",
            description="Stratoflow: what every flow's state machine needs, attached to each flow's role",
            statements=self.base_statements(),
        )
        self.role = iam.Role(
            self,
            "Role",
            description="Stratoflow flows' state machines (flows whose tasks need no AWS permission)",
            assumed_by=service_for(self, "states.amazonaws.com", self.state_machines_arn),
        )
        self.base_policy.attach_to_role(self.role)
        # The base policy's distributed-map objects are those of the role's namespace tag, which the
        # shared role (every namespace's flows without AWS tasks) has not: it gets every namespace's.
        self.shared_policy = iam.Policy(
            self, "SharedPolicy", statements=self.distributed_map_statements("*", "EveryNamespace")
        )
        self.shared_policy.attach_to_role(self.role)
        acknowledge(
            self.shared_policy,
            SHARED_DISTRIBUTED_MAP_OBJECTS,
            *self.distributed_map_findings(self, "*"),
        )
        acknowledge(
            self.base_policy,
            "Task states invoke the task runner and admission, any version or alias (the ':*' qualifier); "
            "subflows are the stack's own flows: state machines and executions named '<StackName>-...', "
            "created when a flow is deployed.",
            *(wildcard_resource(self, arn) for arn in self.invoked_arns if arn.endswith(":*")),
            wildcard_resource(self, self.state_machines_arn),
            wildcard_resource(self, self.executions_arn),
        )
        acknowledge(self.base_policy, DISTRIBUTED_MAP_OBJECTS, *self.distributed_map_findings(self))
        if containers is not None:
            acknowledge(self.base_policy, CONTAINER_TASKS, *containers.nag_findings(self))
        acknowledge(
            self.base_policy,
            "X-Ray's trace actions and CloudWatch Logs' log-delivery actions take no resource ('*'); "
            "Step Functions needs them to trace and log executions.",
            wildcard_resource(self, "*"),
        )

    def distributed_map_objects(self, namespace: str) -> tuple[str, str]:
        """The items files and the results a distributed Map of `namespace` reads and writes."""
        return (
            self.data_bucket.arn_for_objects(f"{namespace}/*/executions/*/{LOOP_ITEMS}"),
            self.data_bucket.arn_for_objects(f"{MAP_RESULTS_PREFIX}/{namespace}/*"),
        )

    def distributed_map_statements(self, namespace: str, suffix: str = "") -> list[iam.PolicyStatement]:
        """A distributed Map reads the items the task runner wrote for it and writes its results
        (stratoflow.compiler.structure, under storage_layout.map_results_prefix), in the data bucket."""
        items, results = self.distributed_map_objects(namespace)
        return [
            iam.PolicyStatement(
                sid=f"DistributedMapItems{suffix}", actions=["s3:GetObject"], resources=[items]
            ),
            iam.PolicyStatement(
                sid=f"DistributedMapResults{suffix}",
                actions=[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:ListMultipartUploadParts",
                    "s3:AbortMultipartUpload",
                ],
                resources=[results],
            ),
        ]

    def distributed_map_findings(self, scope: Construct, namespace: str = OWN_NAMESPACE) -> list[str]:
        """cdk-nag's findings on the data-bucket objects a distributed Map reads and writes."""
        return [wildcard_resource(scope, arn) for arn in self.distributed_map_objects(namespace)]

    def base_statements(self) -> list[iam.PolicyStatement]:
        """The base policy's statements (new objects each call: the boundary repeats them)."""
        return [
            # Task states call the task runner; subflow starts go through admission.
            iam.PolicyStatement(
                sid="InvokePlatformFunctions", actions=["lambda:InvokeFunction"], resources=self.invoked_arns
            ),
            iam.PolicyStatement(
                sid="RunChildExecutions",
                actions=["states:StartExecution"],
                resources=[self.state_machines_arn],
            ),
            iam.PolicyStatement(
                sid="FollowChildExecutions",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[self.executions_arn],
            ),
            # A large loop runs as a distributed Map, on its own namespace's objects only: a flow's
            # AWS tasks run with its role, and other namespaces' loop items are their user data.
            *self.distributed_map_statements(OWN_NAMESPACE),
            iam.PolicyStatement(
                sid="SyncExecutionEvents",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[_rule_arn(self, SYNC_EVENTS_RULE)],
            ),
            iam.PolicyStatement(sid="Tracing", actions=list(XRAY_ACTIONS), resources=["*"]),
            iam.PolicyStatement(sid="LogDelivery", actions=list(LOG_DELIVERY_ACTIONS), resources=["*"]),
            # Script tasks with a Fargate taskRunner (`ecs:runTask.sync`), when the stack has containers.
            *(self.containers.state_machine_statements() if self.containers is not None else []),
        ]


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
        found = [platform_denial(self.platform_records), kms_denial(self)]
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

    def never_reach(self, *resources: str) -> None:
        """Deny flow roles these resources of the stack too (made after the boundaries)."""
        self.platform_records.extend(resources)
        for statement in self._platform_denials:
            statement.add_resources(*resources)

    def _boundary(self, construct_id: str, resources: Sequence[str], whose: str) -> iam.ManagedPolicy:
        state_machine_role = self.state_machine_role
        native_rules = _rule_arn(self, NATIVE_SYNC_RULES)
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
