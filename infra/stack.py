"""The Stratoflow platform: one stack, assembled from one construct per concern."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.config import StackConfig
from infra.constructs.console import Console
from infra.constructs.deployer import DeployerWiring
from infra.constructs.execution_events import ExecutionEvents
from infra.constructs.functions import PlatformFunctions
from infra.constructs.monitoring import Alerts, Monitoring
from infra.constructs.storage import Storage
from infra.constructs.triggers import TriggerSupport


class StratoflowStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=config.stack_name,
            description="Stratoflow: Kestra-style YAML flows on AWS Step Functions and Lambda",
            **kwargs,
        )
        self.config = config
        self.storage = Storage(self, "Storage", config=config)
        self.alerts = Alerts(self, "Alerts", config=config)
        self.functions = PlatformFunctions(self, "Functions", config=config, storage=self.storage)
        self.triggers = TriggerSupport(self, "Triggers", config=config, functions=self.functions)
        self.deployer = DeployerWiring(
            self,
            "Deployer",
            config=config,
            storage=self.storage,
            functions=self.functions,
            triggers=self.triggers,
            alerts_topic=self.alerts.topic,
        )
        self.execution_events = ExecutionEvents(
            self,
            "ExecutionEvents",
            config=config,
            functions=self.functions,
            triggers=self.triggers,
            alerts_topic=self.alerts.topic,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            topic=self.alerts.topic,
            functions=self.functions.by_name,
            dead_letter_queues={
                "triggers": self.triggers.dead_letter_queue,
                "flow-changes": self.deployer.dead_letter_queue,
                "execution-events": self.execution_events.dead_letter_queue,
            },
        )
        self.console = Console(self, "Console", config=config, storage=self.storage, functions=self.functions)
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            "FlowsBucketName": (self.storage.flows_bucket.bucket_name, "Upload flow files (.yaml) here"),
            "DataBucketName": (self.storage.data_bucket.bucket_name, "Large outputs and files"),
            "TableName": (self.storage.table.table_name, "Executions, task runs, logs, flow records"),
            "AlertTopicArn": (self.alerts.topic.topic_arn, "Subscribe here to receive alarms"),
            "WebhookUrl": (self.triggers.webhook_url.url, "Base URL of webhook triggers"),
            "AdmissionFunctionArn": (self.functions.admission.function_arn, "Starts executions"),
            "TaskRunnerFunctionArn": (self.functions.task_runner.function_arn, "Runs tasks"),
            "PipesRoleArn": (
                self.triggers.pipes_role.role_arn,
                "Reads the queues of SQS triggers (give it kms:Decrypt on an encrypted queue's key)",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
