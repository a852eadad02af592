"""Every AWS limit a deployment meets, measured before anything is created: one place for both
`strato validate` and the deployer, so that both print the same located messages for the same file.

- The state machine definition as the deployer sends it (`compiler.as_sent`: real ARNs substituted,
  compact JSON) against Step Functions' 1,048,576 bytes; `strato run` measures with the same function.
- Each part of a big flow (`compiler.parts`) the same way, its callers naming part versions by ARN.
- The inline IAM policy of the flow's own role against IAM's 10,240 characters.

The flow record is no limit: the store keeps a large one in blob storage, the item holding its hash.

`strato validate` does not know the account: it measures with `DeployNames.example()`
(`compiler.EXAMPLE_STACK`), ARNs as long as a standard account's can be; every caller measures the
revision number the definition's comment names at its longest, so a definition accepted once is never
larger once deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stratoflow.cloud.config.naming import AccountRegion, sandbox_role_name
from stratoflow.cloud.deploy.containers import ContainerStack, container_problems
from stratoflow.cloud.deploy.flow_roles import check_policy_size
from stratoflow.cloud.deploy.sandboxes import (
    CONTAINER_POLICY_CHARS,
    SANDBOX_POLICY_CHARS,
    runs_containers,
    runs_scripts,
)
from stratoflow.compiler import EXAMPLE_STACK, StackNames, as_sent, compile_flow
from stratoflow.compiler.containers import CLUSTER, SECURITY_GROUPS, SUBNETS, TASK_DEFINITION
from stratoflow.compiler.flow import CompiledFlow
from stratoflow.compiler.sent import locator
from stratoflow.errors import CompileError, Diagnostic
from stratoflow.flow import Flow


@dataclass(frozen=True)
class DeployNames:
    """What a definition's placeholders become in one stack, and what else its limits depend on."""

    stack_name: str
    account: AccountRegion
    task_runner_arn: str
    flow_roles: bool = True
    data_bucket: str = ""
    containers: ContainerStack = field(default_factory=ContainerStack)

    @classmethod
    def example(cls) -> DeployNames:
        """`compiler.EXAMPLE_STACK`: the names `strato run` measures with too."""
        names = EXAMPLE_STACK
        containers = ContainerStack(
            cluster_arn=names.containers[CLUSTER[2:-1]],
            task_definition=names.containers[TASK_DEFINITION[2:-1]],
            subnets=names.containers[SUBNETS[2:-1]],
            security_groups=names.containers[SECURITY_GROUPS[2:-1]],
        )
        account = AccountRegion(names.partition, names.region, names.account)
        return cls(
            names.stack_name,
            account,
            names.task_runner_arn,
            data_bucket=names.data_bucket,
            containers=containers,
        )

    def stack(self) -> StackNames:
        account = self.account
        return StackNames(
            self.stack_name,
            account.partition,
            account.region,
            account.account,
            self.task_runner_arn,
            self.data_bucket,
            self.containers.values() if self.containers.ready else {},
            # The flow's sandbox role: its containers' task role (`cloud.deploy.sandboxes`).
            lambda namespace, flow_id: (
                self.account.roles_arn() + sandbox_role_name(self.stack_name, namespace, flow_id)
            ),
        )

    def state_machine_arn(self, namespace: str, flow_id: str) -> str:
        return self.stack().state_machine_arn(namespace, flow_id)

    def part_version_arn(self, namespace: str, flow_id: str, number: int) -> str:
        """A version ARN of a part's state machine as long as it gets (version numbers keep growing)."""
        return self.stack().part_version_arn(namespace, flow_id, number)

    def values(self, flow: Flow) -> dict[str, str]:
        return self.stack().values(flow)


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
    where = locator(flow, file)
    refused = container_problems(flow, names.containers, file)
    if refused:  # the definition cannot be completed (or would run what the cloud cannot)
        return Measured(None, None, refused)
    try:
        compiled = compile_flow(flow)
    except CompileError as error:
        return Measured(None, None, [where(str(error))])
    sent = as_sent(compiled, flow, names.stack(), file)
    if sent.definition is None:
        return Measured(None, None, sent.problems)
    problems = sent.problems
    if names.flow_roles:
        try:
            # A flow with scripts has them run by a role with one more inline policy (`sandboxes`).
            reserved = SANDBOX_POLICY_CHARS if runs_scripts(flow) else 0
            reserved += CONTAINER_POLICY_CHARS if runs_containers(flow) else 0
            check_policy_size(compiled.permissions, names.account.partition, reserved)
        except CompileError as error:
            problems.append(where(str(error)))
    return Measured(compiled, sent.definition, problems, sent.parts)
