"""The platform's Lambda functions: one thin handler per folder of `functions/`, one shared layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..bundling import installed_library, layer_code
from ..config import StratoflowProps
from ..grants import acknowledge_tracing, grant_bucket, grant_flow_records, grant_invoke, grant_table
from ..nag import acknowledge, wildcard_resource
from ..naming import flow_roles_path_arn, owned_flow_roles_arn, owned_state_machines_arn
from .storage import Storage

# Where flows' secrets live in Secrets Manager and SSM Parameter Store (stratoflow.cloud.config.secrets).
SECRETS_PREFIX = "stratoflow"

# A checkout's root, or the installed wheel's `stratoflow/_platform` (setup.py maps infra/ and
# functions/ there); only a checkout has shared/.
PLATFORM_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = PLATFORM_ROOT / "functions"
CHECKOUT_LIBRARY_DIR = PLATFORM_ROOT / "shared" / "stratoflow"
LAYER_REQUIREMENTS = PLATFORM_ROOT / "infra" / "lambda-requirements.txt"

RUNTIME = lambda_.Runtime.PYTHON_3_12
HANDLER = "handler.lambda_handler"
METRICS_NAMESPACE = "Stratoflow"
# Set on every platform function: no pydantic plugin is installed in the layer, so the scan of every
# installed distribution's entry points that pydantic makes when it builds its first model (reading
# each package's metadata at INIT) finds nothing and costs cold-start time; bench/cold_start.py imports
# the handlers with the same variables.
RUNTIME_ENVIRONMENT = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}


@dataclass(frozen=True)
class FunctionSpec:
    """One platform function: `functions/<name>/handler.py`, with its limits."""

    name: str
    description: str
    timeout: Duration
    memory_mb: int

    @property
    def construct_id(self) -> str:
        return "".join(part.title() for part in self.name.split("_"))

    @property
    def service_name(self) -> str:
        return "stratoflow-" + self.name.replace("_", "-")


FUNCTION_SPECS = (
    FunctionSpec("task_runner", "Runs one task of a flow execution", Duration.minutes(15), 1024),
    FunctionSpec(
        "deployer", "Validates, compiles and deploys flows uploaded to S3", Duration.minutes(5), 512
    ),
    FunctionSpec(
        "admission", "Admits every execution start: inputs, concurrency, dedupe", Duration.minutes(1), 512
    ),
    FunctionSpec(
        "execution_events", "Records Step Functions execution status changes", Duration.minutes(1), 512
    ),
    FunctionSpec("webhook", "Starts executions from webhook triggers", Duration.seconds(30), 512),
)


def library_dir() -> Path:
    """The `stratoflow` package the layer carries: the checkout's, or a copy of the installed one."""
    return CHECKOUT_LIBRARY_DIR if CHECKOUT_LIBRARY_DIR.is_dir() else installed_library()


