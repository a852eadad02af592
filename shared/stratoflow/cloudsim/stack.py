"""The stack's resources that matter to its code path, created on a running moto mock.

The table has exactly the key schema of infra/constructs/storage.py (the integration tests compare
them), the flows bucket is versioned as on AWS, and the functions' ARNs are names the in-process
Lambda hook answers, and the pipe roles of SQS triggers get their boundary. Everything else (functions, rules,
queues, pipe deliveries) is played by the simulation itself.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from moto.core.models import botocore_stubber

from stratoflow.cloud.config.naming import FLOW_ROLE_PATH
from stratoflow.cloud.config.settings import Settings

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_dynamodb import DynamoDBClient

ACCOUNT = "123456789012"
REGION = "us-east-1"

# The table as infra/constructs/storage.py declares it.
PARTITION_KEY = "pk"
SORT_KEY = "sk"
GLOBAL_INDEXES = {
    "gsi1": ("gsi1pk", "gsi1sk"),
    "gsi2": ("gsi2pk", "gsi2sk"),
    "gsi3": ("gsi3pk", "gsi3sk"),
}
# Non-key attributes each index includes (stratoflow.store.dynamo_items.INDEX_PROJECTIONS).
INDEX_PROJECTIONS = {"gsi1": ("flowId", "state"), "gsi2": ("flowId", "state"), "gsi3": ("namespace",)}
TTL_ATTRIBUTE = "ttl"

TASK_RUNNER = "stratoflow-task-runner"
ADMISSION = "stratoflow-admission"
_STATES_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
# The pipe roles' boundary (the deployer creates one role per flow with SQS triggers under it); moto
# enforces no policy, infra/constructs/triggers.py holds the real one.
_PIPE_BOUNDARY = {
    "Effect": "Allow",
    "Action": ["sqs:ReceiveMessage", "lambda:InvokeFunction"],
    "Resource": "*",
}
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@dataclass(frozen=True)
class SimulatedStack:
    """Names and ARNs of the simulated stack's resources, as the functions' settings carry them."""

    settings: Settings

    @property
    def admission_arn(self) -> str:
        return self.settings.stratoflow_admission_arn

    @property
    def task_runner_arn(self) -> str:
        return self.settings.stratoflow_task_runner_arn


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def create_stack(stack_name: str = "Stratoflow") -> SimulatedStack:
    """Create the buckets, table, topic, role and log group of a stack on moto; returns their settings."""
    prefix = stack_name.lower()
    flows_bucket, data_bucket = f"{prefix}-flows-bucket", f"{prefix}-data-bucket"
    table = f"{stack_name}-Table"
    s3 = boto3.client("s3")
    for bucket in (flows_bucket, data_bucket):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=flows_bucket, VersioningConfiguration={"Status": "Enabled"})
    create_table(boto3.client("dynamodb"), table)
    topic = boto3.client("sns").create_topic(Name=f"{stack_name}-Alerts")["TopicArn"]
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName=f"{stack_name}-StateMachineRole", AssumeRolePolicyDocument=json.dumps(_STATES_TRUST)
    )["Role"]["Arn"]
    task_runner_role, base_policy, boundary = create_flow_role_support(iam, stack_name)
    pipe_boundary = iam.create_policy(
        PolicyName=f"{stack_name}-PipeRoleBoundary",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [_PIPE_BOUNDARY]}),
    )["Policy"]["Arn"]
    log_group = f"/aws/vendedlogs/states/{stack_name}"
    boto3.client("logs").create_log_group(logGroupName=log_group)
    assets, code_key, layer = create_sandbox_assets(s3, prefix)
    settings = Settings(
        stratoflow_table_name=table,
        stratoflow_data_bucket=data_bucket,
        stratoflow_flows_bucket=flows_bucket,
        stratoflow_stack_name=stack_name,
        stratoflow_task_runner_arn=function_arn(TASK_RUNNER),
        stratoflow_admission_arn=function_arn(ADMISSION),
        stratoflow_state_machine_role_arn=role,
        stratoflow_state_machine_log_group_arn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}:*",
        stratoflow_alert_topic_arn=topic,
        stratoflow_event_bus_name="default",
        stratoflow_events_rule_prefix=f"{stack_name}-",
        stratoflow_pipe_boundary_arn=pipe_boundary,
        stratoflow_task_runner_role_arn=task_runner_role,
        stratoflow_flow_base_policy_arn=base_policy,
        stratoflow_flow_boundary_arn=boundary,
        stratoflow_flow_role_prefix=f"arn:aws:iam::{ACCOUNT}:role{FLOW_ROLE_PATH}",
        stratoflow_script_sandboxes=True,
        stratoflow_sandbox_code_bucket=assets,
        stratoflow_sandbox_code_key=code_key,
        stratoflow_platform_layer_arn=layer,
        # Container-run tasks: names only; the simulation runs their containers as processes
        # (cloudsim.containers), with the sandbox's code of the checkout rather than a zip.
        stratoflow_container_cluster_arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{stack_name}-Containers",
        stratoflow_container_task_definition=f"{stack_name}-Containers",
        stratoflow_container_subnets="subnet-0123456789abcdef0",
        stratoflow_container_security_groups="sg-0123456789abcdef0",
        stratoflow_container_code_bucket=assets,
        stratoflow_container_code_key=code_key,
    )
    return SimulatedStack(settings)


def create_sandbox_assets(s3: S3Client, prefix: str) -> tuple[str, str, str]:
    """The sandbox function's code in an assets bucket, and the platform layer: (bucket, key, layer ARN).

    moto stores a function's code but never runs it: the simulation answers the sandbox functions
    itself (`cloudsim.sandboxes`), so the archives only have to exist."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as files:
        files.writestr(
            "handler.py", "from stratoflow.tasks.scripts.sandbox import handle as lambda_handler\n"
        )
    bucket, key = f"{prefix}-assets-bucket", "script-sandbox.zip"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=archive.getvalue())
    layer = boto3.client("lambda").publish_layer_version(
        LayerName=f"{prefix}-library",
        Content={"ZipFile": archive.getvalue()},
        CompatibleRuntimes=["python3.12"],
    )["LayerVersionArn"]
    return bucket, key, str(layer)


