"""What the triggers the deployer creates need: a schedule group, a role for the scheduler, a
dead-letter queue, permission for the stack's rules to invoke admission, the boundary of the roles
the deployer gives the pipes of SQS triggers, and the webhook URL."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from stratoflow.cloud.deploy.pipe_roles import QUEUE_ACTIONS

from ..config import StratoflowProps
from ..grants import grant_invoke, service_for
from ..nag import acknowledge, wildcard_resource
from ..naming import (
    owned_custom_bus_rules_arn,
    owned_pipe_roles_arn,
    owned_pipes_arn,
    owned_prefix,
    owned_rules_arn,
)
from .functions import PlatformFunctions
from .queues import dead_letter_queue

# What a pipe does with its SQS source: poll, delete what the target accepted, read the queue's settings.
PIPE_QUEUE_ACTIONS = QUEUE_ACTIONS

# Stratoflow's rules and the flow-trigger rules live on the account's default bus: S3 and Step
# Functions deliver their events only there.
EVENT_BUS_NAME = "default"


class TriggerSupport(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StratoflowProps, functions: PlatformFunctions
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.events_rule_prefix = owned_prefix(self)
        self.event_bus_name = EVENT_BUS_NAME
        # EventBridge triggers may name a custom bus (`bus:`): their rules' ARNs have the bus in them.
        self.trigger_rules_arns = [owned_rules_arn(self), owned_custom_bus_rules_arn(self)]

        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", config=config)
        self.schedule_group = scheduler.ScheduleGroup(
            self,
            "ScheduleGroup",
            schedule_group_name=stack.stack_name,
            # Deleting the group deletes its schedules; kept, they would fire at a deleted function.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.scheduler_role = self._scheduler_role(functions.admission)
        self.pipes_arn = owned_pipes_arn(self)
        self.pipe_roles_arn = owned_pipe_roles_arn(self)
        self.pipe_role_boundary = self._pipe_role_boundary(functions.admission)
        self._let_rules_start_executions(functions.admission)

        self.webhook_url = functions.webhook.add_function_url(
            # The flow's webhook key in the URL is the secret, as in Kestra.
            auth_type=lambda_.FunctionUrlAuthType.NONE,
        )

    def schedules_arn(self, name_pattern: str) -> str:
        """The ARN of the schedules of the stack's group whose names match `name_pattern`."""
        return Stack.of(self).format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{self.schedule_group.schedule_group_name}/{name_pattern}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def _scheduler_role(self, admission: lambda_.IFunction) -> iam.Role:
        """The role EventBridge Scheduler assumes to run the stack's schedules."""
        role = iam.Role(
            self,
            "SchedulerRole",
            description="EventBridge Scheduler: start Stratoflow executions through admission",
            assumed_by=service_for(self, "scheduler.amazonaws.com", self.schedule_group.schedule_group_arn),
        )
        grant_invoke(admission, role)
        # Scheduler delivers undeliverable events to the schedule's DLQ with this role.
        self.dead_letter_queue.grant_send_messages(role)
        return role

    def _pipe_role_boundary(self, admission: lambda_.IFunction) -> iam.ManagedPolicy:
        """The most a flow's pipe role can be granted (stratoflow.cloud.deploy.pipe_roles): the deployer
        writes each one's queues, and may create these roles only with this boundary on them."""
        stack = Stack.of(self)
        queues = stack.format_arn(service="sqs", resource="*", arn_format=ArnFormat.NO_RESOURCE_NAME)
        policy = iam.ManagedPolicy(
            self,
            "PipeRoleBoundary",
            description="Stratoflow: the permissions boundary of each flow's pipe role",
            statements=[
                iam.PolicyStatement(sid="ReadQueues", actions=list(PIPE_QUEUE_ACTIONS), resources=[queues]),
                # An encrypted queue's messages are decrypted for the pipe through SQS only; the key's
                # own policy decides whether it may (README, "SQS").
                iam.PolicyStatement(
                    sid="DecryptQueueMessages",
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="StartThroughAdmission",
                    actions=["lambda:InvokeFunction"],
                    resources=[admission.function_arn],
                ),
            ],
        )
        acknowledge(
            policy,
            "A permissions boundary grants nothing by itself: each flow's pipe role names its own queues "
            "(the deployer writes them from the flow's SQS triggers); the boundary keeps every such role "
            "within reading the stack region's queues, decrypting through SQS and invoking admission.",
            wildcard_resource(self, queues),
            wildcard_resource(self, "*"),
        )
        return policy

    def _let_rules_start_executions(self, admission: lambda_.Function) -> None:
        # The deployer creates one rule per event or flow trigger; one permission for all of them
        # (by name prefix, on the default bus and on custom ones) means the deployer needs no
        # lambda:AddPermission.
        stack = Stack.of(self)
        for permission_id, rules_arn in zip(
            ("InvokeFromTriggerRules", "InvokeFromCustomBusTriggerRules"),
            self.trigger_rules_arns,
            strict=True,
        ):
            admission.add_permission(
                permission_id,
                principal=iam.ServicePrincipal("events.amazonaws.com"),
                source_arn=rules_arn,
                source_account=stack.account,
            )
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="TriggerRulesDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
                conditions={"ArnLike": {"aws:SourceArn": self.trigger_rules_arns}},
            )
        )
