"""The role every flow's state machine runs with (the deployer passes it to Step Functions)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.grants import grant_invoke
from infra.nag import acknowledge, wildcard_resource
from infra.naming import owned_executions_arn, owned_state_machines_arn

# Step Functions keeps this managed rule to learn when a `.sync` child execution ends.
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"

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


class StateMachineRole(Construct):
    """Invoke the platform functions, run child executions of the stack's flows, log and trace."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        invoked_functions: Sequence[lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.state_machines_arn = owned_state_machines_arn(self)
        self.executions_arn = owned_executions_arn(self)
        self.role = iam.Role(
            self,
            "Role",
            description="Stratoflow flows' state machines",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": self.state_machines_arn},
                },
            ),
        )
        # Task states call the task runner; subflow starts go through admission.
        for function in invoked_functions:
            grant_invoke(function, self.role)

        statements = [
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
            iam.PolicyStatement(
                sid="SyncExecutionEvents",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name=SYNC_EVENTS_RULE,
                        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            ),
            iam.PolicyStatement(sid="Tracing", actions=list(XRAY_ACTIONS), resources=["*"]),
            iam.PolicyStatement(sid="LogDelivery", actions=list(LOG_DELIVERY_ACTIONS), resources=["*"]),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge(
            self.role,
            "Subflows are the stack's own flows: state machines and their executions named "
            "'<StackName>-...', created when a flow is deployed.",
            wildcard_resource(self, self.state_machines_arn),
            wildcard_resource(self, self.executions_arn),
        )
        acknowledge(
            self.role,
            "X-Ray's trace actions and CloudWatch Logs' log-delivery actions take no resource ('*'); "
            "Step Functions needs them to trace and log executions.",
            wildcard_resource(self, "*"),
        )
