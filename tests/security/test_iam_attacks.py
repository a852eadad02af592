"""Attacks on the cloud's IAM, evaluated as AWS evaluates them (an IAM policy simulator, not moto).

The roles are what the stack synthesizes and what the deployer writes at run time, from the
deployer's own code: a flow's role (`flow-tasks`, the base policy, the boundary), a flow's pipe role
(`pipe-queues`, the pipe-role boundary, its trust policy), and with namespace grants each
namespace's boundary. Each attack is a pair: the request the attacker makes, which IAM must deny,
and the legitimate call nearest to it, which IAM must allow — so an attack cannot pass because the
simulator or a policy denies everything. The synthesis is the infrastructure tests' (once per
session; tests/infrastructure/infra_synth.py).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "infrastructure"))

from iam_simulator import (
    ACCOUNT,
    PARTITION,
    REGION,
    Principal,
    Request,
    SimulatedStack,
    Simulator,
    Template,
)
from infra_synth import GRANTS_CONTEXT, OPERATOR_CONTEXT, Synthesized, synthesize_once

from stratoflow.cloud.config.naming import AccountRegion
from stratoflow.cloud.deploy.flow_boundaries import compose
from stratoflow.cloud.deploy.flow_roles import flow_policy
from stratoflow.cloud.deploy.pipe_roles import pipe_policy, pipe_trust_policy

ALLOWED, DENIALS = "Allowed", ("ImplicitlyDenied", "ExplicitlyDenied")
SECRETS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:stratoflow"
FLOW_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-flow-0123456789abcdef"
PIPE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/stratoflow/Stratoflow-pipe-0123456789abcdef"
ECS_TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/etl-task"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/admin"
STATE_MACHINES = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"
PAYROLL = f"arn:aws:sqs:{REGION}:{ACCOUNT}:payroll"
LOG_GROUPS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
SHARED_QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:shared-orders"
PIPE = "Stratoflow-orders-inbox-1a2b3c4d"
RAW = "arn:aws:s3:::lake/raw/x.json"
ORDERS_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234"
# A key's default policy: the account's IAM policies decide (KMS needs a key policy that allows).
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}
VIA_SQS = {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}
VIA_S3 = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
VIA_LAMBDA = {"kms:ViaService": f"lambda.{REGION}.amazonaws.com"}
# team.a's grants list its keys `key/aaaa*` (infra_synth.GRANTS_CONTEXT); another team's key is not one.
TEAM_A_KEY, TEAM_B_KEY = (
    f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aaaa-1111",
    f"arn:aws:kms:{REGION}:{ACCOUNT}:key/bbbb-2222",
)
# The operator's boundary (`flowPermissionsBoundaryArn`): wide on the task services, secrets and keys
# (so that what refuses the attacks below is the stack's denials), no deletes, no other service.
OPERATOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OperatorsServices",
            "Effect": "Allow",
            "Action": [
                "s3:*",
                "sqs:*",
                "dynamodb:*",
                "lambda:InvokeFunction",
                "states:*",
                "events:*",
                "xray:*",
                "logs:*",
                "secretsmanager:GetSecretValue",
                "kms:*",
            ],
            "Resource": "*",
        },
        {"Sid": "OperatorsNoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    ],
}
TO_ECS = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
# A flow role's namespace tag (`FlowTarget.tags`), as IAM reads it from the role (the simulator does
# not fill principal keys itself).
NAMESPACE_TAG = "aws:PrincipalTag/stratoflow:namespace"
OF_TEAM_A, OF_TEAM = {NAMESPACE_TAG: "team.a"}, {NAMESPACE_TAG: "team"}
OF_LAKE = {NAMESPACE_TAG: "lake"}
OUTPUTS_OF_TEAM_B, ITEMS_OF_LAKE = (
    "team.b/orders/executions/1/outputs/out.json",
    "lake/orders/executions/1/t/items.json",
)


def ask(
    principal: Principal,
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
    resource_policy: dict[str, Any] | None = None,
) -> Request:
    return Request(principal, action, resource, context or {}, resource_policy)


class Roles:
    """The principals the attacks use, resolved from the synthesized stacks (default and with grants)."""

    def __init__(self, stack: SimulatedStack, grants: Synthesized):
        self.names = stack.names
        self.table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{stack.names['table']}"
        self.data = f"arn:aws:s3:::{stack.names['data_bucket']}"
        self.flows = f"arn:aws:s3:::{stack.names['flows_bucket']}"
        base, boundary = stack.managed("base_policy"), stack.managed("flow_boundary")
        self.base, self.boundary = base, boundary
        upload = [{"Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::lake/raw/*"]}]
        pass_ecs = [{"Action": ["iam:PassRole"], "Resource": [ECS_TASK_ROLE]}]
        # A flow whose one task uploads to lake/raw/, as the deployer writes its role.
        self.flow = Principal(FLOW_ROLE, (flow_policy(upload), base), boundary)
        # A flow whose ECS task passes its task role.
        self.ecs_flow = Principal(FLOW_ROLE, (flow_policy(pass_ecs), base), boundary)
        # A deployer bug (or a tampered role) whose inline policy is `*` on `*`: the boundary still holds.
        self.widened_flow = Principal(FLOW_ROLE, (EVERYTHING, base), boundary)
        self.task_runner, self.deployer = stack.role("task_runner"), stack.role("deployer")
        # The shared state machine role: flows without AWS tasks, of every namespace; it has no tag.
        shared = stack.synth.platform.deployer.state_machine_role.role
        self.shared = stack.template.role(stack.synth.logical_id(shared))
        pipe_boundary = stack.managed("pipe_boundary")
        self.pipe = Principal(PIPE_ROLE, (pipe_policy([QUEUE], stack.names["admission"]),), pipe_boundary)
        self.widened_pipe = Principal(PIPE_ROLE, (EVERYTHING,), pipe_boundary)
        self.account = AccountRegion(PARTITION, REGION, ACCOUNT)
        self.data_policy = self._data_bucket_policy(stack.template, stack.synth)
        outputs = stack.synth.cfn["Outputs"]
        self.pipe_roles_pattern = stack.template.resolver.resolve(outputs["PipeRolesArnPattern"]["Value"])
        self._namespace_roles(grants)

    def _namespace_roles(self, grants: Synthesized) -> None:
        """With grants (team.a: team-a-*, team: team-shared/*, "*": shared-* queues), flow roles
        widened to `*` on `*`, each under its namespace's boundary."""
        template = Template(grants.cfn)
        resolve = template.resolver
        boundary = grants.platform.deployer.flow_role_boundary
        base_id = grants.logical_id(grants.platform.deployer.state_machine_role.base_policy)
        base = template.managed_policy(resolve.ref(base_id))

        def role(policy: Any) -> Principal:
            document = template.managed_policy(resolve.ref(grants.logical_id(policy)))
            return Principal(FLOW_ROLE, (EVERYTHING, base), document)

        self.team_a = role(boundary.namespace_policies["team.a"])
        self.team = role(boundary.namespace_policies["team"])
        self.lake = role(boundary.namespace_policies["lake"])
        self.grants_flows = (
            f"arn:aws:s3:::{resolve.ref(grants.logical_id(grants.platform.storage.flows_bucket))}"
        )
        self.ungranted = role(boundary.policy)
        self.grants_table = resolve.arn(grants.logical_id(grants.platform.storage.table))
        self.grants_task_runner = resolve.arn(grants.logical_id(grants.platform.functions.task_runner))
        self.grants_data = (
            f"arn:aws:s3:::{resolve.ref(grants.logical_id(grants.platform.storage.data_bucket))}"
        )
        self.grants_data_policy = self._data_bucket_policy(template, grants)
        platform = grants.platform
        self.assets = {
            "pages": resolve.arn(grants.logical_id(platform.console.pages_bucket)),
            "logs": resolve.arn(grants.logical_id(platform.storage.access_logs_bucket)),
            "code": resolve.resolve(grants.stack.resolve(platform.script_sandboxes.code.bucket.bucket_arn)),
        }

    def operator_roles(self, operator: Synthesized) -> None:
        """Under the operator's boundary, with the same grants: flow roles widened to `*` on `*`, each
        under the boundary the housekeeping function writes for its namespace (the operator's policy
        and the stack's denials, composed by `flow_boundaries.compose`)."""
        template = Template(operator.cfn)
        resolve = template.resolver
        boundary = operator.platform.deployer.flow_role_boundary
        assert boundary.operator is not None
        denials = resolve.resolve(
            operator.stack.resolve(operator.cfn["Resources"][operator.logical_id(boundary.operator.resource)])
        )["Properties"]["Denials"]
        base_id = operator.logical_id(operator.platform.deployer.state_machine_role.base_policy)
        base = template.managed_policy(resolve.ref(base_id))

        def role(namespace: str) -> Principal:
            key = "default" if namespace == "" else "n" + hashlib.sha256(namespace.encode()).hexdigest()[:8]
            return Principal(FLOW_ROLE, (EVERYTHING, base), compose(OPERATOR_POLICY, denials[key]))

        self.op_team_a, self.op_lake, self.op_ungranted = role("team.a"), role("lake"), role("")
        self.op_table = resolve.arn(operator.logical_id(operator.platform.storage.table))
        self.op_data = (
            f"arn:aws:s3:::{resolve.ref(operator.logical_id(operator.platform.storage.data_bucket))}"
        )
        self.op_data_policy = self._data_bucket_policy(template, operator)
        self.op_task_runner = resolve.arn(operator.logical_id(operator.platform.functions.task_runner))

    @staticmethod
    def _data_bucket_policy(template: Template, synth: Synthesized) -> dict[str, Any]:
        policy = template.resource_policy(
            "AWS::S3::BucketPolicy", "Bucket", synth.logical_id(synth.platform.storage.data_bucket)
        )
        assert policy is not None
        return policy

    def naming(self, resource: str, action: str) -> Principal:
        """The role the deployer writes for a flow whose one task declares `action` on `resource`."""
        declared = [{"Action": [action], "Resource": [resource]}]
        return Principal(FLOW_ROLE, (flow_policy(declared), self.base), self.boundary)

    def decrypts_queue_messages(self, principal: Principal) -> Request:
        """`kms:Decrypt` through SQS on a key whose policy is the README's grant to the stack's pipe roles
        (and nothing else: not even the account's IAM policies decide)."""
        grant = {
            "Sid": "StratoflowPipes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {
                "ArnLike": {"aws:PrincipalArn": self.pipe_roles_pattern},
                "StringEquals": {**VIA_SQS, "kms:CallerAccount": ACCOUNT},
            },
        }
        context = {**VIA_SQS, "kms:CallerAccount": ACCOUNT, "aws:PrincipalArn": principal.arn}
        key_policy = {"Version": "2012-10-17", "Statement": [grant]}
        return Request(principal, "kms:Decrypt", KEY, context, key_policy)

    def pipe_assumes(self, source_arn: str, source_account: str = ACCOUNT) -> Request:
        """EventBridge Pipes assuming a flow's pipe role, whose trust names the flow's one pipe."""
        trust = pipe_trust_policy(self.account, [PIPE])
        context = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account}
        return Request(Principal("pipes.amazonaws.com", ()), "sts:AssumeRole", PIPE_ROLE, context, trust)


# {attack: (the attacker's request, which IAM must deny; the legitimate call nearest to it, allowed)}
ATTACKS: dict[str, Callable[[Roles], tuple[Request, Request]]] = {
    # --- a flow's role, as the deployer writes it for a flow that uploads to lake/raw/ ---
    "flow role reads what it may only write": lambda r: (
        ask(r.flow, "s3:GetObject", RAW),
        ask(r.flow, "s3:PutObject", RAW),
    ),
    "flow role writes another prefix": lambda r: (
        ask(r.flow, "s3:PutObject", "arn:aws:s3:::lake/curated/x.json"),
        ask(r.flow, "s3:PutObject", RAW),
    ),
    "flow role writes another bucket": lambda r: (
        ask(r.flow, "s3:PutObject", "arn:aws:s3:::other-team/raw/x.json"),
        ask(r.flow, "s3:PutObject", RAW),
    ),
    "flow role invokes another function": lambda r: (
        ask(r.flow, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:payroll"),
        ask(r.flow, "lambda:InvokeFunction", r.names["task_runner"]),
    ),
    # Secrets, the table and the data bucket are the task runner's, which checks namespaces in code.
    "flow role reads its own namespace's secret directly": lambda r: (
        ask(r.flow, "secretsmanager:GetSecretValue", f"{SECRETS}/team.a/token-AbCdEf"),
        ask(r.task_runner, "secretsmanager:GetSecretValue", f"{SECRETS}/team.a/token-AbCdEf"),
    ),
    "flow role reads another namespace's secret": lambda r: (
        ask(r.flow, "secretsmanager:GetSecretValue", f"{SECRETS}/team.b/token-AbCdEf"),
        ask(r.task_runner, "secretsmanager:GetSecretValue", f"{SECRETS}/team.b/token-AbCdEf"),
    ),
    "flow role reads the table": lambda r: (
        ask(r.flow, "dynamodb:GetItem", r.table),
        ask(r.task_runner, "dynamodb:GetItem", r.table),
    ),
    "flow role writes the table": lambda r: (
        ask(r.flow, "dynamodb:PutItem", r.table),
        ask(r.task_runner, "dynamodb:PutItem", r.table),
    ),
    "flow role reads another namespace's outputs": lambda r: (
        ask(r.flow, "s3:GetObject", f"{r.data}/team.b/orders/executions/1/outputs/out.json", OF_TEAM_A),
        # ... while its distributed maps read their items from the same bucket
        ask(r.flow, "s3:GetObject", f"{r.data}/team.a/orders/executions/1/t/items.json", OF_TEAM_A),
    ),
    "flow role reads another namespace's files": lambda r: (
        ask(r.flow, "s3:GetObject", f"{r.data}/namespaces/team.b/files/config.yaml", OF_TEAM_A),
        ask(r.flow, "s3:PutObject", f"{r.data}/map-results/team.a/1/manifest.json", OF_TEAM_A),
    ),
    # The distributed Map's objects: its items (loop values, ForEachItem lines) and its results are
    # those of the role's own namespace (its stratoflow:namespace tag) only.
    "flow role reads another namespace's loop items": lambda r: (
        ask(r.flow, "s3:GetObject", f"{r.data}/team.b/orders/executions/1/t/items.json", OF_TEAM_A),
        ask(r.flow, "s3:GetObject", f"{r.data}/team.a/orders/executions/1/t/items.json", OF_TEAM_A),
    ),
    "flow role reads its child namespace's loop items": lambda r: (
        ask(r.flow, "s3:GetObject", f"{r.data}/team.a/orders/executions/1/t/items.json", OF_TEAM),
        ask(r.flow, "s3:GetObject", f"{r.data}/team/orders/executions/1/t/items.json", OF_TEAM),
    ),
    "flow role reads another namespace's map results": lambda r: (
        ask(r.flow, "s3:GetObject", f"{r.data}/map-results/team.b/1/SUCCEEDED_0.json", OF_TEAM_A),
        ask(r.flow, "s3:GetObject", f"{r.data}/map-results/team.a/1/SUCCEEDED_0.json", OF_TEAM_A),
    ),
    "flow role writes another namespace's map results": lambda r: (
        ask(r.flow, "s3:PutObject", f"{r.data}/map-results/team.b/1/manifest.json", OF_TEAM_A),
        ask(r.flow, "s3:PutObject", f"{r.data}/map-results/team.a/1/manifest.json", OF_TEAM_A),
    ),
    "widened flow role reads another namespace's loop items": lambda r: (
        ask(r.widened_flow, "s3:GetObject", f"{r.data}/team.b/orders/executions/1/t/items.json", OF_TEAM_A),
        ask(r.widened_flow, "s3:GetObject", f"{r.data}/team.a/orders/executions/1/t/items.json", OF_TEAM_A),
    ),
    "flow role without its namespace tag reads loop items": lambda r: (
        ask(r.flow, "s3:GetObject", f"{r.data}/team.b/orders/executions/1/t/items.json"),
        # ... while the shared role (no tag, no task holds it) runs every namespace's distributed maps
        ask(r.shared, "s3:GetObject", f"{r.data}/team.b/orders/executions/1/t/items.json"),
    ),
    "flow role without its namespace tag writes map results": lambda r: (
        ask(r.flow, "s3:PutObject", f"{r.data}/map-results/team.b/1/manifest.json"),
        ask(r.shared, "s3:PutObject", f"{r.data}/map-results/team.b/1/manifest.json"),
    ),
    "flow role starts another stack's state machine": lambda r: (
        ask(r.flow, "states:StartExecution", f"{STATE_MACHINES}:Other-x"),
        ask(r.flow, "states:StartExecution", f"{STATE_MACHINES}:Stratoflow-team_a-child"),  # a subflow
    ),
    "flow role rewrites its own policy": lambda r: (
        ask(r.flow, "iam:PutRolePolicy", FLOW_ROLE),
        ask(
            r.deployer, "iam:PutRolePolicy", FLOW_ROLE, {"iam:PermissionsBoundary": r.names["flow_boundary"]}
        ),
    ),
    "flow role assumes the shared state machine role": lambda r: (
        ask(r.flow, "sts:AssumeRole", r.names["state_machine_role"]),
        ask(r.task_runner, "sts:AssumeRole", FLOW_ROLE),
    ),
    "flow role passes a role to Lambda": lambda r: (
        ask(r.ecs_flow, "iam:PassRole", ECS_TASK_ROLE, {"iam:PassedToService": "lambda.amazonaws.com"}),
        ask(r.ecs_flow, "iam:PassRole", ECS_TASK_ROLE, TO_ECS),
    ),
    # --- a flow whose task names the stack's own storage: the boundary excludes it ---
    "a flow's task reads the stack's table": lambda r: (
        ask(r.naming(r.table, "dynamodb:GetItem"), "dynamodb:GetItem", r.table),
        ask(r.naming(ORDERS_TABLE, "dynamodb:GetItem"), "dynamodb:GetItem", ORDERS_TABLE),
    ),
    "a flow's task reads another namespace's files in the data bucket": lambda r: (
        ask(
            r.naming(f"{r.data}/*", "s3:GetObject"),
            "s3:GetObject",
            f"{r.data}/namespaces/team.b/files/config.yaml",
        ),
        ask(r.naming("arn:aws:s3:::*", "s3:GetObject"), "s3:GetObject", "arn:aws:s3:::lake/raw/x.json"),
    ),
    "a flow's task uploads a flow to the flows bucket": lambda r: (
        ask(r.naming("arn:aws:s3:::*", "s3:PutObject"), "s3:PutObject", f"{r.flows}/flows/evil.yaml"),
        ask(r.naming("arn:aws:s3:::*", "s3:PutObject"), "s3:PutObject", RAW),
    ),
    # --- the same role widened to `*` on `*`: the stack-wide boundary ---
    "widened flow role writes the table": lambda r: (
        ask(r.widened_flow, "dynamodb:PutItem", r.table),
        ask(r.widened_flow, "dynamodb:PutItem", ORDERS_TABLE),
    ),
    "widened flow role reads a secret": lambda r: (
        ask(r.widened_flow, "secretsmanager:GetSecretValue", f"{SECRETS}/team.b/token-AbCdEf"),
        ask(r.task_runner, "secretsmanager:GetSecretValue", f"{SECRETS}/team.b/token-AbCdEf"),
    ),
    "widened flow role creates a user": lambda r: (
        ask(r.widened_flow, "iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"),
        # ... while the task library's services stay within the boundary
        ask(r.widened_flow, "s3:GetObject", "arn:aws:s3:::any/x"),
    ),
    "widened flow role passes an admin role": lambda r: (
        ask(r.widened_flow, "iam:PassRole", ADMIN_ROLE),
        ask(r.widened_flow, "iam:PassRole", ECS_TASK_ROLE, TO_ECS),
    ),
    "widened flow role assumes an admin role": lambda r: (
        ask(r.widened_flow, "sts:AssumeRole", ADMIN_ROLE),
        ask(r.task_runner, "sts:AssumeRole", FLOW_ROLE),
    ),
    "widened flow role decrypts with a key": lambda r: (
        ask(r.widened_flow, "kms:Decrypt", KEY, resource_policy=KEY_POLICY),
        ask(r.widened_pipe, "kms:Decrypt", KEY, VIA_SQS, KEY_POLICY),  # only pipes decrypt, through SQS
    ),
    # --- a flow's pipe role, for its one declared queue ---
    "pipe role reads an undeclared queue": lambda r: (
        ask(r.pipe, "sqs:ReceiveMessage", PAYROLL),
        ask(r.pipe, "sqs:ReceiveMessage", QUEUE),
    ),
    "pipe role reads an undeclared queue's attributes": lambda r: (
        ask(r.pipe, "sqs:GetQueueAttributes", PAYROLL),
        ask(r.pipe, "sqs:GetQueueAttributes", QUEUE),
    ),
    "pipe role sends to its queue": lambda r: (
        ask(r.pipe, "sqs:SendMessage", QUEUE),
        ask(r.pipe, "sqs:ReceiveMessage", QUEUE),
    ),
    "pipe role purges its queue": lambda r: (
        ask(r.pipe, "sqs:PurgeQueue", QUEUE),
        ask(r.pipe, "sqs:DeleteMessage", QUEUE),  # what admission took
    ),
    "pipe role invokes the task runner": lambda r: (
        ask(r.pipe, "lambda:InvokeFunction", r.names["task_runner"]),
        ask(r.pipe, "lambda:InvokeFunction", r.names["admission"]),
    ),
    # --- the same role widened to `*` on `*`: the pipe-role boundary ---
    "widened pipe role sends messages": lambda r: (
        ask(r.widened_pipe, "sqs:SendMessage", QUEUE),
        ask(r.widened_pipe, "sqs:ReceiveMessage", QUEUE),
    ),
    "widened pipe role reads another region's queue": lambda r: (
        ask(r.widened_pipe, "sqs:ReceiveMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"),
        ask(r.widened_pipe, "sqs:ReceiveMessage", QUEUE),
    ),
    "widened pipe role starts a state machine": lambda r: (
        ask(r.widened_pipe, "states:StartExecution", f"{STATE_MACHINES}:Stratoflow-x"),
        ask(r.widened_pipe, "lambda:InvokeFunction", r.names["admission"]),
    ),
    "widened pipe role decrypts outside SQS": lambda r: (
        ask(r.widened_pipe, "kms:Decrypt", KEY, resource_policy=KEY_POLICY),
        ask(r.widened_pipe, "kms:Decrypt", KEY, VIA_SQS, KEY_POLICY),
    ),
    "another role of the account decrypts with the pipes' key grant": lambda r: (
        # an administrator role of the account: the key's policy, not IAM policies, decides
        r.decrypts_queue_messages(Principal(ECS_TASK_ROLE, (EVERYTHING,))),
        r.decrypts_queue_messages(r.pipe),
    ),
    # --- who may assume a pipe role: its trust policy ---
    "another flow's pipe assumes the pipe role": lambda r: (
        r.pipe_assumes(r.account.pipe_arn("Stratoflow-other-inbox-5e6f7a8b")),
        r.pipe_assumes(r.account.pipe_arn(PIPE)),
    ),
    "another account's pipe assumes the pipe role": lambda r: (
        r.pipe_assumes(f"arn:aws:pipes:{REGION}:999999999999:pipe/{PIPE}", "999999999999"),
        r.pipe_assumes(r.account.pipe_arn(PIPE)),
    ),
    # --- with namespace grants: flow roles widened to `*` on `*` under their namespace's boundary ---
    "team.a reaches team.b's bucket": lambda r: (
        ask(r.team_a, "s3:GetObject", "arn:aws:s3:::team-b-lake/x"),
        ask(r.team_a, "s3:GetObject", "arn:aws:s3:::team-a-lake/x"),
    ),
    "team.a reaches an ungranted queue": lambda r: (
        ask(r.team_a, "sqs:SendMessage", PAYROLL),
        ask(r.team_a, "sqs:SendMessage", SHARED_QUEUE),  # everyone's grant
    ),
    "team.a reaches the stack's table": lambda r: (
        ask(r.team_a, "dynamodb:GetItem", r.grants_table),
        ask(r.team_a, "s3:GetObject", "arn:aws:s3:::team-shared/x"),  # its parent's grant
    ),
    "team.a invokes another function": lambda r: (
        ask(r.team_a, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:payroll"),
        ask(r.team_a, "lambda:InvokeFunction", r.grants_task_runner),  # the base policy still works
    ),
    "team.a's script sandbox writes another function's logs": lambda r: (
        ask(r.team_a, "logs:PutLogEvents", f"{LOG_GROUPS}/aws/lambda/Stratoflow-task-runner:log-stream:x"),
        ask(r.team_a, "logs:PutLogEvents", f"{LOG_GROUPS}/aws/lambda/Stratoflow-sbx-0123abcd:log-stream:x"),
    ),
    # lake is granted every bucket (`arn:aws:s3:::*`): the boundary still denies the stack's records
    "a namespace granted every bucket uploads a flow": lambda r: (
        ask(r.lake, "s3:PutObject", f"{r.grants_flows}/flows/evil.yaml"),
        ask(r.lake, "s3:PutObject", "arn:aws:s3:::lake-raw/x.json"),
    ),
    "a namespace granted every bucket reads the stack's table": lambda r: (
        ask(r.lake, "dynamodb:GetItem", r.grants_table),
        ask(r.lake, "s3:GetObject", "arn:aws:s3:::lake-raw/x.json"),
    ),
    "team reaches its child's grants": lambda r: (
        ask(r.team, "s3:GetObject", "arn:aws:s3:::team-a-lake/x"),
        ask(r.team, "s3:GetObject", "arn:aws:s3:::team-shared/x"),
    ),
    "an ungranted namespace reaches team's grants": lambda r: (
        ask(r.ungranted, "s3:GetObject", "arn:aws:s3:::team-shared/x"),
        ask(r.ungranted, "sqs:SendMessage", SHARED_QUEUE),
    ),
    # --- every boundary denies the stack's records and assets, whatever the namespace's grants ---
    # lake is granted every bucket; the data bucket's policy leaves its flow roles their own map objects
    "a namespace granted every bucket reads another namespace's outputs": lambda r: (
        ask(r.lake, "s3:GetObject", f"{r.grants_data}/{OUTPUTS_OF_TEAM_B}", OF_LAKE, r.grants_data_policy),
        ask(r.lake, "s3:GetObject", f"{r.grants_data}/{ITEMS_OF_LAKE}", OF_LAKE, r.grants_data_policy),
    ),
    "a namespace granted every bucket reads another namespace's loop items": lambda r: (
        ask(
            r.lake,
            "s3:GetObject",
            f"{r.grants_data}/team.b/f/executions/1/t/items.json",
            OF_LAKE,
            r.grants_data_policy,
        ),
        ask(r.lake, "s3:GetObject", f"{r.grants_data}/{ITEMS_OF_LAKE}", OF_LAKE, r.grants_data_policy),
    ),
    "a namespace granted every bucket writes another namespace's map results": lambda r: (
        ask(
            r.lake,
            "s3:PutObject",
            f"{r.grants_data}/map-results/team.b/1/x.json",
            OF_LAKE,
            r.grants_data_policy,
        ),
        ask(
            r.lake,
            "s3:PutObject",
            f"{r.grants_data}/map-results/lake/1/x.json",
            OF_LAKE,
            r.grants_data_policy,
        ),
    ),
    "a namespace granted every bucket reads another namespace's files": lambda r: (
        ask(
            r.lake,
            "s3:GetObject",
            f"{r.grants_data}/namespaces/team.b/files/a.yaml",
            OF_LAKE,
            r.grants_data_policy,
        ),
        ask(r.lake, "s3:GetObject", "arn:aws:s3:::lake-raw/a.yaml"),
    ),
    "a namespace granted every bucket lists the data bucket": lambda r: (
        ask(r.lake, "s3:ListBucket", r.grants_data, OF_LAKE, r.grants_data_policy),
        ask(r.lake, "s3:ListBucket", "arn:aws:s3:::lake-raw"),
    ),
    "a flow role without its namespace tag reads loop items through a wide grant": lambda r: (
        ask(r.lake, "s3:GetObject", f"{r.grants_data}/{ITEMS_OF_LAKE}", resource_policy=r.grants_data_policy),
        ask(r.lake, "s3:GetObject", f"{r.grants_data}/{ITEMS_OF_LAKE}", OF_LAKE, r.grants_data_policy),
    ),
    "a namespace granted every bucket rewrites the console's pages": lambda r: (
        ask(r.lake, "s3:PutObject", f"{r.assets['pages']}/index.html"),
        ask(r.lake, "s3:PutObject", "arn:aws:s3:::lake-raw/index.html"),
    ),
    "a namespace granted every bucket replaces the sandboxes' code": lambda r: (
        ask(r.lake, "s3:PutObject", f"{r.assets['code']}/0123abcd.zip"),
        ask(r.lake, "s3:PutObject", "arn:aws:s3:::lake-raw/0123abcd.zip"),
    ),
    "a namespace granted every bucket reads the access logs": lambda r: (
        ask(r.lake, "s3:GetObject", f"{r.assets['logs']}/data-bucket/2026-01-01"),
        ask(r.lake, "s3:GetObject", "arn:aws:s3:::lake-raw/2026-01-01"),
    ),
    "the default boundary's data bucket refuses another namespace's outputs": lambda r: (
        ask(r.widened_flow, "s3:GetObject", f"{r.data}/{OUTPUTS_OF_TEAM_B}", OF_TEAM_A, r.data_policy),
        ask(
            r.widened_flow,
            "s3:GetObject",
            f"{r.data}/team.a/f/executions/1/t/items.json",
            OF_TEAM_A,
            r.data_policy,
        ),
    ),
    # --- KMS: the namespace's keys, only through S3, SQS, SNS or DynamoDB ---
    "a flow's declared key used outside the task services": lambda r: (
        ask(r.naming(KEY, "kms:Decrypt"), "kms:Decrypt", KEY, resource_policy=KEY_POLICY),
        ask(r.naming(KEY, "kms:Decrypt"), "kms:Decrypt", KEY, VIA_S3, KEY_POLICY),
    ),
    "team.a decrypts with its key outside the task services": lambda r: (
        ask(r.team_a, "kms:Decrypt", TEAM_A_KEY, resource_policy=KEY_POLICY),
        ask(r.team_a, "kms:Decrypt", TEAM_A_KEY, VIA_S3, KEY_POLICY),
    ),
    "team.a uses another team's key through S3": lambda r: (
        ask(r.team_a, "kms:GenerateDataKey", TEAM_B_KEY, VIA_S3, KEY_POLICY),
        ask(r.team_a, "kms:GenerateDataKey", TEAM_A_KEY, VIA_S3, KEY_POLICY),
    ),
    "team.a uses its key through Lambda": lambda r: (
        ask(r.team_a, "kms:Decrypt", TEAM_A_KEY, VIA_LAMBDA, KEY_POLICY),
        ask(r.team_a, "kms:Decrypt", TEAM_A_KEY, VIA_SQS, KEY_POLICY),
    ),
    "team.a schedules its key's deletion": lambda r: (
        ask(r.team_a, "kms:ScheduleKeyDeletion", TEAM_A_KEY, VIA_S3, KEY_POLICY),
        ask(r.team_a, "kms:Encrypt", TEAM_A_KEY, VIA_S3, KEY_POLICY),
    ),
    "an ungranted namespace uses team.a's key": lambda r: (
        ask(r.ungranted, "kms:Decrypt", TEAM_A_KEY, VIA_S3, KEY_POLICY),
        ask(r.team_a, "kms:Decrypt", TEAM_A_KEY, VIA_S3, KEY_POLICY),
    ),
    # --- under the operator's boundary (its policy and the stack's denials), the same grants ---
    "with the operator's boundary, team.a reaches another team's bucket": lambda r: (
        ask(r.op_team_a, "s3:GetObject", "arn:aws:s3:::team-b-lake/x"),
        ask(r.op_team_a, "s3:GetObject", "arn:aws:s3:::team-a-lake/x"),
    ),
    "with the operator's boundary, team.a sends to an ungranted queue": lambda r: (
        ask(r.op_team_a, "sqs:SendMessage", PAYROLL),
        ask(r.op_team_a, "sqs:SendMessage", SHARED_QUEUE),
    ),
    "with the operator's boundary, team.a invokes another function": lambda r: (
        ask(r.op_team_a, "lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:payroll"),
        ask(r.op_team_a, "lambda:InvokeFunction", r.op_task_runner),
    ),
    "with the operator's boundary, a namespace goes beyond the operator's policy": lambda r: (
        ask(r.op_lake, "s3:DeleteObject", "arn:aws:s3:::lake-raw/x.json"),
        ask(r.op_lake, "s3:PutObject", "arn:aws:s3:::lake-raw/x.json"),
    ),
    "with the operator's boundary, team.a uses a service the operator does not allow": lambda r: (
        ask(
            r.op_team_a, "athena:StartQueryExecution", f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary"
        ),
        ask(r.op_team_a, "s3:PutObject", "arn:aws:s3:::team-a-lake/x"),
    ),
    "with the operator's boundary, a flow reads the stack's secrets": lambda r: (
        ask(r.op_team_a, "secretsmanager:GetSecretValue", f"{SECRETS}/team.a/token-AbCdEf"),
        # ... which the operator's policy allows elsewhere: the stack denies its own prefix only
        ask(
            r.op_team_a,
            "secretsmanager:GetSecretValue",
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ops/x-AbCdEf",
        ),
    ),
    "with the operator's boundary, a namespace granted every bucket writes the stack's table": lambda r: (
        ask(r.op_lake, "dynamodb:PutItem", r.op_table),
        ask(r.op_lake, "s3:GetObject", "arn:aws:s3:::lake-raw/x.json"),
    ),
    "with the operator's boundary, a namespace granted every bucket reads another namespace's outputs": lambda r: (
        ask(r.op_lake, "s3:GetObject", f"{r.op_data}/{OUTPUTS_OF_TEAM_B}", OF_LAKE, r.op_data_policy),
        ask(r.op_lake, "s3:GetObject", f"{r.op_data}/{ITEMS_OF_LAKE}", OF_LAKE, r.op_data_policy),
    ),
    "with the operator's boundary, team.a decrypts outside the task services": lambda r: (
        ask(r.op_team_a, "kms:Decrypt", TEAM_A_KEY, resource_policy=KEY_POLICY),
        ask(r.op_team_a, "kms:Decrypt", TEAM_A_KEY, VIA_S3, KEY_POLICY),
    ),
    "with the operator's boundary, team.a uses another team's key": lambda r: (
        ask(r.op_team_a, "kms:Decrypt", TEAM_B_KEY, VIA_S3, KEY_POLICY),
        ask(r.op_team_a, "kms:Decrypt", TEAM_A_KEY, VIA_S3, KEY_POLICY),
    ),
    "with the operator's boundary, an ungranted namespace reaches team's grants": lambda r: (
        ask(r.op_ungranted, "s3:GetObject", "arn:aws:s3:::team-shared/x"),
        ask(r.op_ungranted, "sqs:SendMessage", SHARED_QUEUE),
    ),
}


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Every attack and its legitimate call, evaluated in one simulator run: {attack: (answer, answer)}."""
    stack = SimulatedStack(synthesize_once("default", tmp_path_factory.mktemp("cdk-default")))
    grants = synthesize_once("grants", tmp_path_factory.mktemp("cdk-grants"), **GRANTS_CONTEXT)
    roles = Roles(stack, grants)
    roles.operator_roles(
        synthesize_once("operator", tmp_path_factory.mktemp("cdk-operator"), **OPERATOR_CONTEXT)
    )
    pairs = {name: build(roles) for name, build in ATTACKS.items()}
    results = iter(Simulator().evaluate([request for pair in pairs.values() for request in pair]))
    return {name: (next(results), next(results)) for name in pairs}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_iam_denies_the_attack_and_allows_the_legitimate_call_next_to_it(
    answers: dict[str, tuple[str, str]], attack: str
) -> None:
    # Given the request the attack makes and the legitimate call nearest to it, as IAM sees them
    attacked, legitimate = answers[attack]

    # Then IAM denies the attack, and allows the legitimate call
    assert attacked in DENIALS
    assert legitimate == ALLOWED
