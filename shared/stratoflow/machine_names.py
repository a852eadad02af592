"""Names and ARNs of the state machines a deployment creates, derived from (stack, namespace, flow id)
alone: kept in the kernel because the deployer names them and the compiler measures a definition with
them in place of its placeholders (`compiler.sent`), as `strato run` and `strato validate` do.

`<StackName>-<namespace>-<flowId>` is kept readable when it can be: each part keeps the characters
Step Functions allows in a name ([A-Za-z0-9_-]); any other character (a namespace's dots) becomes `_`.
Because `-` also separates the parts, a short hash of the exact (namespace, flow id) is appended
whenever the readable form could be ambiguous: a part was changed, a part holds a `-`, or the name
had to be shortened to Step Functions' 80 characters.
"""

from __future__ import annotations

import hashlib
import re

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
    keep = MAX_STATE_MACHINE_NAME - _HASH_LENGTH - 1
    return f"{readable[:keep].rstrip('-')}-{flow_digest(namespace, flow_id, _HASH_LENGTH)}"


def part_state_machine_name(stack_name: str, namespace: str, flow_id: str, number: int) -> str:
    """The state machine of part `number` of a big flow (`stratoflow.compiler.parts`): named as a flow
    whose id is `<flowId>/part<n>`, a name no flow can have ('/' is not allowed in ids), so it is always
    hashed and never meets a flow's name."""
    return state_machine_name(stack_name, namespace, f"{flow_id}/part{number}")


def state_machine_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"


def flow_digest(namespace: str, flow_id: str, length: int) -> str:
    """A hash of exactly (namespace, flow id), `length` hex digits long."""
    # A newline cannot be part of either, so ("a.b", "c") and ("a", "b.c") differ.
    return hashlib.sha256(f"{namespace}\n{flow_id}".encode()).hexdigest()[:length]
