"""Script tasks in containers (`taskRunner: {type: aws.runner.Fargate}`): the ECS cluster, the Fargate
task definition (ARM64) whose `sandbox` container is a stock Python image, its log group, and what
flows' state machines need to run it.

Built only when the stack's config names the network containers run in (`containerSubnets` and
`containerSecurityGroups`: synthesis stays offline, so the account's default VPC is not looked up);
without it the deployer refuses container-run flows with a located message. Nothing here costs while
idle: a cluster and a task definition are free, and no NAT gateway or VPC is created.

- The image: `IMAGE`, pinned to an exact version tag (a digest pin would need Docker to look it up;
  nothing here builds an image). Its command is the bootstrap (`cloud.runtime.container_bootstrap`):
  it downloads the platform layer's asset, the very code the flows' sandbox functions run, and starts
  the sandbox program. So `cdk synth` builds no image, and a container runs the sandbox's code.
- Task role: every run overrides it with the flow's sandbox role (`Overrides.TaskRoleArn`, compiled by
  `compiler.containers`); the task definition's own (CDK's default) holds no permission at all.
- Execution role: writes the log group (CDK grants it); the public image needs no pull permission.
- `state_machine_statements()`: what a flow's state machine needs to run the task definition and
  follow it (`ecs:runTask.sync`), added to the base policy every flow role and the shared role hold;
  a flow role may pass only its own flow's sandbox role (`shared_statements()`: the shared role, whose
  flows have no AWS task to name a role with, any flow's).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stratoflow.cloud.runtime import container_bootstrap
from stratoflow.runner_call import CONTAINER_NAME

from ..config import StratoflowProps
from ..grants import pass_role
from ..nag import acknowledge, wildcard_resource
from ..naming import owned_sandbox_roles_arn
from .functions import PlatformFunctions
from .operator_boundary import PLATFORM_DENIED_ACTIONS
from .storage import Storage

if TYPE_CHECKING:  # types only: the boundary's module imports the state machine role, which imports this
    from .flow_role_boundary import FlowRoleBoundary

IMAGE = "public.ecr.aws/docker/library/python:3.12.11-slim-bookworm"
"""The container's image: Python 3.12 as the platform layer's wheels (CPython 3.12, manylinux aarch64)."""
BOOTSTRAP = Path(container_bootstrap.__file__).read_text()
# Step Functions keeps this managed rule to learn when an `ecs:runTask.sync` task stops.
ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"
# The task definition's own size; each task asks for its `cpu`/`memory` in RunTask's overrides.
DEFAULT_CPU = 1024
DEFAULT_MEMORY_MIB = 2048
# The tags a sandbox role and its flow's role both carry (cloud.deploy.deployment.FlowTarget.tags).
FLOW_TAGS = ("stratoflow:namespace", "stratoflow:flow")


class Containers(Construct):
    """The Fargate platform of container-run script tasks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StratoflowProps,
        storage: Storage,
        functions: PlatformFunctions,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.subnets = ",".join(config.container_subnets)
        self.security_groups = ",".join(config.container_security_groups)
        self.assign_public_ip = config.container_assign_public_ip
        self.data_bucket = storage.data_bucket
        # The platform layer's asset: what the sandbox functions run, downloaded by the bootstrap.
        location = functions.layer_code.bind(self).s3_location
        assert location is not None
        self.code = location
        self.log_group = logs.LogGroup(
            self, "Logs", retention=config.log_retention, removal_policy=config.removal_policy
        )
        # L1 on purpose: `ecs.Cluster` without a VPC would create one, NAT gateways included.
        self.cluster = ecs.CfnCluster(
            self,
            "Cluster",
            capacity_providers=["FARGATE"],
            cluster_settings=[
                ecs.CfnCluster.ClusterSettingsProperty(name="containerInsights", value="disabled")
            ],
        )
        acknowledge(
            self.cluster,
            "Container Insights bills metrics per task; a task's logs, outputs and duration are recorded "
            "by Stratoflow itself (task runs, the container log group).",
            "AwsSolutions-ECS4",
        )
        self.cluster_arn = self.cluster.attr_arn
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=DEFAULT_CPU,
            memory_limit_mib=DEFAULT_MEMORY_MIB,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # CDK's default task role, with no permission: every RunTask overrides it (the sandbox role).
        self.task_role = self.task_definition.task_role
        self.task_definition.add_container(
            CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            image=ecs.ContainerImage.from_registry(IMAGE),
            command=["python", "-c", BOOTSTRAP],
            essential=True,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="task", log_group=self.log_group),
            environment={
                "STRATOFLOW_CODE_BUCKET": self.code.bucket_name,
                "STRATOFLOW_CODE_KEY": self.code.object_key,
                "AWS_REGION": stack.region,
                "PYTHONUNBUFFERED": "1",
                "HOME": "/tmp",
            },
            # Not root: the script gets a working directory under /tmp, and nothing else to write.
            user="1000:1000",
            working_directory="/tmp",
            readonly_root_filesystem=False,
        )
        execution_role = self.task_definition.obtain_execution_role()
        acknowledge(
            self.task_definition,
            "The container's settings name the sandbox's code object and the region, no secrets: a script "
            "reads its flow's secrets through the task runner, never here.",
            "AwsSolutions-ECS2",
        )
        self.execution_role_arn = execution_role.role_arn
        self.sandbox_roles_arn = owned_sandbox_roles_arn(self)
        # Any revision of the family: a redeployed stack registers a new one while executions run.
        self.task_definitions_arn = stack.format_arn(
            service="ecs",
            resource="task-definition",
            resource_name=f"{self.task_definition.family}:*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.tasks_arn = stack.format_arn(
            service="ecs",
            resource="task",
            resource_name=f"{self.cluster.ref}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def code_arn(self) -> str:
        """The sandbox's code object, which a flow's sandbox role may read (cloud.deploy.sandboxes)."""
        return Stack.of(self).format_arn(
            service="s3",
            region="",
            account="",
            resource=self.code.bucket_name,
            resource_name=self.code.object_key,
        )

    def deny_assets_to_flow_roles(self, boundary: FlowRoleBoundary, assets: s3.IBucket) -> None:
        """Every boundary denies the stack's assets bucket to all roles but the sandbox roles, which
        read the sandbox's code there (their inline policy allows that one object, and nothing else)."""
        boundary.also_deny(
            iam.PolicyStatement(
                sid="NeverTheAssetsButSandboxCode",
                effect=iam.Effect.DENY,
                actions=list(PLATFORM_DENIED_ACTIONS),
                resources=[assets.bucket_arn, assets.arn_for_objects("*")],
                conditions={"ArnNotLike": {"aws:PrincipalArn": self.sandbox_roles_arn}},
            )
        )

    def sandbox_object_arns(self) -> tuple[str, str]:
        """Every flow's sandbox folders, and what a container writes there (`out/`)."""
        return (
            self.data_bucket.arn_for_objects("*/executions/*/sandbox/*"),
            self.data_bucket.arn_for_objects("*/executions/*/sandbox/*/out/*"),
        )

    def sandbox_statements(self) -> list[iam.PolicyStatement]:
        """What a sandbox role's boundary must allow for its containers: its flow's sandbox folders
        (the deployer's inline policy narrows them to the flow) and the sandbox's code."""
        folders, answers = self.sandbox_object_arns()
        return [
            iam.PolicyStatement(sid="ContainerJobs", actions=["s3:GetObject"], resources=[folders]),
            iam.PolicyStatement(
                sid="ContainerAnswers", actions=["s3:PutObject", "s3:PutObjectTagging"], resources=[answers]
            ),
            iam.PolicyStatement(sid="ContainerCode", actions=["s3:GetObject"], resources=[self.code_arn()]),
        ]

    def state_machine_statements(self) -> list[iam.PolicyStatement]:
        """Run the task definition on the cluster, follow and stop its tasks, pass its two roles."""
        stack = Stack.of(self)
        rule = stack.format_arn(
            service="events",
            resource="rule",
            resource_name=ECS_SYNC_RULE,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        return [
            iam.PolicyStatement(
                sid="RunContainerTasks",
                actions=["ecs:RunTask"],
                resources=[self.task_definitions_arn],
                conditions={"ArnEquals": {"ecs:cluster": self.cluster_arn}},
            ),
            iam.PolicyStatement(
                sid="FollowContainerTasks",
                actions=["ecs:StopTask", "ecs:DescribeTasks"],
                resources=[self.tasks_arn],
            ),
            iam.PolicyStatement(
                sid="ContainerTaskEvents",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[rule],
            ),
            pass_role("PassContainerRoles", [self.task_role.role_arn, self.execution_role_arn], "ecs-tasks"),
            # A flow role passes its own flow's sandbox role only: both carry the flow's tags.
            iam.PolicyStatement(
                sid="PassOwnSandboxRole",
                actions=["iam:PassRole"],
                resources=[self.sandbox_roles_arn],
                conditions={
                    "StringEquals": {
                        "iam:PassedToService": "ecs-tasks.amazonaws.com",
                        **{f"iam:ResourceTag/{tag}": f"${{aws:PrincipalTag/{tag}}}" for tag in FLOW_TAGS},
                    }
                },
            ),
        ]

    def shared_statements(self) -> list[iam.PolicyStatement]:
        """The shared state machine role (flows without AWS tasks, untagged): any flow's sandbox role.
        Its flows run only what the deployer compiled, whose task role is their own flow's."""
        return [pass_role("PassSandboxRoles", [self.sandbox_roles_arn], "ecs-tasks")]

    def nag_findings(self, scope: Construct) -> list[str]:
        """cdk-nag's findings on `state_machine_statements` (any revision, the cluster's tasks, the
        sandbox roles)."""
        return [
            wildcard_resource(scope, self.task_definitions_arn),
            wildcard_resource(scope, self.tasks_arn),
            wildcard_resource(scope, self.sandbox_roles_arn),
        ]

    def deployer_environment(self) -> dict[str, str]:
        """What the deployer substitutes into container-run states (cloud.deploy.containers)."""
        return {
            "STRATOFLOW_CONTAINER_CLUSTER_ARN": self.cluster_arn,
            "STRATOFLOW_CONTAINER_TASK_DEFINITION": self.task_definition.family,
            "STRATOFLOW_CONTAINER_SUBNETS": self.subnets,
            "STRATOFLOW_CONTAINER_SECURITY_GROUPS": self.security_groups,
            "STRATOFLOW_CONTAINER_PUBLIC_IP": "ENABLED" if self.assign_public_ip else "DISABLED",
            "STRATOFLOW_CONTAINER_CODE_BUCKET": self.code.bucket_name,
            "STRATOFLOW_CONTAINER_CODE_KEY": self.code.object_key,
        }
