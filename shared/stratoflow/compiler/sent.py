"""A definition as the deployer sends it: its `${Placeholders}` replaced by one stack's ARNs, in the
deployer's compact JSON, against Step Functions' 1,048,576 bytes.

One measure for the deployer (`cloud.deploy.limits`), `strato validate` and `strato run`
(`local.deploy`), so that a flow `strato run` accepts deploys, and all three print the same located
message for the same file. The placeholder form is smaller: a Parallel of about 1,850 one-task
branches fits 1 MB with its placeholders and is about 1.16 MB once its ARNs are in place.

Without an account (`strato validate`, `strato run`) a definition is measured with `EXAMPLE_STACK`: ARNs
as long as a standard account's can be. The flow's own revision is always measured at its longest
(the definition's Comment names it), so a definition accepted once is never larger when redeployed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stratoflow.compiler.asl import AslJson
from stratoflow.compiler.containers import (
    CLUSTER,
    PUBLIC_IP,
    SANDBOX_ROLE,
    SECURITY_GROUPS,
    SUBNETS,
    TASK_DEFINITION,
)
from stratoflow.compiler.flow import CompiledFlow, definition_comment, placeholders_of
from stratoflow.compiler.parts import MAX_DEFINITION_BYTES
from stratoflow.compiler.waits import state_machine_placeholder
from stratoflow.errors import CompileError, Diagnostic
from stratoflow.flow.model import Flow
from stratoflow.machine_names import part_state_machine_name, state_machine_arn, state_machine_name
from stratoflow.placeholders import FLOW_PART, part_placeholder
from stratoflow.tasks.native import ForEachItem, Subflow

LONGEST_VERSION = 9_999_999
"""Step Functions numbers a state machine's versions from 1; a flow redeployed every minute for years
stays under this."""


@dataclass(frozen=True)
class StackNames:
    """What a definition's placeholders become in one stack."""

    stack_name: str
    partition: str
    region: str
    account: str
    task_runner_arn: str
    data_bucket: str = ""
    # `compiler.containers`' placeholders (without `${ }`), when the stack runs containers.
    containers: Mapping[str, str] = field(default_factory=dict)
    # (namespace, flow id) -> the flow's sandbox role's ARN, its containers' task role; None: a role
    # name as long as one gets (`cloud.config.naming.sandbox_role_name`: 64 characters).
    sandbox_role: Callable[[str, str], str] | None = field(default=None, compare=False)

    def state_machine_arn(self, namespace: str, flow_id: str) -> str:
        name = state_machine_name(self.stack_name, namespace, flow_id)
        return state_machine_arn(self.partition, self.region, self.account, name)

    def part_version_arn(self, namespace: str, flow_id: str, number: int) -> str:
        """A version ARN of a part's state machine as long as it gets (version numbers keep growing)."""
        name = part_state_machine_name(self.stack_name, namespace, flow_id, number)
        return state_machine_arn(self.partition, self.region, self.account, name) + f":{LONGEST_VERSION}"

    @property
    def longest_sandbox_role(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/stratoflow/" + "S" * 64

    def values(self, flow: Flow) -> dict[str, str]:
        """Every placeholder of the flow's definition but its parts' (known once they are published)."""
        values = {"TaskRunnerFunctionArn": self.task_runner_arn, "DataBucketName": self.data_bucket}
        values.update(self.containers)
        if self.containers:
            role = (
                self.sandbox_role(flow.namespace, flow.id) if self.sandbox_role else self.longest_sandbox_role
            )
            values[SANDBOX_ROLE[2:-1]] = role
        for task in flow.all_tasks():
            if isinstance(task, Subflow | ForEachItem):
                placeholder = state_machine_placeholder(task.namespace, task.flow_id)[2:-1]
                values[placeholder] = self.state_machine_arn(task.namespace, task.flow_id)
        return values


def _example_stack() -> StackNames:
    region, account, stack = "ap-southeast-5", "123456789012", "Stratoflow"  # the longest standard region
    ecs = f"arn:aws:ecs:{region}:{account}"
    return StackNames(
        stack_name=stack,  # as long as the stack's config allows
        partition="aws",
        region=region,
        account=account,
        task_runner_arn=f"arn:aws:lambda:{region}:{account}:function:{stack}-TaskRunner-0123456789AB",
        # CDK names the bucket <stack>-databucket<hash>-<suffix>, in lower case, up to 63 characters.
        data_bucket=f"{stack.lower()}-storagedatabucket0123456789-abcdefghijkl",
        containers={
            CLUSTER[2:-1]: f"{ecs}:cluster/{stack}-ContainersCluster0123456789-abcdefghijkl",
            TASK_DEFINITION[2:-1]: f"{stack}ContainersTaskDefinition0123456789AB",
            SUBNETS[2:-1]: "subnet-0123456789abcdef0,subnet-0123456789abcdef1,subnet-0123456789abcdef2",
            SECURITY_GROUPS[2:-1]: "sg-0123456789abcdef0",
            PUBLIC_IP[2:-1]: "DISABLED",
        },
    )


EXAMPLE_STACK = _example_stack()
"""The names a definition is measured with where no account is known: `strato validate`, `strato run`."""


@dataclass
class SentFlow:
    """A compiled flow as it would be sent, or why it cannot be."""

    # Placeholders substituted, but a big flow's `${FlowPart.<n>}`: the part versions' ARNs are known
    # only once the deployer has published them (measured here at their longest).
    definition: dict[str, Any] | None
    parts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


def as_sent(compiled: CompiledFlow, flow: Flow, names: StackNames, file: str | None = None) -> SentFlow:
    """The flow's definition and parts for the stack `names`, each measured as sent against Step
    Functions' limit; problems are located at the flow's `tasks`."""
    where = locator(flow, file)
    values = names.values(flow)
    # Kept as they are here; measured below with the longest version ARN they can become.
    values.update({p[2:-1]: p for p in map(part_placeholder, range(1, len(compiled.parts) + 1))})
    try:
        definition = substitute(compiled.definition, values)
        parts = [substitute(part, values) for part in compiled.parts]
    except CompileError as error:
        return SentFlow(None, problems=[where(str(error))])
    longest = definition_comment(flow.namespace, flow.id, LONGEST_VERSION)
    problems = []
    for number, machine in enumerate([{**definition, "Comment": longest}, *parts]):
        sent = _sent_bytes(machine, flow, names)
        if sent > MAX_DEFINITION_BYTES:
            what = (
                f"part {number} of the state machine definition" if number else "the state machine definition"
            )
            tasks = sum(1 for _ in flow.all_tasks())
            problems.append(
                where(
                    f"{what} is {sent:,} bytes as deployed, over Step Functions' limit of "
                    f"{MAX_DEFINITION_BYTES:,} bytes ({tasks} tasks; one task that large alone cannot "
                    "be cut into parts): split the flow into subflows (Subflow tasks)"
                )
            )
    return SentFlow(definition, parts, problems)


def _sent_bytes(definition: dict[str, Any], flow: Flow, names: StackNames) -> int:
    """The definition's size as sent, each part's placeholder as its part's version ARN."""
    text = definition_text(definition)
    for number in range(1, text.count("${" + FLOW_PART) + 1):
        text = text.replace(part_placeholder(number), names.part_version_arn(flow.namespace, flow.id, number))
    return len(text.encode())


def locator(flow: Flow, file: str | None) -> Callable[[str], Diagnostic]:
    """A problem of the whole flow, located at its `tasks` (in `file`, else the flow's own file)."""
    source = flow.source
    name = file or (source.file if source is not None else f"{flow.namespace}.{flow.id}")
    line, column = source.source_map.locate(("tasks",)) if source is not None else (1, 1)

    def where(message: str) -> Diagnostic:
        return Diagnostic(name, line, column, "tasks" if source is not None else "", message)

    return where


def definition_text(definition: AslJson) -> str:
    """The definition exactly as the deployer sends it to Step Functions (what its limit applies to)."""
    return json.dumps(definition, separators=(",", ":"))


def substitute(definition: AslJson, values: dict[str, str]) -> AslJson:
    """The definition with `${Placeholders}` replaced; raises CompileError naming any left unresolved."""
    missing = [p for p in placeholders_of(definition) if p not in values]
    if missing:
        raise CompileError("unresolved placeholders: " + ", ".join(missing))
    text = json.dumps(definition)
    for key, value in values.items():
        text = text.replace("${" + key + "}", json.dumps(value)[1:-1])  # escaped inside a JSON string
    result: AslJson = json.loads(text)
    return result
