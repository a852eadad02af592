"""Step Functions status changes of the stack's flows -> execution records and "Execution Finished".

The execution_events function writes each status change to the table and publishes Stratoflow's own
"Execution Finished" events on the bus, where the rules of flow triggers pick them up.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.config import StackConfig
from infra.constructs.functions import PlatformFunctions
from infra.constructs.queues import dead_letter_queue, rule_target
from infra.constructs.triggers import TriggerSupport
from infra.nag import acknowledge, wildcard_resource
from infra.naming import owned_executions_arn, platform_name, state_machine_arn_prefix

STATUS_CHANGE = "Step Functions Execution Status Change"
EVENT_RETRY_ATTEMPTS = 8
EVENT_MAX_AGE = Duration.hours(6)


class ExecutionEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        functions: PlatformFunctions,
        triggers: TriggerSupport,
    ) -> None:
        super().__init__(scope, construct_id)
        handler = functions.execution_events
        self.state_machine_arn_prefix = state_machine_arn_prefix(self)

        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", config=config)
        self.status_rule = events.Rule(
            self,
            "StatusChangeRule",
            rule_name=platform_name(self, "execution-status"),
            description="Status changes of the stack's flow executions: record them, fire flow triggers",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[STATUS_CHANGE],
                detail={"stateMachineArn": [{"prefix": self.state_machine_arn_prefix}]},
            ),
            targets=[
                rule_target(
                    handler,
                    self.dead_letter_queue,
                    retry_attempts=EVENT_RETRY_ATTEMPTS,
                    max_event_age=EVENT_MAX_AGE,
                )
            ],
        )

        handler.add_environment("STRATOFLOW_EVENT_BUS_NAME", triggers.event_bus_name)
        bus = events.EventBus.from_event_bus_name(self, "Bus", triggers.event_bus_name)
        bus.grant_put_events_to(handler)
        # Killing an execution cascades to its subflows: the handler stops the children it recorded.
        executions = owned_executions_arn(self)
        role = functions.roles["execution_events"]
        # Killing an execution cascades to its subflows: the handler stops the children it recorded.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="FollowFlowExecutions",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[executions],
            )
        )
        acknowledge(
            role,
            "Executions of the stack's own flows, whose state machines are named '<StackName>-...' when "
            "a flow is deployed.",
            wildcard_resource(role, executions),
        )
