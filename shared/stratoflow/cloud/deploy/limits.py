"""Every AWS limit a deployment meets, measured before anything is created: one place for both
`strato validate` and the deployer, so that both print the same located messages for the same file.

- The state machine definition as the deployer sends it (`compiler.definition_text`: real ARNs substituted,
  compact JSON) against Step Functions' 1,048,576 bytes.
- The flow record (source + compiled definition) against the execution store's record limit.
- The inline IAM policy of the flow's own role against IAM's 10,240 characters.

`strato validate` does not know the account: it measures with `DeployNames.example()`, ARNs as long as
a standard account's can be, so a definition it accepts is never larger once deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stratoflow.cloud.config.naming import AccountRegion, state_machine_name
from stratoflow.cloud.deploy.containers import ContainerStack, container_problems
from stratoflow.cloud.deploy.flow_roles import check_policy_size
from stratoflow.cloud.deploy.sandboxes import SANDBOX_POLICY_CHARS, runs_scripts
from stratoflow.compiler import (
    MAX_DEFINITION_BYTES,
    compile_flow,
    definition_text,
    state_machine_placeholder,
    substitute,
)
from stratoflow.compiler.flow import CompiledFlow
from stratoflow.domain import FlowRecord
from stratoflow.errors import CompileError, Diagnostic
from stratoflow.flow import Flow
from stratoflow.store.rules import MAX_RECORD_BYTES, flow_record_size
from stratoflow.tasks.native import ForEachItem, Subflow

# The longest standard region name, and a stack name as long as the stack's config allows.
_EXAMPLE_REGION = "ap-southeast-5"
_EXAMPLE_STACK = "Stratoflow"


@dataclass(frozen=True)
class DeployNames:
    """What a definition's placeholders become in one stack: the task runner and state machine ARNs."""

    stack_name: str
    account: AccountRegion
    task_runner_arn: str
    flow_roles: bool = True
    data_bucket: str = ""
    containers: ContainerStack = field(default_factory=ContainerStack)

    @classmethod
    def example(cls) -> DeployNames:
        account = AccountRegion("aws", _EXAMPLE_REGION, "123456789012")
        runner = (
            f"arn:aws:lambda:{_EXAMPLE_REGION}:123456789012:function:{_EXAMPLE_STACK}-TaskRunner-0123456789AB"
        )
        # CDK names the bucket <stack>-databucket<hash>-<suffix>, in lower case, up to 63 characters.
        bucket = f"{_EXAMPLE_STACK.lower()}-storagedatabucket0123456789-abcdefghijkl"
        prefix = f"arn:aws:ecs:{_EXAMPLE_REGION}:123456789012"
        containers = ContainerStack(
            cluster_arn=f"{prefix}:cluster/{_EXAMPLE_STACK}-ContainersCluster0123456789-abcdefghijkl",
            task_definition=f"{_EXAMPLE_STACK}ContainersTaskDefinition0123456789AB",
            subnets="subnet-0123456789abcdef0,subnet-0123456789abcdef1,subnet-0123456789abcdef2",
            security_groups="sg-0123456789abcdef0",
        )
        return cls(_EXAMPLE_STACK, account, runner, data_bucket=bucket, containers=containers)

    def state_machine_arn(self, namespace: str, flow_id: str) -> str:
        return self.account.state_machine_arn(state_machine_name(self.stack_name, namespace, flow_id))

    def values(self, flow: Flow) -> dict[str, str]:
        values = {"TaskRunnerFunctionArn": self.task_runner_arn, "DataBucketName": self.data_bucket}
        if self.containers.ready:
            values.update(self.containers.values())
        for task in flow.all_tasks():
            if isinstance(task, Subflow | ForEachItem):
                placeholder = state_machine_placeholder(task.namespace, task.flow_id)[2:-1]
                values[placeholder] = self.state_machine_arn(task.namespace, task.flow_id)
        return values


@dataclass
class Measured:
    """A flow compiled and measured for one stack: what to deploy, or why it cannot be."""

    compiled: CompiledFlow | None
    definition: dict[str, Any] | None  # placeholders substituted: what is sent
    problems: list[Diagnostic] = field(default_factory=list)


def measure(flow: Flow, names: DeployNames, file: str | None = None) -> Measured:
    """Compile `flow` and check every deployment limit; problems are located at the flow's `tasks`."""
    where = _locate(flow, file)
    refused = container_problems(flow, names.containers, file)
    if refused:  # the definition cannot be completed (or would run what the cloud cannot)
        return Measured(None, None, refused)
    try:
        compiled = compile_flow(flow)
        definition = substitute(compiled.definition, names.values(flow))
    except CompileError as error:
        return Measured(None, None, [where(str(error))])
    problems = []
    sent = len(definition_text(definition).encode())
    if sent > MAX_DEFINITION_BYTES:
        problems.append(
            where(
                f"the state machine definition is {sent:,} bytes as deployed, over Step Functions' "
                f"limit of {MAX_DEFINITION_BYTES:,} bytes ({_tasks(flow)} tasks): split the flow into "
                "subflows (Subflow tasks)"
            )
        )
    record = FlowRecord(
        namespace=flow.namespace,
        flow_id=flow.id,
        revision=max(flow.revision or 1, 1),
        source=flow.source.text if flow.source is not None else "",
        source_hash="0" * 64,
        definition=compiled.definition,
    )
    stored = flow_record_size(record.model_dump_json(by_alias=True))
    if stored > MAX_RECORD_BYTES:
        problems.append(
            where(
                f"the flow's source and compiled definition take {stored // 1024:,} KiB compressed, "
                f"over the {MAX_RECORD_BYTES // 1024} KiB the execution store keeps in one flow record "
                f"({_tasks(flow)} tasks): split the flow into subflows (Subflow tasks)"
            )
        )
    if names.flow_roles:
        try:
            # A flow with scripts has them run by a role with one more inline policy (`sandboxes`).
            reserved = SANDBOX_POLICY_CHARS if runs_scripts(flow) else 0
            check_policy_size(compiled.permissions, names.account.partition, reserved)
        except CompileError as error:
            problems.append(where(str(error)))
    return Measured(compiled, definition, problems)


def _tasks(flow: Flow) -> int:
    return sum(1 for _ in flow.all_tasks())


def _locate(flow: Flow, file: str | None) -> Any:
    source = flow.source
    name = file or (source.file if source is not None else f"{flow.namespace}.{flow.id}")
    line, column = source.source_map.locate(("tasks",)) if source is not None else (1, 1)

    def where(message: str) -> Diagnostic:
        return Diagnostic(name, line, column, "tasks" if source is not None else "", message)

    return where
