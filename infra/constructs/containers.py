"""Script tasks in containers (`taskRunner: {type: aws.runner.Fargate}`): the ECS cluster, the Fargate
task definition (ARM64) whose `runner` container runs Stratoflow's entrypoint
(functions/container_runner) in a stock Python image, its roles and log group.

Built only when the stack's config names the network containers run in (`containerSubnets` and
`containerSecurityGroups`: synthesis stays offline, so the account's default VPC is not looked up);
without it the deployer refuses container-run flows with a located message. Nothing here costs while
idle: a cluster and a task definition are free, and no NAT gateway or VPC is created.

- Task role: what the task-runner Lambda's role may do (the store's table and data bucket, flow
  secrets, assuming the flows' own roles), so that the entrypoint records task runs exactly as the
  Lambda does; a script's AWS calls use its flow's role, assumed as in Lambda.
- Execution role: pulls the image and writes the log group (CDK grants both).
- `state_machine_statements()`: what a flow's state machine needs to run the task definition and
  follow it (`ecs:runTask.sync`), added to the base policy every flow role and the shared role hold.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stratoflow.runner_call import CONTAINER_NAME

from ..config import StratoflowProps
from ..grants import grant_bucket, grant_table, pass_role
from ..nag import acknowledge, wildcard_resource
from ..naming import flow_roles_path_arn, owned_flow_roles_arn
from .functions import FUNCTIONS_DIR, LAYER_REQUIREMENTS, PLATFORM_ROOT, SECRETS_PREFIX, library_dir
from .storage import Storage

DOCKERFILE = PLATFORM_ROOT / "infra" / "container" / "Dockerfile"
# Step Functions keeps this managed rule to learn when an `ecs:runTask.sync` task stops.
ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"
# The task definition's own size; each task asks for its `cpu`/`memory` in RunTask's overrides.
DEFAULT_CPU = 1024
DEFAULT_MEMORY_MIB = 2048


def build_context() -> Path:
    """The image's build context, small and the same wherever the stack is synthesized: the
    Dockerfile, the layer's pinned requirements, the library and the entrypoint (CDK hashes it)."""
    folder = Path(tempfile.mkdtemp(prefix="stratoflow-container-"))
    # CDK copies the context into its output at synthesis: the folder is not needed afterwards.
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    shutil.copy(DOCKERFILE, folder / "Dockerfile")
    shutil.copy(LAYER_REQUIREMENTS, folder / "lambda-requirements.txt")
    shutil.copy(FUNCTIONS_DIR / "container_runner" / "main.py", folder / "main.py")
    shutil.copytree(
        library_dir(), folder / "stratoflow", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    return folder


class Containers(Construct):
    """The Fargate platform of container-run script tasks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StratoflowProps,
        storage: Storage,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.subnets = ",".join(config.container_subnets)
        self.security_groups = ",".join(config.container_security_groups)
        self.assign_public_ip = config.container_assign_public_ip
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
        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal(
                "ecs-tasks.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Stratoflow container-run script tasks: records task runs as the task runner does",
        )
        grant_table(storage.table, self.task_role, write=True)
        grant_bucket(storage.data_bucket, self.task_role, write=True)
        self._grant_runner_access(stack)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=DEFAULT_CPU,
            memory_limit_mib=DEFAULT_MEMORY_MIB,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
            task_role=self.task_role,
        )
        image = ecr_assets.DockerImageAsset(
            self,
            "Image",
            directory=str(build_context()),
            platform=ecr_assets.Platform.LINUX_ARM64,
        )
        self.task_definition.add_container(
            CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            image=ecs.ContainerImage.from_docker_image_asset(image),
            essential=True,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="task", log_group=self.log_group),
            environment={
                **environment,
                "STRATOFLOW_FLOW_ROLE_PREFIX": flow_roles_path_arn(self),
                "STRATOFLOW_SECRETS_BACKEND": "aws",
                "STRATOFLOW_SECRETS_PREFIX": SECRETS_PREFIX,
            },
            readonly_root_filesystem=False,
        )
        execution_role = self.task_definition.obtain_execution_role()
        acknowledge(
            execution_role,
            "ECR's GetAuthorizationToken takes no resource: pulling the stack's image needs '*'.",
            wildcard_resource(self, "*"),
        )
        acknowledge(
            self.task_definition,
            "The container's settings are names of the stack's own resources (table, bucket, ARNs), no "
            "secrets: flow secrets are read at run time from Secrets Manager.",
            "AwsSolutions-ECS2",
        )
        self.execution_role_arn = execution_role.role_arn
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

    def _grant_runner_access(self, stack: Stack) -> None:
        """Secrets and flow roles, as the task-runner Lambda's role has them."""
        secrets = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{SECRETS_PREFIX}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        parameters = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{SECRETS_PREFIX}/*"
        )
        flow_roles = owned_flow_roles_arn(self)
        for sid, actions, resource in (
            ("ReadFlowSecrets", ["secretsmanager:GetSecretValue"], secrets),
            ("ReadFlowParameters", ["ssm:GetParameter"], parameters),
            ("AssumeFlowRoles", ["sts:AssumeRole"], flow_roles),
        ):
            self.task_role.add_to_principal_policy(
                iam.PolicyStatement(sid=sid, actions=actions, resources=[resource])
            )
        acknowledge(
            self.task_role,
            f"As the task runner's role: flow secrets under '{SECRETS_PREFIX}/', and the flows' own roles "
            "('/stratoflow/<StackName>-flow-<hash>'), which the entrypoint assumes for a script's AWS calls.",
            wildcard_resource(self, secrets),
            wildcard_resource(self, parameters),
            wildcard_resource(self, flow_roles),
        )

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
        ]

    def nag_findings(self, scope: Construct) -> list[str]:
        """cdk-nag's findings on `state_machine_statements` (any revision, the cluster's tasks)."""
        return [wildcard_resource(scope, self.task_definitions_arn), wildcard_resource(scope, self.tasks_arn)]

    def deployer_environment(self) -> dict[str, str]:
        """What the deployer substitutes into container-run states (cloud.deploy.containers)."""
        return {
            "STRATOFLOW_CONTAINER_CLUSTER_ARN": self.cluster_arn,
            "STRATOFLOW_CONTAINER_TASK_DEFINITION": self.task_definition.family,
            "STRATOFLOW_CONTAINER_SUBNETS": self.subnets,
            "STRATOFLOW_CONTAINER_SECURITY_GROUPS": self.security_groups,
            "STRATOFLOW_CONTAINER_PUBLIC_IP": "ENABLED" if self.assign_public_ip else "DISABLED",
            "STRATOFLOW_CONTAINER_ROLE_ARN": self.task_role.role_arn,
        }
