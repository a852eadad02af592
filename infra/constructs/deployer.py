"""The deployer's wiring: flow uploads start it, and it may manage only what the stack owns.

The deployer turns a flow into a state machine (run by `state_machine_role`, or by the flow's own
role when its tasks need AWS permissions), schedules, rules, pipes (SQS triggers) and alarms. Everything it creates is named
`<StackName>-...` (schedules live in the stack's group; flow roles are `/stratoflow/<StackName>-flow-*`),
and its IAM statements are scoped to those names, so a bug in it cannot touch another stack's
resources. It may create and change flow roles only with the stack's permissions boundary on them, and
attach only the base policy: an uploaded flow cannot grant itself more than the boundary allows. The
roles of flows' pipes likewise: only with the pipe-role boundary on them, passed to Pipes only.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from stratoflow.cloud.deploy.deployment import NAMESPACE_TAG
from stratoflow.storage_layout import SANDBOX_FOLDER

from ..config import StratoflowProps
from ..grants import pass_role
from ..nag import acknowledge, wildcard_actions, wildcard_resource
from ..naming import (
    owned_alarms_arn,
    owned_flow_roles_arn,
    owned_sandbox_roles_arn,
    owned_state_machines_arn,
    platform_name,
)
from .containers import Containers
from .flow_role_boundary import FlowRoleBoundary
from .functions import METRICS_NAMESPACE, PlatformFunctions
from .housekeeping import Housekeeping
from .queues import dead_letter_queue, rule_target
from .storage import Storage
from .triggers import TriggerSupport
from .workflow_role import OWN_NAMESPACE, StateMachineRole

FLOW_FILE_SUFFIXES = (".yaml", ".yml")
# Retries of an event whose delivery to the deployer failed; failed invocations are retried by Lambda.
EVENT_RETRY_ATTEMPTS = 4
EVENT_MAX_AGE = Duration.hours(2)


class DeployerWiring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StratoflowProps,
        storage: Storage,
        functions: PlatformFunctions,
        triggers: TriggerSupport,
        alerts_topic: sns.ITopic,
        housekeeping: Housekeeping,
        containers: Containers | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        deployer = functions.deployer

        self.state_machine_logs = logs.LogGroup(
            self,
            "StateMachineLogs",
            # Under /aws/vendedlogs/: CloudWatch Logs then needs no entry in the account-wide
            # resource policy (5,120 characters, shared by every service) for Step Functions to log.
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.state_machine_role = StateMachineRole(
            self,
            "StateMachineRole",
            invoked_functions=[functions.task_runner, functions.admission],
            data_bucket=storage.data_bucket,
            containers=containers,
        )
        self.flow_role_boundary = FlowRoleBoundary(
            self,
            "FlowRoleBoundary",
            state_machine_role=self.state_machine_role,
            platform_storage=[
                storage.table.table_arn,
                f"{storage.table.table_arn}/*",
                *(
                    arn
                    for bucket in (storage.flows_bucket, storage.data_bucket)
                    for arn in (bucket.bucket_arn, bucket.arn_for_objects("*"))
                ),
            ],
            platform_records=[
                storage.table.table_arn,
                f"{storage.table.table_arn}/*",
                *(
                    arn
                    for bucket in (storage.flows_bucket, storage.access_logs_bucket)
                    for arn in (bucket.bucket_arn, bucket.arn_for_objects("*"))
                ),
                *functions.secrets_arns,
            ],
            replacement_arn=config.flow_permissions_boundary_arn,
            grants=config.namespace_grants,
            housekeeping=housekeeping,
        )
        self._keep_flow_roles_to_their_map_objects(storage)

        self.dead_letter_queue = dead_letter_queue(self, "DeadLetterQueue", config=config)
        self.flow_changes_rule = events.Rule(
            self,
            "FlowChangesRule",
            rule_name=platform_name(self, "flow-changes"),
            description="Flow files created or deleted in the flows bucket: deploy or retire the flow",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created", "Object Deleted"],
                detail={
                    "bucket": {"name": [storage.flows_bucket.bucket_name]},
                    "object": {"key": [{"suffix": suffix} for suffix in FLOW_FILE_SUFFIXES]},
                },
            ),
            targets=[
                rule_target(
                    deployer,
                    self.dead_letter_queue,
                    retry_attempts=EVENT_RETRY_ATTEMPTS,
                    max_event_age=EVENT_MAX_AGE,
                )
            ],
        )

        environment = {
            "STRATOFLOW_TASK_RUNNER_ARN": functions.task_runner.function_arn,
            "STRATOFLOW_ADMISSION_ARN": functions.admission.function_arn,
            "STRATOFLOW_STATE_MACHINE_ROLE_ARN": self.state_machine_role.role.role_arn,
            "STRATOFLOW_TASK_RUNNER_ROLE_ARN": functions.roles["task_runner"].role_arn,
            "STRATOFLOW_FLOW_BASE_POLICY_ARN": self.state_machine_role.base_policy.managed_policy_arn,
            "STRATOFLOW_FLOW_BOUNDARY_ARN": self.flow_role_boundary.arn,
            "STRATOFLOW_STATE_MACHINE_LOG_GROUP_ARN": self.state_machine_logs.log_group_arn,
            "STRATOFLOW_SCHEDULER_ROLE_ARN": triggers.scheduler_role.role_arn,
            "STRATOFLOW_SCHEDULE_GROUP": triggers.schedule_group.schedule_group_name,
            "STRATOFLOW_DLQ_ARN": triggers.dead_letter_queue.queue_arn,
            "STRATOFLOW_EVENT_BUS_NAME": triggers.event_bus_name,
            "STRATOFLOW_EVENTS_RULE_PREFIX": triggers.events_rule_prefix,
            "STRATOFLOW_PIPE_BOUNDARY_ARN": triggers.pipe_role_boundary.managed_policy_arn,
            "STRATOFLOW_ALERT_TOPIC_ARN": alerts_topic.topic_arn,
        }
        if containers is not None:  # where container-run script tasks run (cloud.deploy.containers)
            environment.update(containers.deployer_environment())
        if config.namespace_grants is not None:
            # What each namespace's flows may name (stratoflow.cloud.deploy.namespace_grants).
            environment["STRATOFLOW_NAMESPACE_GRANTS"] = json.dumps(config.namespace_grants, sort_keys=True)
        if self.flow_role_boundary.namespace_arns:
            # The boundary of each namespace's flow roles (cloud.deploy.flow_roles.boundary_for).
            environment["STRATOFLOW_NAMESPACE_BOUNDARIES"] = Stack.of(self).to_json_string(
                self.flow_role_boundary.namespace_arns
            )
        for name, value in environment.items():
            deployer.add_environment(name, value)
        role = functions.roles["deployer"]
        # Invalid flows are reported on the alerts topic.
        alerts_topic.grant_publish(role)
        acknowledge(
            role,
            "Publishing to the KMS-encrypted alerts topic needs a data key for each message.",
            *wildcard_actions("kms:GenerateDataKey*"),
        )
        self._grant_management(role, triggers)
        self._grant_flow_roles(role)
        self._grant_pipe_roles(role, triggers)

    def _keep_flow_roles_to_their_map_objects(self, storage: Storage) -> None:
        """The data bucket refuses flow and sandbox roles everything but their own namespace's
        distributed-map objects, whatever their boundary allows (a namespace granted `arn:aws:s3:::*`).

        In the bucket's policy, not the boundaries: a boundary's Deny cannot leave out objects of one
        bucket (NotResource would leave out every other bucket), and a bucket policy applies to that
        bucket only. The task runner, the shared role and the sandboxes' presigned URLs (signed by the
        task runner) are other principals.

        Sandbox roles (flow role names ending `-s`) get their namespace's sandbox folders instead: a
        Fargate container runs as its flow's sandbox role and reads its job and writes its answer there
        (`cloud.deploy.sandboxes.ContainerAccess` narrows that to the flow). A Deny's exception grants
        nothing: a sandbox role without containers has no policy on the bucket at all."""
        flow_roles = {"ArnLike": {"aws:PrincipalArn": owned_flow_roles_arn(self)}}
        sandbox_roles = owned_sandbox_roles_arn(self)
        bucket = storage.data_bucket
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="FlowRolesOnlyTheirMapObjects",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                not_resources=list(self.state_machine_role.distributed_map_objects(OWN_NAMESPACE)),
                conditions={**flow_roles, "ArnNotLike": {"aws:PrincipalArn": sandbox_roles}},
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SandboxRolesOnlyTheirSandboxFolders",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                not_resources=[bucket.arn_for_objects(f"{OWN_NAMESPACE}/*/executions/*/{SANDBOX_FOLDER}/*")],
                conditions={"ArnLike": {"aws:PrincipalArn": sandbox_roles}},
            )
        )
        # ... and a role without its namespace tag nothing (its `${aws:PrincipalTag/...}` resolves to
        # nothing, and a statement that names it might then not apply at all).
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="FlowRolesWithoutNamespaceNothing",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:*"],
                resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
                conditions={**flow_roles, "Null": {f"aws:PrincipalTag/{NAMESPACE_TAG}": "true"}},
            )
        )

    def _grant_management(self, role: iam.IRole, triggers: TriggerSupport) -> None:
        state_machines = owned_state_machines_arn(self)
        alarms = owned_alarms_arn(self)
        schedules = triggers.schedules_arn("*")
        statements = [
            iam.PolicyStatement(
                sid="ManageFlowStateMachines",
                actions=[
                    "states:CreateStateMachine",
                    "states:UpdateStateMachine",
                    "states:DeleteStateMachine",
                    "states:DescribeStateMachine",
                    "states:PublishStateMachineVersion",
                    "states:ListStateMachineVersions",
                    "states:DeleteStateMachineVersion",
                    "states:TagResource",
                    "states:UntagResource",
                    "states:ListTagsForResource",
                ],
                resources=[state_machines],
            ),
            iam.PolicyStatement(
                sid="ManageFlowSchedules",
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                ],
                resources=[schedules],
            ),
            iam.PolicyStatement(
                sid="ManageFlowTriggerRules",
                actions=[
                    "events:PutRule",
                    "events:DeleteRule",
                    "events:DescribeRule",
                    "events:EnableRule",
                    "events:DisableRule",
                    "events:PutTargets",
                    "events:RemoveTargets",
                    "events:ListTargetsByRule",
                    "events:TagResource",
                    "events:UntagResource",
                    "events:ListTagsForResource",
                ],
                resources=triggers.trigger_rules_arns,
            ),
            iam.PolicyStatement(
                sid="ManageFlowTriggerPipes",
                actions=[
                    "pipes:CreatePipe",
                    "pipes:UpdatePipe",
                    "pipes:DeletePipe",
                    "pipes:DescribePipe",
                    "pipes:StartPipe",
                    "pipes:StopPipe",
                    "pipes:TagResource",
                    "pipes:UntagResource",
                    "pipes:ListTagsForResource",
                ],
                resources=[triggers.pipes_arn],
            ),
            iam.PolicyStatement(
                sid="ListTriggers",
                # List calls take no resource; they return names only, used to remove stale triggers.
                actions=["scheduler:ListSchedules", "events:ListRules", "pipes:ListPipes"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="ManageFlowAlarms",
                actions=[
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:TagResource",
                    "cloudwatch:UntagResource",
                    "cloudwatch:ListTagsForResource",
                ],
                resources=[alarms],
            ),
            iam.PolicyStatement(
                sid="OpenDidNotRunWindows",
                # A deployment puts one data point on the flow's ExecutionsSucceeded (cloud.deploy.alarms).
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            ),
            pass_role("PassStateMachineRole", [self.state_machine_role.role.role_arn], "states"),
            pass_role("PassSchedulerRole", [triggers.scheduler_role.role_arn], "scheduler"),
        ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        acknowledge(
            role,
            "The deployer manages one state machine, alarm, rule and pipe per flow or trigger, named "
            "'<StackName>-...' when the flow is deployed, and the schedules of the stack's own group; "
            "the wildcards are those name prefixes.",
            wildcard_resource(role, state_machines),
            wildcard_resource(role, schedules),
            *(wildcard_resource(role, arn) for arn in triggers.trigger_rules_arns),
            wildcard_resource(role, triggers.pipes_arn),
            wildcard_resource(role, alarms),
        )
        acknowledge(
            role,
            "scheduler:ListSchedules, events:ListRules and pipes:ListPipes take no resource; they return "
            "names only, which the deployer uses to remove the triggers of deleted flows. cloudwatch:PutMetricData "
            "takes no resource either; a condition holds it to the Stratoflow metrics namespace.",
            wildcard_resource(role, "*"),
        )

    def _grant_flow_roles(self, role: iam.IRole) -> None:
        """Manage each flow's own role: only under the stack's prefix, only within the boundary."""
        flow_roles = owned_flow_roles_arn(self)
        # One boundary, or one per namespace of the grants: the deployer may set only these.
        boundaries = self.flow_role_boundary.arns
        within_boundary = {"iam:PermissionsBoundary": boundaries[0] if len(boundaries) == 1 else boundaries}
        statements = [
            iam.PolicyStatement(
                sid="WriteFlowRolesWithinBoundary",
                # IAM checks the boundary the request sets (CreateRole, PutRolePermissionsBoundary) or
                # the role already has (the policy changes).
                actions=[
                    "iam:CreateRole",
                    "iam:PutRolePermissionsBoundary",
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                ],
                resources=[flow_roles],
                conditions={"StringEquals": within_boundary},
            ),
            iam.PolicyStatement(
                sid="AttachOnlyTheBasePolicy",
                actions=["iam:AttachRolePolicy"],
                resources=[flow_roles],
                conditions={
                    "StringEquals": {
                        **within_boundary,
                        "iam:PolicyARN": self.state_machine_role.base_policy.managed_policy_arn,
                    }
                },
            ),
            iam.PolicyStatement(
                sid="ManageFlowRoles",
                # No boundary condition exists for these: trust, tags, reads and the final delete.
                actions=[
                    "iam:UpdateAssumeRolePolicy",
                    "iam:TagRole",
                    "iam:GetRole",
                    "iam:ListRolePolicies",
                    "iam:ListAttachedRolePolicies",
                    "iam:DeleteRole",
                ],
                resources=[flow_roles],
            ),
            pass_role("PassFlowRoles", [flow_roles], "states"),
        ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        acknowledge(
            role,
            "Each flow whose tasks need AWS permissions gets its own role, created when the flow is "
            "deployed and named '/stratoflow/<StackName>-flow-<hash>'; the wildcard is that prefix, and "
            "every write is conditioned on the stack's permissions boundary.",
            wildcard_resource(role, flow_roles),
        )

    def _grant_pipe_roles(self, role: iam.IRole, triggers: TriggerSupport) -> None:
        """Manage each flow's pipe role: only under the stack's prefix, only within the pipe-role boundary."""
        pipe_roles = triggers.pipe_roles_arn
        statements = [
            iam.PolicyStatement(
                sid="WritePipeRolesWithinBoundary",
                actions=[
                    "iam:CreateRole",
                    "iam:PutRolePermissionsBoundary",
                    "iam:PutRolePolicy",
                    "iam:DeleteRolePolicy",
                ],
                resources=[pipe_roles],
                conditions={
                    "StringEquals": {
                        "iam:PermissionsBoundary": triggers.pipe_role_boundary.managed_policy_arn
                    }
                },
            ),
            iam.PolicyStatement(
                sid="ManagePipeRoles",
                # No boundary condition exists for these: trust, tags, reads and the final delete.
                actions=[
                    "iam:UpdateAssumeRolePolicy",
                    "iam:TagRole",
                    "iam:GetRole",
                    "iam:ListRolePolicies",
                    "iam:DeleteRole",
                ],
                resources=[pipe_roles],
            ),
            pass_role("PassPipeRoles", [pipe_roles], "pipes"),
        ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        acknowledge(
            role,
            "Each flow with SQS triggers gets a role for its pipes, created when the flow is deployed and "
            "named '/stratoflow/<StackName>-pipe-<hash>'; the wildcard is that prefix, every write is "
            "conditioned on the pipe-role boundary, and the roles may be passed to EventBridge Pipes only.",
            wildcard_resource(role, pipe_roles),
        )