def create_flow_role_support(iam: IAMClient, stack_name: str) -> tuple[str, str, str]:
    """The task runner's role, the flow roles' base policy and their boundary: (role, base, boundary) ARNs.

    moto enforces no IAM policy: their documents only have to be valid (infra/constructs/workflow_role.py
    holds the real ones).
    """
    role = iam.create_role(
        RoleName=f"{stack_name}-TaskRunnerRole", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST)
    )["Role"]["Arn"]
    invoke = {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": [function_arn(TASK_RUNNER), function_arn(ADMISSION)],
    }
    base = iam.create_policy(
        PolicyName=f"{stack_name}-FlowBase",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [invoke]}),
    )["Policy"]["Arn"]
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    boundary = iam.create_policy(
        PolicyName=f"{stack_name}-FlowBoundary",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )["Policy"]["Arn"]
    return role, base, boundary


def create_table(client: DynamoDBClient, name: str) -> None:
    """The execution store's table, exactly as the CDK stack declares it."""
    attributes = [PARTITION_KEY, SORT_KEY, *(name for pair in GLOBAL_INDEXES.values() for name in pair)]
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        KeySchema=[
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": sort, "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(INDEX_PROJECTIONS[index]),
                },
            }
            for index, (partition, sort) in GLOBAL_INDEXES.items()
        ],
    )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def atomic_dynamodb_client() -> DynamoDBClient:
    """A DynamoDB client whose requests moto applies one at a time, as DynamoDB applies each atomically.

    moto's in-memory backend is not atomic across threads (two task runs of a Parallel could both
    read a counter before either writes it); serialising requests restores DynamoDB's guarantee
    while the store's multi-request sequences still interleave.
    """
    client = boto3.client("dynamodb")
    lock = threading.Lock()

    def one_request_at_a_time(event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return botocore_stubber(event_name, request, **kwargs)

    client.meta.events.unregister("before-send", botocore_stubber)  # type: ignore[arg-type]  # it answers: see lambdas.py
    client.meta.events.register("before-send.dynamodb", one_request_at_a_time)
    return client