class PlatformFunctions(Construct):
    """Creates the functions with the settings every one of them reads, and the storage each one uses.

    Wiring to other concerns (roles, queues, topics) is added by the construct of that concern.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StratoflowProps, storage: Storage
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        # Kept: the Fargate script containers download this same asset (constructs.containers).
        self.layer_code = layer_code(LAYER_REQUIREMENTS, library_dir())
        self.layer = lambda_.LayerVersion(
            self,
            "LibraryLayer",
            code=self.layer_code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="The stratoflow library and its runtime dependencies",
            # Functions keep working when the version they use is deleted: old versions are litter.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.roles: dict[str, iam.Role] = {}
        self.by_name: dict[str, lambda_.Function] = {
            spec.name: self._function(spec) for spec in FUNCTION_SPECS
        }
        self.task_runner = self.by_name["task_runner"]
        self.deployer = self.by_name["deployer"]
        self.admission = self.by_name["admission"]
        self.execution_events = self.by_name["execution_events"]
        self.webhook = self.by_name["webhook"]
        if config.webhook_concurrency and "webhook" not in dict(config.reserved_concurrency):
            # A flood of webhook requests (404s included) uses at most this many of the account's
            # concurrent executions: the rest stays for the task runner and admission. An explicit
            # `reservedConcurrency` for the webhook function wins.
            function = self.webhook.node.default_child
            assert isinstance(function, lambda_.CfnFunction)
            function.reserved_concurrent_executions = config.webhook_concurrency
        self._use_storage(storage)
        self._use_step_functions()
        self._use_secrets()
        self._use_flow_roles()

    def _function(self, spec: FunctionSpec) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{spec.construct_id}Logs",
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )
        # An own role per function instead of the AWSLambdaBasicExecutionRole managed policy: each
        # function may write only to its own log group.
        role = iam.Role(
            self,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Stratoflow {spec.name} function",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            spec.construct_id,
            description=spec.description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR / spec.name), exclude=["__pycache__", "*.pyc"]),
            layers=[self.layer],
            timeout=spec.timeout,
            memory_size=spec.memory_mb,
            reserved_concurrent_executions=dict(self._config.reserved_concurrency).get(spec.name),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": spec.service_name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LOG_LEVEL": self._config.log_level,
                "STRATOFLOW_STACK_NAME": Stack.of(self).stack_name,
                "STRATOFLOW_HISTORY_DAYS": str(self._config.data_retention_days),
                **RUNTIME_ENVIRONMENT,
            },
        )
        acknowledge(
            function,
            "Python 3.12 on purpose: the layer's wheels are built for CPython 3.12 and the library is "
            "tested on it; move the runtime and the layer together.",
            "AwsSolutions-L1",
        )
        acknowledge_tracing(role)
        self.roles[spec.name] = role
        return function

    def _use_storage(self, storage: Storage) -> None:
        # The functions' settings model requires both names, so every function gets them; access is
        # granted only where the function uses the resource.
        for function in self.by_name.values():
            function.add_environment("STRATOFLOW_TABLE_NAME", storage.table.table_name)
            function.add_environment("STRATOFLOW_DATA_BUCKET", storage.data_bucket.bucket_name)
        for name in ("task_runner", "deployer", "admission", "execution_events"):
            grant_table(storage.table, self.roles[name], write=True)
        # The webhook only looks up the flow's webhook key; admission records the execution.
        grant_table(storage.table, self.roles["webhook"], write=False)
        # Large task outputs and FILE inputs.
        for name in ("task_runner", "admission"):
            grant_bucket(storage.data_bucket, self.roles[name], write=True)
        # An SLA's assertion, judged when the execution ends, may read a large output.
        grant_bucket(storage.data_bucket, self.roles["execution_events"], write=False)
        # Flow records too large for a table item (stratoflow.store.flow_objects): the deployer writes
        # them; the webhook, which reads flows without the bucket, reads them.
        for name, write in (("deployer", True), ("webhook", False)):
            grant_flow_records(storage.data_bucket, self.roles[name], write=write)

        self.deployer.add_environment("STRATOFLOW_FLOWS_BUCKET", storage.flows_bucket.bucket_name)
        grant_bucket(storage.flows_bucket, self.roles["deployer"], write=False)

    def _use_step_functions(self) -> None:
        state_machines = owned_state_machines_arn(self)
        # Admission is the one path that starts flow executions: webhooks and the task runner
        # (subflows) go through it.
        for name in ("task_runner", "webhook"):
            self.by_name[name].add_environment("STRATOFLOW_ADMISSION_ARN", self.admission.function_arn)
            grant_invoke(self.admission, self.roles[name])
        self.roles["admission"].add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartFlowExecutions", actions=["states:StartExecution"], resources=[state_machines]
            )
        )
        # Pause and Dag states wait on a task token that the task runner completes.
        self.roles["task_runner"].add_to_principal_policy(
            iam.PolicyStatement(
                sid="CompleteWaitingStates",
                actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
                resources=[state_machines],
            )
        )
        for name in ("admission", "task_runner"):
            acknowledge(
                self.roles[name],
                "Flows' state machines are named '<StackName>-...' when a flow is deployed; the wildcard "
                "is that prefix (versions included), so no other state machine is reachable.",
                wildcard_resource(self, state_machines),
            )

    def _use_flow_roles(self) -> None:
        """AWS tasks run with their flow's own role (stratoflow.cloud.runtime.flow_credentials), not this one's."""
        self.task_runner.add_environment("STRATOFLOW_FLOW_ROLE_PREFIX", flow_roles_path_arn(self))
        flow_roles = owned_flow_roles_arn(self)
        role = self.roles["task_runner"]
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="AssumeFlowRoles", actions=["sts:AssumeRole"], resources=[flow_roles])
        )
        acknowledge(
            role,
            "The flows' own roles, created by the deployer as '/stratoflow/<StackName>-flow-<hash>'; each "
            "trusts the task runner, which assumes the role of the flow whose AWS task it runs.",
            wildcard_resource(self, flow_roles),
        )

    @property
    def secrets_arns(self) -> tuple[str, str]:
        """The flows' secrets: in Secrets Manager, and as SSM parameters."""
        stack = Stack.of(self)
        secrets = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{SECRETS_PREFIX}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        parameters = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{SECRETS_PREFIX}/*"
        )
        return secrets, parameters

    def _use_secrets(self) -> None:
        """`secret('NAME')` in the cloud: Secrets Manager `stratoflow/<namespace>/NAME`, else SSM."""
        # The webhook reads the keys given as `{{ secret('NAME') }}`.
        for function in (self.task_runner, self.webhook):
            function.add_environment("STRATOFLOW_SECRETS_BACKEND", "aws")
            function.add_environment("STRATOFLOW_SECRETS_PREFIX", SECRETS_PREFIX)
        secrets, parameters = self.secrets_arns
        for name in ("task_runner", "webhook"):
            role = self.roles[name]
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ReadFlowSecrets", actions=["secretsmanager:GetSecretValue"], resources=[secrets]
                )
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="ReadFlowParameters", actions=["ssm:GetParameter"], resources=[parameters]
                )
            )
            acknowledge(
                role,
                f"Flow secrets live under the '{SECRETS_PREFIX}/' prefix, one per namespace and name, created "
                "by the user: the wildcard is that prefix, nothing else is readable.",
                wildcard_resource(self, secrets),
                wildcard_resource(self, parameters),
            )
