"""`Stratoflow`: the whole platform as one construct, for any stack of any CDK app.

The repository's app (infra/app.py) and `strato stack` build their stack with it, and so does a team's
own CDK app (`from stratoflow.cdk import Stratoflow`): there is one way to build the platform.
"""

from __future__ import annotations

from importlib.metadata import version

from aws_cdk import CfnOutput, Stack, Tags, Token
from constructs import Construct

from stratoflow._platform.app import packaged_context

from .config import ConfigError, StratoflowProps, check_stack_name
from .constructs.console import Console
from .constructs.containers import Containers
from .constructs.deployer import DeployerWiring
from .constructs.execution_events import ExecutionEvents
from .constructs.functions import PlatformFunctions
from .constructs.housekeeping import Housekeeping
from .constructs.monitoring import Alerts, Monitoring
from .constructs.script_sandbox import ScriptSandboxes
from .constructs.storage import Storage
from .constructs.triggers import TriggerSupport

VERSION_OUTPUT = "StratoflowVersion"
VERSION_TAG = "stratoflow:version"


def feature_flags() -> dict[str, object]:
    return {key: value for key, value in packaged_context().items() if key.startswith("@aws-cdk/")}


class Stratoflow(Construct):
    """One whole platform: buckets, table, functions, deployer wiring, triggers, alarms, dashboard,
    the web console (unless `console=False`) and the housekeeping of the stack's deletion.

    One per stack: the stack's name prefixes every resource the deployer creates at run time
    (`<StackName>-...`), so it must be 1-40 letters and digits. Its outputs (`FlowsBucketName`,
    `TableName`, ...) keep these exact names under any construct id, because `strato --stack NAME`
    finds the platform by them. Give it the id "Default" to build the resources with the logical ids
    they have directly under the stack (CDK leaves "Default" out of logical ids).
    """

    def __init__(self, scope: Construct, construct_id: str, props: StratoflowProps | None = None) -> None:
        super().__init__(scope, construct_id)
        # The feature flags the platform is built and tested with (cdk.json's), for this construct's
        # subtree whatever the app sets: an app from an older `cdk init` gets the same template.
        for flag, value in feature_flags().items():
            self.node.set_context(flag, value)
        self.props = config = props or StratoflowProps()
        stack = Stack.of(self)
        if not Token.is_unresolved(stack.stack_name):
            check_stack_name(stack.stack_name, setting="the stack's name")
        others = [c for c in stack.node.find_all() if isinstance(c, Stratoflow) and c is not self]
        if others:
            raise ConfigError(
                f"{self.node.path}",
                f": stack {stack.stack_name} already holds Stratoflow {others[0].node.path} (one per stack: "
                "both would own the resources named '<StackName>-...')",
            )
        self.storage = Storage(self, "Storage", config=config)
        self.alerts = Alerts(self, "Alerts", config=config)
        self.functions = PlatformFunctions(self, "Functions", config=config, storage=self.storage)
        self.triggers = TriggerSupport(self, "Triggers", config=config, functions=self.functions)
        # Script tasks in Fargate containers, when the config names their network.
        self.containers = (
            Containers(self, "Containers", config=config, storage=self.storage, functions=self.functions)
            if config.container_subnets
            else None
        )
        # Before the deployer: its function writes an operator's flow-role boundaries.
        self.housekeeping = Housekeeping(self, "Housekeeping", config=config, functions=self.functions)
        self.deployer = DeployerWiring(
            self,
            "Deployer",
            config=config,
            storage=self.storage,
            functions=self.functions,
            triggers=self.triggers,
            alerts_topic=self.alerts.topic,
            housekeeping=self.housekeeping,
            containers=self.containers,
        )
        self.execution_events = ExecutionEvents(
            self,
            "ExecutionEvents",
            config=config,
            functions=self.functions,
            triggers=self.triggers,
            alerts_topic=self.alerts.topic,
        )
        # Deleted first when the stack is: the flows' roles go before the policies they use.
        self.housekeeping.delete_after(
            self.deployer.state_machine_role,
            self.deployer.flow_role_boundary,
            self.triggers.pipe_role_boundary,
            self.triggers.scheduler_role,
        )
        # Script tasks run in their flow's sandbox function, created by the deployer (issue 15).
        self.script_sandboxes = ScriptSandboxes(
            self,
            "ScriptSandboxes",
            config=config,
            functions=self.functions,
            boundary=self.deployer.flow_role_boundary,
            housekeeping=self.housekeeping,
            containers=self.containers,
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
        # The web console (`console=False` leaves it out): pages, API, user pool, distribution.
        self.console = (
            Console(self, "Console", config=config, storage=self.storage, functions=self.functions)
            if config.console
            else None
        )
        # The stack's assets, which no flow role may reach: the console's pages, the sandboxes' code.
        assets = [self.script_sandboxes.code.bucket, *([self.console.pages_bucket] if self.console else [])]
        if self.containers is not None:
            # ... but a flow's sandbox role reads the sandbox's code zip in its containers (its own
            # policy names that one object): the assets bucket is denied to every other role.
            self.containers.deny_assets_to_flow_roles(self.deployer.flow_role_boundary, assets[0])
            assets = assets[1:]
        self.deployer.flow_role_boundary.never_reach(
            *(arn for bucket in assets for arn in (bucket.bucket_arn, bucket.arn_for_objects("*")))
        )
        self._outputs()
        self._record_version()

    def _outputs(self) -> None:
        outputs = {
            "FlowsBucketName": (self.storage.flows_bucket.bucket_name, "Upload flow files (.yaml) here"),
            "DataBucketName": (self.storage.data_bucket.bucket_name, "Large outputs and files"),
            "TableName": (self.storage.table.table_name, "Executions, task runs, logs, flow records"),
            "AlertTopicArn": (self.alerts.topic.topic_arn, "Subscribe here to receive alarms"),
            "WebhookUrl": (self.triggers.webhook_url.url, "Base URL of webhook triggers"),
            "AdmissionFunctionArn": (self.functions.admission.function_arn, "Starts executions"),
            "TaskRunnerFunctionArn": (self.functions.task_runner.function_arn, "Runs tasks"),
            "PipeRolesArnPattern": (
                self.triggers.pipe_roles_arn,
                "The roles of SQS triggers' pipes, one per flow (for an encrypted queue's key policy)",
            ),
        }
        for output_id, (value, description) in outputs.items():
            self._output(output_id, value, description)
        retention = str(self.props.data_retention_days)
        self._output("DataRetentionDays", retention, "Days executions and their files are kept")

    def _record_version(self) -> None:
        """The release that built the platform: the CLI warns when it talks to another one."""
        release = version("stratoflow")
        self._output(VERSION_OUTPUT, release, "The stratoflow release deployed")
        Tags.of(self).add(VERSION_TAG, release)

    def _output(self, output_id: str, value: str, description: str) -> None:
        # The CLI reads the outputs by these names (stratoflow.cloud.config.stack), whatever the
        # construct's place in the user's app.
        output = CfnOutput(self, output_id, value=value, description=description)
        output.override_logical_id(output_id)
