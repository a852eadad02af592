"""Settings of the Lambda functions: one model, read from environment variables at cold start.

The field names are the variable names (upper-cased) that the CDK stack sets.
"""

from __future__ import annotations

import os

from pydantic import BaseModel


class Settings(BaseModel):
    stratoflow_table_name: str
    stratoflow_data_bucket: str
    stratoflow_flows_bucket: str = ""
    stratoflow_stack_name: str = "Stratoflow"
    stratoflow_task_runner_arn: str = ""
    stratoflow_admission_arn: str = ""
    stratoflow_state_machine_role_arn: str = ""
    stratoflow_state_machine_log_group_arn: str = ""
    stratoflow_scheduler_role_arn: str = ""
    stratoflow_schedule_group: str = ""
    stratoflow_alert_topic_arn: str = ""
    stratoflow_event_bus_name: str = "default"
    stratoflow_dlq_arn: str = ""
    stratoflow_events_rule_prefix: str = ""
    # The boundary of the role the deployer gives each flow's pipes (cloud.deploy.pipe_roles): SQS triggers
    # need it.
    stratoflow_pipe_boundary_arn: str = ""
    # Each flow's own role (stratoflow.cloud.deploy.flow_roles): the deployer needs the three below, and
    # without them every flow runs with the shared state machine role.
    stratoflow_task_runner_role_arn: str = ""
    stratoflow_flow_base_policy_arn: str = ""
    stratoflow_flow_boundary_arn: str = ""
    # The task runner: the ARN of the flow roles' path (`arn:aws:iam::<account>:role/stratoflow/`).
    # Set, AWS tasks without credentials of their own run with their flow's role.
    stratoflow_flow_role_prefix: str = ""
    # Script sandboxes (stratoflow.cloud.deploy.sandboxes). The task runner: true runs every script
    # task's command in its flow's sandbox function, never in the runner itself.
    stratoflow_script_sandboxes: bool = False
    # The deployer: the sandbox function's code (an asset of the stack), the platform layer it runs
    # on, its memory, and the retention of its log group.
    stratoflow_sandbox_code_bucket: str = ""
    stratoflow_sandbox_code_key: str = ""
    stratoflow_platform_layer_arn: str = ""
    stratoflow_sandbox_memory_mb: int = 1024
    stratoflow_sandbox_log_days: int = 30
    # The deployer: the AWS resources each namespace's flows may name (cloud.deploy.namespace_grants); JSON.
    stratoflow_namespace_grants: str = ""
    # The deployer: the flow-role boundary of each namespace of the grants ({namespace: policy ARN}; JSON).
    stratoflow_namespace_boundaries: str = ""
    # Days executions, task runs and logs are kept (DynamoDB TTL); the stack's `dataRetentionDays`.
    # 0 keeps them. The data bucket expires the objects they point at a little later (infra storage).
    stratoflow_history_days: int = 0
    # Script tasks with a Fargate `taskRunner` (cloud.deploy.containers): the stack's cluster, task
    # definition and network (comma-separated ids); without a network such flows are refused.
    stratoflow_container_cluster_arn: str = ""
    stratoflow_container_task_definition: str = ""
    stratoflow_container_subnets: str = ""
    stratoflow_container_security_groups: str = ""
    stratoflow_container_public_ip: str = "DISABLED"  # ECS's word: ENABLED for public subnets
    # The sandbox's code, a zip the containers' bootstrap downloads with their task role (a flow's
    # sandbox role, which the deployer lets read this one object): the platform layer's asset.
    stratoflow_container_code_bucket: str = ""
    stratoflow_container_code_key: str = ""

    @property
    def flow_roles_enabled(self) -> bool:
        """The deployer gives each flow with AWS permissions its own role."""
        return bool(
            self.stratoflow_task_runner_role_arn
            and self.stratoflow_flow_base_policy_arn
            and self.stratoflow_flow_boundary_arn
        )

    @property
    def sandboxes_enabled(self) -> bool:
        """The deployer gives each flow with script tasks its sandbox function (and that a role)."""
        return bool(
            self.flow_roles_enabled
            and self.stratoflow_sandbox_code_bucket
            and self.stratoflow_sandbox_code_key
            and self.stratoflow_platform_layer_arn
        )

    @classmethod
    def from_env(cls) -> Settings:
        """Read every field from the variable of the same name; a missing required one is a clear error."""
        values = {name: os.environ[name.upper()] for name in cls.model_fields if name.upper() in os.environ}
        return cls.model_validate(values)
