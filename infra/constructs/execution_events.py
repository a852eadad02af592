"""Step Functions status changes of the stack's flows -> execution records and "Execution Finished".

The execution_events function writes each status change to the table and publishes Stratoflow's own
"Execution Finished" events on the bus, where the rules of flow triggers pick them up; an execution that
ends FAILED also gets its own message on the alerts topic (the flow, the execution, the failed task).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from ..config import StratoflowProps
from ..grants import pass_role
from ..nag import acknowledge, wildcard_actions, wildcard_resource
from ..naming import (
    owned_executions_arn,
    owned_state_machines_arn,
    platform_name,
    state_machine_arn_prefix,
)
from .functions import PlatformFunctions
from .queues import dead_letter_queue, rule_target
from .triggers import TriggerSupport

# One-time schedules of delayed flow retries (stratoflow.cloud.runtime.retries), in the stack's schedule group.
RETRY_SCHEDULE_PREFIX = "retry-"
# One-time timers of MAX_DURATION SLAs with behavior NONE (stratoflow.cloud.runtime.sla_timer), likewise.
SLA_SCHEDULE_PREFIX = "sla-"

STATUS_CHANGE = "Step Functions Execution Status Change"
EVENT_RETRY_ATTEMPTS = 8
EVENT_MAX_AGE = Duration.hours(6)


class ExecutionEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StratoflowProps,
        functions: PlatformFunctions,
        triggers: TriggerSupport,
        alerts_topic: sns.ITopic,
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
        handler.add_environment("STRATOFLOW_ALERT_TOPIC_ARN", alerts_topic.topic_arn)
        bus = events.EventBus.from_event_bus_name(self, "Bus", triggers.event_bus_name)
        bus.grant_put_events_to(handler)
        # A Pause publishes "Execution Paused" from the task runner: Flow triggers on PAUSED.
        functions.task_runner.add_environment("STRATOFLOW_EVENT_BUS_NAME", triggers.event_bus_name)
        bus.grant_put_events_to(functions.task_runner)
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
        self._let_it_start_recorded_executions(handler, role, functions, triggers)
        # Failed executions are reported on the alerts topic, which a customer-managed key encrypts.
        alerts_topic.grant_publish(role)
        acknowledge(
            role,
            "Publishing to the KMS-encrypted alerts topic needs a data key for each message.",
            *wildcard_actions("kms:GenerateDataKey*"),
        )
        acknowledge(
            role,
            "Executions of the stack's own flows, whose state machines are named '<StackName>-...' when "
            "a flow is deployed.",
            wildcard_resource(role, executions),
        )

    def _let_it_start_recorded_executions(
        self, handler: Any, role: iam.IRole, functions: PlatformFunctions, triggers: TriggerSupport
    ) -> None:
        """Queued executions a freed slot lets in, and flow retries, start from here: their records
        exist and admission's checks already ran. A delayed retry is a one-time schedule that calls
        admission when it is due."""
        state_machines = owned_state_machines_arn(self)
        retry_schedules = triggers.schedules_arn(f"{RETRY_SCHEDULE_PREFIX}*")
        sla_schedules = triggers.schedules_arn(f"{SLA_SCHEDULE_PREFIX}*")
        for name, value in {
            "STRATOFLOW_ADMISSION_ARN": functions.admission.function_arn,
            "STRATOFLOW_SCHEDULER_ROLE_ARN": triggers.scheduler_role.role_arn,
            "STRATOFLOW_SCHEDULE_GROUP": triggers.schedule_group.schedule_group_name,
            "STRATOFLOW_DLQ_ARN": triggers.dead_letter_queue.queue_arn,
        }.items():
            handler.add_environment(name, value)
        for statement in (
            iam.PolicyStatement(
                sid="StartRecordedExecutions", actions=["states:StartExecution"], resources=[state_machines]
            ),
            iam.PolicyStatement(
                sid="ScheduleFlowRetries", actions=["scheduler:CreateSchedule"], resources=[retry_schedules]
            ),
            # The timers of MAX_DURATION SLAs with behavior NONE live while their execution runs.
            iam.PolicyStatement(
                sid="SlaTimers",
                actions=["scheduler:CreateSchedule", "scheduler:DeleteSchedule"],
                resources=[sla_schedules],
            ),
            pass_role("PassSchedulerRole", [triggers.scheduler_role.role_arn], "scheduler"),
        ):
            role.add_to_principal_policy(statement)
        acknowledge(
            role,
            "Flows' state machines are named '<StackName>-...' when a flow is deployed (versions "
            "included); retry schedules are named 'retry-...' and SLA timers 'sla-...' in the stack's "
            "own schedule group.",
            wildcard_resource(role, state_machines),
            wildcard_resource(role, retry_schedules),
            wildcard_resource(role, sla_schedules),
        )
