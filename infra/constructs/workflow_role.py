"""The roles flows' state machines run with, and what the stack gives every flow's own role.

- The base policy (a customer managed policy): what every state machine needs, whatever its tasks:
  invoke the task runner and admission, run and follow child executions, the sync-events rule, X-Ray
  and log delivery. The shared role holds it; the deployer attaches it to each flow role.
- The shared role: flows whose tasks need no AWS permission run with it. It has no namespace tag, so
  it gets every namespace's distributed-map objects in a policy of its own (the base policy grants a
  flow role only its namespace's).
- The flow roles' permissions boundaries: flow_role_boundary.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stratoflow.cloud.deploy.deployment import NAMESPACE_TAG
from stratoflow.storage_layout import LOOP_ITEMS, MAP_RESULTS_PREFIX

from ..grants import service_for
from ..nag import acknowledge, wildcard_resource
from ..naming import owned_executions_arn, owned_state_machines_arn
from .containers import Containers

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


def rule_arn(scope: Construct, name: str) -> str:
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
            self,
            "SharedPolicy",
            statements=[
                *self.distributed_map_statements("*", "EveryNamespace"),
                # Its flows' containers run as their own flow's sandbox role, which the role has no tag to name.
                *(containers.shared_statements() if containers is not None else []),
            ],
        )
        self.shared_policy.attach_to_role(self.role)
        acknowledge(
            self.shared_policy,
            SHARED_DISTRIBUTED_MAP_OBJECTS,
            *self.distributed_map_findings(self, "*"),
        )
        if containers is not None:
            acknowledge(
                self.shared_policy,
                "Flows without AWS tasks share this role; each one's containers run as its own sandbox role "
                "'/stratoflow/<StackName>-flow-<hash>-s', which the deployer writes into its definition.",
                wildcard_resource(self, containers.sandbox_roles_arn),
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
                resources=[rule_arn(self, SYNC_EVENTS_RULE)],
            ),
            iam.PolicyStatement(sid="Tracing", actions=list(XRAY_ACTIONS), resources=["*"]),
            iam.PolicyStatement(sid="LogDelivery", actions=list(LOG_DELIVERY_ACTIONS), resources=["*"]),
            # Script tasks with a Fargate taskRunner (`ecs:runTask.sync`), when the stack has containers.
            *(self.containers.state_machine_statements() if self.containers is not None else []),
        ]
