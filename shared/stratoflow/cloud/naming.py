"""Names of what the deployer creates, derived from (stack, namespace, flow id) alone.

Every name starts with `<StackName>-` (the prefix the stack's IAM policies grant), so the deployer,
admission and the subflow placeholders all find a flow's state machine without a lookup.

`<StackName>-<namespace>-<flowId>` is kept readable when it can be: each part keeps the characters
Step Functions allows in a name ([A-Za-z0-9_-]); any other character (a namespace's dots) becomes `_`.
Because `-` also separates the parts, a short hash of the exact (namespace, flow id) is appended
whenever the readable form could be ambiguous: a part was changed, a part holds a `-`, or the name
had to be shortened to Step Functions' 80 characters.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_STATE_MACHINE_NAME = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_HASH_LENGTH = 8


def state_machine_name(stack_name: str, namespace: str, flow_id: str) -> str:
    """The flow's state machine name: deterministic, at most 80 characters, distinct per flow."""
    parts = [_UNSAFE.sub("_", part) for part in (namespace, flow_id)]
    readable = "-".join([stack_name, *parts])
    ambiguous = parts != [namespace, flow_id] or any("-" in part for part in parts)
    if not ambiguous and len(readable) <= MAX_STATE_MACHINE_NAME:
        return readable
    digest = hashlib.sha256(f"{namespace}\n{flow_id}".encode()).hexdigest()[:_HASH_LENGTH]
    keep = MAX_STATE_MACHINE_NAME - _HASH_LENGTH - 1
    return f"{readable[:keep].rstrip('-')}-{digest}"


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
        return f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:{name}"

    def execution_arn(self, state_machine: str, execution_name: str) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account}:execution:{state_machine}:{execution_name}"


def version_number(version_arn: str) -> int:
    """The version of a state machine version ARN (`...:stateMachine:<name>:<version>`)."""
    return int(version_arn.rsplit(":", 1)[1])


def unqualified(state_machine_arn: str) -> str:
    """The state machine ARN without a version or alias qualifier."""
    parts = state_machine_arn.split(":")
    return ":".join(parts[:7])
