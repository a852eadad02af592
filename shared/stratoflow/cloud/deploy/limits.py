"""Every AWS limit a deployment meets, measured before anything is created: one place for both
`strato validate` and the deployer, so that both print the same located messages for the same file.

- The state machine definition as the deployer sends it (`compiler.definition_text`: real ARNs substituted,
  compact JSON) against Step Functions' 1,048,576 bytes.
- Each part of a big flow (`compiler.parts`) the same way, its callers naming part versions by ARN.
- The inline IAM policy of the flow's own role against IAM's 10,240 characters.

The flow record is no limit: the store keeps a large one in blob storage, the item holding its hash.

`strato validate` does not know the account: it measures with `DeployNames.example()`, ARNs as long as
a standard account's can be, and the revision number the definition's comment names at its longest,
so a definition it accepts is never larger once deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stratoflow.cloud.config.naming import AccountRegion, part_state_machine_name, state_machine_name
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
from stratoflow.errors import CompileError, Diagnostic
from stratoflow.flow import Flow
from stratoflow.placeholders import part_placeholder
from stratoflow.tasks.native import ForEachItem, Subflow

# Step Functions numbers a state machine's versions from 1; a flow redeployed every minute for years
# stays under this.
_LONGEST_VERSION = 9_999_999
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

    def part_version_arn(self, namespace: str, flow_id: str, number: int) -> str:
        """A version ARN of a part's state machine as long as it gets (version numbers keep growing)."""
        name = part_state_machine_name(self.stack_name, namespace, flow_id, number)
        return self.account.state_machine_arn(name) + f":{_LONGEST_VERSION}"

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
    # Placeholders substituted (what is sent), but a big flow's `${FlowPart.<n>}`: the part versions'
    # ARNs are known only once the deployer has published them.
    definition: dict[str, Any] | None
    problems: list[Diagnostic] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)  # as `definition`


def measure(flow: Flow, names: DeployNames, file: str | None = None) -> Measured:
    """Compile `flow` and check every deployment limit; problems are located at the flow's `tasks`."""
    where = _locate(flow, file)
    refused = container_problems(flow, names.containers, file)
    if refused:  # the definition cannot be completed (or would run what the cloud cannot)
        return Measured(None, None, refused)
    if flow.revision is None:  # `strato validate`: the definition names its revision at its longest
        flow = flow.model_copy(update={"revision": _LONGEST_VERSION})
    try:
        compiled = compile_flow(flow)
        values = names.values(flow)
        # Kept as they are here; measured below with the longest version ARN they can become.
        values.update({placeholder[2:-1]: placeholder for placeholder in _part_placeholders(compiled)})
        definition = substitute(compiled.definition, values)
        parts = [substitute(part, values) for part in compiled.parts]
    except CompileError as error:
        return Measured(None, None, [where(str(error))])
    problems = []
    for number, machine in enumerate([definition, *parts]):
        sent = _sent_bytes(machine, flow, names)
        if sent > MAX_DEFINITION_BYTES:
            what = (
                f"part {number} of the state machine definition" if number else "the state machine definition"
            )
            problems.append(
                where(
                    f"{what} is {sent:,} bytes as deployed, over Step Functions' limit of "
                    f"{MAX_DEFINITION_BYTES:,} bytes ({_tasks(flow)} tasks; one task that large alone cannot "
                    "be cut into parts): split the flow into subflows (Subflow tasks)"
                )
            )
    if names.flow_roles:
        try:
            # A flow with scripts has them run by a role with one more inline policy (`sandboxes`).
            reserved = SANDBOX_POLICY_CHARS if runs_scripts(flow) else 0
            check_policy_size(compiled.permissions, names.account.partition, reserved)
        except CompileError as error:
            problems.append(where(str(error)))
    return Measured(compiled, definition, problems, parts)


def _part_placeholders(compiled: CompiledFlow) -> list[str]:
    return [part_placeholder(number) for number in range(1, len(compiled.parts) + 1)]


def _sent_bytes(definition: dict[str, Any], flow: Flow, names: DeployNames) -> int:
    """The definition's size as sent, each part's placeholder as its part's version ARN."""
    text = definition_text(definition)
    for number in range(1, text.count("${FlowPart.") + 1):
        text = text.replace(part_placeholder(number), names.part_version_arn(flow.namespace, flow.id, number))
    return len(text.encode())


def _tasks(flow: Flow) -> int:
    return sum(1 for _ in flow.all_tasks())


def _locate(flow: Flow, file: str | None) -> Any:
    source = flow.source
    name = file or (source.file if source is not None else f"{flow.namespace}.{flow.id}")
    line, column = source.source_map.locate(("tasks",)) if source is not None else (1, 1)

    def where(message: str) -> Diagnostic:
        return Diagnostic(name, line, column, "tasks" if source is not None else "", message)

    return where
