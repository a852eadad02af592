"""Names of what the deployer creates, derived from (stack, namespace, flow id) alone.

Every name starts with `<StackName>-` (the prefix the stack's IAM policies grant), so the deployer,
admission and the subflow placeholders all find a flow's state machine without a lookup.

State machine names (`<StackName>-<namespace>-<flowId>`, hashed when ambiguous) live in the kernel's
`machine_names`, where the compiler measures definitions with them too; this module names the rest.

A flow's own IAM role (see `flow_roles`) cannot be readable: IAM allows 64 characters. It is
`<StackName>-flow-<hash of (namespace, flow id)>` under the path `/stratoflow/`, the prefix the stack
grants the deployer (create, delete) and the task runner (assume).
"""

from __future__ import annotations

from dataclasses import dataclass

# State machine names are re-exported (`as`): the cloud names every resource it creates from here.
from stratoflow.machine_names import flow_digest
from stratoflow.machine_names import part_state_machine_name as part_state_machine_name
from stratoflow.machine_names import state_machine_arn as _state_machine_arn
from stratoflow.machine_names import state_machine_name as state_machine_name

MAX_ROLE_NAME = 64
FLOW_ROLE_PATH = "/stratoflow/"
# 64 bits: two flows of one stack never meet, and `<40-character stack>-flow-<16>` fits in 64.
_ROLE_HASH_LENGTH = 16


def flow_role_prefix(stack_name: str) -> str:
    """What every flow role's name starts with (the stack's IAM grants end it with `*`)."""
    return f"{stack_name}-flow-"


def flow_role_name(stack_name: str, namespace: str, flow_id: str) -> str:
    """The name of the flow's own role: `<StackName>-flow-<16 hex digits>`, at most 64 characters."""
    name = flow_role_prefix(stack_name) + flow_digest(namespace, flow_id, _ROLE_HASH_LENGTH)
    if len(name) > MAX_ROLE_NAME:
        raise ValueError(f"stack name {stack_name!r} is too long for IAM role names (40 characters at most)")
    return name


def pipe_role_prefix(stack_name: str) -> str:
    """What every pipe role's name starts with: the role the pipes of one flow's SQS triggers assume."""
    return f"{stack_name}-pipe-"


def pipe_role_name(stack_name: str, namespace: str, flow_id: str) -> str:
    """The name of the role of the flow's pipes: `<StackName>-pipe-<16 hex digits>`, under `/stratoflow/`."""
    return pipe_role_prefix(stack_name) + flow_digest(namespace, flow_id, _ROLE_HASH_LENGTH)


def flow_role_arn(roles_arn: str, stack_name: str, namespace: str, flow_id: str) -> str:
    """The flow role's ARN, from the ARN of the roles' path (`arn:aws:iam::<account>:role/stratoflow/`)."""
    return roles_arn + flow_role_name(stack_name, namespace, flow_id)


# A flow's script sandbox (`cloud.deploy.sandboxes`): its function `<StackName>-sbx-<hash>` (Lambda
# allows 64 characters) and its own role, the flow role's name with `-s`: under the flow roles' prefix
# (the deployer's grants, teardown), yet never a flow role (those end with a hex digit).
SANDBOX_ROLE_SUFFIX = "-s"


def sandbox_function_prefix(stack_name: str) -> str:
    """What every sandbox function's name starts with."""
    return f"{stack_name}-sbx-"


def sandbox_function_name(stack_name: str, namespace: str, flow_id: str) -> str:
    """The flow's script sandbox function: `<StackName>-sbx-<16 hex digits>`, at most 61 characters."""
    return sandbox_function_prefix(stack_name) + flow_digest(namespace, flow_id, _ROLE_HASH_LENGTH)


def boundary_policy_name(stack_name: str, key: str) -> str:
    """A flow-role boundary built on an operator's policy (`cloud.deploy.flow_boundaries`)."""
    return f"{stack_name}-flow-boundary-{key}"


def sandbox_role_name(stack_name: str, namespace: str, flow_id: str) -> str:
    """The role the flow's sandbox function runs with: `<StackName>-flow-<hash>-s`, at most 64."""
    return flow_role_name(stack_name, namespace, flow_id)[: MAX_ROLE_NAME - len(SANDBOX_ROLE_SUFFIX)] + (
        SANDBOX_ROLE_SUFFIX
    )


def alarm_name(stack_name: str, namespace: str, flow_id: str, metric: str) -> str:
    """`<StackName>-<ns>-<flow>-<metric>`: the state machine's name and the metric it watches."""
    return f"{state_machine_name(stack_name, namespace, flow_id)}-{metric}"


def alarm_prefix(stack_name: str, namespace: str, flow_id: str) -> str:
    """What every alarm of one flow's name starts with."""
    return f"{state_machine_name(stack_name, namespace, flow_id)}-"


@dataclass(frozen=True)
class AccountRegion:
    """Partition, region and account: what an ARN needs besides the resource."""

    partition: str
    region: str
    account: str

    @classmethod
    def from_arn(cls, arn: str) -> AccountRegion:
        """Read them from any ARN of the account (the task runner's, a role's, a function's)."""
        parts = arn.split(":")
        if len(parts) < 6 or parts[0] != "arn":
            raise ValueError(f"not an ARN: {arn!r}")
        return cls(partition=parts[1], region=parts[3], account=parts[4])

    def state_machine_arn(self, name: str) -> str:
        return _state_machine_arn(self.partition, self.region, self.account, name)

    def roles_arn(self, path: str = FLOW_ROLE_PATH) -> str:
        """The ARN prefix of the roles under `path`: a role's ARN is this followed by its name."""
        return f"arn:{self.partition}:iam::{self.account}:role{path}"

    def pipe_arn(self, name: str) -> str:
        return f"arn:{self.partition}:pipes:{self.region}:{self.account}:pipe/{name}"

    def execution_arn(self, state_machine: str, execution_name: str) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account}:execution:{state_machine}:{execution_name}"


def version_number(version_arn: str) -> int:
    """The version of a state machine version ARN (`...:stateMachine:<name>:<version>`)."""
    return int(version_arn.rsplit(":", 1)[1])


def unqualified(state_machine_arn: str) -> str:
    """The state machine ARN without a version or alias qualifier."""
    parts = state_machine_arn.split(":")
    return ":".join(parts[:7])
